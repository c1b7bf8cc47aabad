"""pix2pix and injection as GAN families: run folders, grids, stats, exact resume, option checks."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from synthmed.errors import SynthmedError
from synthmed.gan.checkpoint import load_checkpoint, load_generator
from synthmed.gan.train import TrainConfig, read_stats, train_gan
from tests.lesion.helpers import write_lesion_dataset

TINY = {"width": 4, "max_width": 16, "batch": 4, "progress": False, "tick_kimg": 0.008, "snapshot_kimg": 0.016}


@pytest.fixture(scope="module")
def lesions32(tmp_path_factory):
    return write_lesion_dataset(tmp_path_factory.mktemp("data") / "les32", {"train": [6, 6]}, resolution=32)


@pytest.mark.parametrize(("arch", "rows", "logged"), [("pix2pix", 3, "l1"), ("inject", 4, "reconstruction")])
def test_mask_families_train_and_write_their_run_folder(lesions32, tmp_path, arch, rows, logged) -> None:
    run = train_gan(TrainConfig(data=str(lesions32.root), arch=arch, out=str(tmp_path), kimg=0.032, **TINY))
    assert run.name == f"00000-{arch}-les3232"  # the dataset folder's name and the resolution
    stats = read_stats(run)
    assert stats[-1]["kimg"] >= 0.032 and all(logged in s and torch.isfinite(torch.tensor(s[logged])) for s in stats)
    assert all(-1 <= s["d_grad_cos"] <= 1 for s in stats)
    with Image.open(sorted((run / "grids").glob("grid-*.png"))[-1]) as im:  # rows of 8 fixed examples
        assert im.size == (8 * 34 + 2, rows * 34 + 2)
    G, meta = load_generator(run)
    assert meta["arch"] == arch and meta["z_dim"] == 0
    ck, _ = load_checkpoint(run)
    assert ck["config"]["z_dim"] == 0 and ck["meta"]["net_kwargs"]["width"] == 4
    if arch == "inject":  # the real lesions' intensity per class reached G_ema: light lesions 0.45, dark 0.2
        assert 0.3 < float(G.intensity_stats[0, 0]) < 0.5 and 0.1 < float(G.intensity_stats[1, 0]) < 0.3


@pytest.mark.parametrize("arch", ["pix2pix", "inject"])
def test_mask_family_resume_is_exact(lesions32, tmp_path, arch) -> None:
    n = 0.032
    kw = {**TINY, "snapshot_kimg": 1.0}
    straight = train_gan(TrainConfig(data=str(lesions32.root), arch=arch, out=str(tmp_path / "a"), kimg=n, **kw))
    half = train_gan(TrainConfig(data=str(lesions32.root), arch=arch, out=str(tmp_path / "b"), kimg=n / 2, **kw))
    resumed = train_gan(TrainConfig(resume=str(half), kimg=n, progress=False))
    a, _ = load_checkpoint(straight)
    b, _ = load_checkpoint(resumed)
    assert a["nimg"] == b["nimg"] == round(n * 1000)
    for part in ("G", "D", "G_ema"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), f"{part}.{name} differs after resume"


def test_mask_families_refuse_data_without_masks_and_d_augmentation(toy32, lesions32, tmp_path) -> None:
    with pytest.raises(SynthmedError, match="needs a mask for every training image"):
        train_gan(TrainConfig(data=str(toy32.root), arch="pix2pix", out=str(tmp_path), kimg=0.008, **TINY))
    with pytest.raises(SynthmedError, match="--aug diffaug: pix2pix"):
        train_gan(TrainConfig(data=str(lesions32.root), arch="pix2pix", aug="diffaug", out=str(tmp_path),
                              kimg=0.008, **TINY))
    with pytest.raises(SynthmedError, match="power-of-two"):
        train_gan(TrainConfig(data=str(lesions32.root), arch="inject", resolution=48, out=str(tmp_path),
                              kimg=0.008, **TINY))


def test_pix2pix_in_training_fidelity_metric_uses_the_training_masks(lesions32, tmp_path, monkeypatch) -> None:
    """--metric-every-kimg on pix2pix: domain FID of images drawn for the training masks, logged, picks best.pt."""
    from synthmed.gan.fidelity import domain_fid_hook

    monkeypatch.setenv("SYNTHMED_CACHE", str(tmp_path / "cache"))
    cfg = TrainConfig(data=str(lesions32.root), arch="pix2pix", out=str(tmp_path / "runs"), kimg=0.016,
                      metric_every_kimg=0.008, **TINY)
    run = train_gan(cfg, metric_fn=domain_fid_hook(cfg))
    fids = [s["fid_domain"] for s in read_stats(run) if "fid_domain" in s]
    assert len(fids) == 2 and all(f >= 0 for f in fids)
    best, _ = load_checkpoint(run, prefer="best")
    assert best["best"]["value"] == min(fids)
