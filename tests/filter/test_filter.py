"""synthmed filter: planted training images are removed; confidence and realism thresholds act; outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from synthmed.dataset import DatasetWriter, PreparedDataset
from synthmed.filter.filtering import _worst_fraction, filter_synthetic
from tests.conftest import make_class_image, write_toy_dataset

PLANTED = [1, 4, 9, 15, 22]


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[PreparedDataset, PreparedDataset, Path]:
    root = tmp_path_factory.mktemp("filter")
    real = write_toy_dataset(root / "real", {"train": [20, 20], "test": [10, 10]}, resolution=32, seed=0)
    rng = np.random.default_rng(9)
    train = real.load_images("train")[:, :, :, 0]
    with DatasetWriter(root / "syn", real.classes, 32, 1) as w:
        for i in range(24):
            w.add(make_class_image(i % 2, 32, 1, rng), i % 2, "train", seed=i)
        for i in PLANTED:  # exact copies of training images: must never survive the filter
            w.add(train[i], int(real.labels("train")[i]), "train", seed=1000 + i)
        w.finish(source={"type": "test"}, preprocessing={})
    return real, PreparedDataset.open(root / "syn"), root / "cache"


def test_planted_copies_removed(toy, tmp_path: Path) -> None:
    real, syn, cache = toy
    out = tmp_path / "kept"
    summary = filter_synthetic(str(syn.root), f"{real.root}:test", out, real_pass_rate=None, cache_dir=cache,
                               progress=False)
    rows = list(csv.DictReader((out / "filter_scores.csv").open()))
    assert len(rows) == 29
    for row in rows[24:]:
        assert row["decision"] == "remove" and "near_copy" in row["reasons"], row
    kept = PreparedDataset.open(out)
    assert len(kept.entries("train")) == summary["kept"] == 29 - summary["removed"]
    assert all(e["seed"] < 1000 for e in kept.entries("train"))  # provenance fields kept; no planted copy
    assert {"filter_confidence", "filter_realism", "source_path"} <= set(kept.entries("train")[0])
    config = json.loads((out / "filter_config.json").read_text())
    assert config["drop_near_copies"] is True and config["seed"] == 0


def test_confidence_and_realism_thresholds(toy, tmp_path: Path) -> None:
    real, syn, cache = toy
    filter_synthetic(str(syn.root), str(real.root), tmp_path / "all", real_pass_rate=None, drop_near_copies=False,
                     cache_dir=cache, progress=False)
    confidence = np.array([float(r["confidence"]) for r in csv.DictReader((tmp_path / "all" / "filter_scores.csv")
                                                                           .open())])
    ordered = np.sort(confidence)
    threshold = float(ordered[14] + ordered[15]) / 2  # between two values: the CSV rounds to 6 decimals
    summary = filter_synthetic(str(syn.root), str(real.root), tmp_path / "strict", min_confidence=threshold,
                               real_pass_rate=None, drop_near_copies=False, cache_dir=cache, progress=False)
    assert summary["kept"] == int((confidence >= threshold).sum())
    summary = filter_synthetic(str(syn.root), str(real.root), tmp_path / "realism", real_pass_rate=None,
                               drop_worst_realism=0.25, drop_near_copies=False, cache_dir=cache, progress=False)
    per_class = summary["per_class"]
    assert [per_class[c]["unrealistic"] for c in real.classes] == [int(0.25 * per_class[c]["total"])
                                                                    for c in real.classes]


def test_worst_fraction_per_class() -> None:
    realism = np.array([0.1, 0.9, 0.5, 0.2, 0.8, 0.3])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert _worst_fraction(realism, labels, 0.34).tolist() == [True, False, False, True, False, False]
    assert not _worst_fraction(realism, labels, 0.0).any()


def test_cli_prints_counts(toy, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from synthmed.cli import main

    real, syn, cache = toy
    with pytest.raises(SystemExit) as exc:
        main(["filter", "--synthetic", str(syn.root), "--real", str(real.root), "--out", str(tmp_path / "o"),
              "--real-pass-rate", "0", "--cache-dir", str(cache)])
    assert exc.value.code in (0, None)
    printed = capsys.readouterr().out
    assert "near_copy" in printed and "kept" in printed
    with pytest.raises(SystemExit) as exc:
        main(["filter", "--synthetic", str(syn.root), "--real", str(real.root), "--out", str(tmp_path / "o2"),
              "--min-confidence", "2"])
    assert exc.value.code == 1
