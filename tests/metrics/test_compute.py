"""compute_metrics end to end on toy data: keys, planted copies, offline Inception note, domain-metric order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from synthmed.dataset import PreparedDataset
from synthmed.metrics.compute import METRIC_KEYS, compute_metrics
from synthmed.metrics.features import DomainCNNConfig, domain_cnn_for, extract
from synthmed.metrics.frechet import frechet_from_features
from synthmed.metrics.kid import kid_from_features
from tests.conftest import make_class_image, write_toy_dataset
from tests.metrics.conftest import add_noise, blur, write_images

PLANTED = [0, 3, 7, 12, 20]  # training images copied into the synthetic set


@pytest.fixture(scope="module")
def toy_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[PreparedDataset, PreparedDataset]:
    root = tmp_path_factory.mktemp("toy_metrics")
    real = write_toy_dataset(root / "real", {"train": [20, 20], "test": [12, 12]}, resolution=32, seed=0)
    rng = np.random.default_rng(5)
    labels = np.array([0] * 15 + [1] * 15)
    images = [make_class_image(int(k), 32, 1, rng) for k in labels]
    train_imgs = real.load_images("train")[:, :, :, 0]
    train_labels = real.labels("train")
    for i in PLANTED:  # plant exact copies of patients' images
        images.append(train_imgs[i])
        labels = np.append(labels, train_labels[i])
    fake = write_images(root / "fake", np.stack(images), labels, real.classes)
    return real, fake


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One feature cache for the module: the domain CNN is trained once."""
    return tmp_path_factory.mktemp("cache")


def test_compute_metrics_toy(toy_pair, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real, fake = toy_pair
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    result = compute_metrics(f"{real.root}:test", str(fake.root), out_dir=tmp_path, allow_download=False,
                             cache_dir=cache, skip=("frd",), progress=False, kid_subsets=10,
                             msssim_pairs=20)
    assert set(result["overall"]) == set(METRIC_KEYS)
    assert set(result["per_class"]) == set(real.classes)
    for key in ("fid_domain", "kid_domain", "precision", "recall", "density", "coverage", "ms_ssim_real",
                "ms_ssim_fake", "memorized_fraction"):
        assert result["overall"][key] is not None, key
    # every planted training image is flagged as a near copy
    flagged = set(result["info"]["memorization"]["flagged_fake_indices"])
    assert set(range(30, 35)) <= flagged
    assert "privacy" in result["notes"]["memorized_fraction"]
    assert (tmp_path / "memorization_pairs.png").stat().st_size > 1000
    # no weights offline: the three Inception metrics are null with a one-line note naming the file and place
    for key in ("fid_inception", "kid_inception", "inception_score"):
        assert result["overall"][key] is None
        note = result["notes"][key]
        assert "\n" not in note and "pt_inception-2015-12-05-6726825d.pth" in note
        assert str(tmp_path / "torch_home" / "hub" / "checkpoints") in note
    json.dumps(result)  # JSON-able as is
    from synthmed.metrics.result import MetricsResult

    assert MetricsResult.model_validate(result).as_dict() == result  # the record the pipeline keeps, field for field


def test_cli_writes_json_and_prints_table(toy_pair, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture) -> None:
    from synthmed.cli import main

    real, fake = toy_pair
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("SYNTHMED_OFFLINE", "1")
    out = tmp_path / "m" / "metrics.json"
    with pytest.raises(SystemExit) as exc:
        main(["metrics", "--real", f"{real.root}:test", "--fake", str(fake.root), "--out", str(out), "--skip", "frd",
              "--cache-dir", str(cache)])
    assert exc.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "overall" in printed and "FID dom" in printed and "privacy" in printed
    saved = json.loads(out.read_text())
    assert saved["overall"]["fid_inception"] is None and saved["per_class"]
    assert (out.parent / "memorization_pairs.png").is_file()


def test_missing_dataset_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from synthmed.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["metrics", "--real", str(tmp_path / "nope"), "--fake", str(tmp_path / "nope")])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nope" in err


def test_domain_metrics_order_identical_blur_noise(toy_pair, tmp_path: Path) -> None:
    real, _ = toy_pair
    model, _ = domain_cnn_for(real, tmp_path, DomainCNNConfig(epochs=4), progress=False)
    test_u8 = real.load_images("test")[:, :, :, 0]

    def feats(images: np.ndarray) -> np.ndarray:
        return extract(model, torch.from_numpy(images[:, None].astype(np.float32) / 127.5 - 1.0))

    ref = feats(test_u8)
    fid = {name: frechet_from_features(ref, feats(imgs)) for name, imgs in
           (("same", test_u8), ("blur1", blur(test_u8, 1.0)), ("blur3", blur(test_u8, 3.0)),
            ("noise1", add_noise(test_u8, 10)), ("noise3", add_noise(test_u8, 60)))}
    kid = {name: kid_from_features(ref, feats(imgs), subsets=1)[0] for name, imgs in
           (("blur1", blur(test_u8, 1.0)), ("blur3", blur(test_u8, 3.0)),
            ("noise1", add_noise(test_u8, 10)), ("noise3", add_noise(test_u8, 60)))}
    assert fid["same"] == pytest.approx(0.0, abs=1e-6)
    assert fid["same"] < fid["blur1"] < fid["blur3"]
    assert fid["same"] < fid["noise1"] < fid["noise3"]
    assert kid["blur1"] < kid["blur3"] and kid["noise1"] < kid["noise3"]
