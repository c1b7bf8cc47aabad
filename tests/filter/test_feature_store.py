"""One feature store: ``synthmed metrics`` then ``synthmed filter`` extract each dataset split once, audit once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from synthmed.dataset import DatasetWriter
from synthmed.filter.filtering import filter_synthetic
from synthmed.metrics import features as feat_mod
from synthmed.metrics import memorization
from synthmed.metrics.compute import compute_metrics
from tests.conftest import make_class_image, write_toy_dataset


def test_metrics_and_filter_share_one_extraction_per_set(tmp_path: Path, monkeypatch) -> None:
    real = write_toy_dataset(tmp_path / "real", {"train": [16, 16], "val": [8, 8], "test": [4, 4]}, resolution=16)
    rng = np.random.default_rng(3)
    with DatasetWriter(tmp_path / "syn", real.classes, 16, 1) as w:
        for i in range(20):
            w.add(make_class_image(i % 2, 16, 1, rng), i % 2, "train")
        w.finish(source={"type": "test"}, preprocessing={})

    calls: Counter[int] = Counter()  # images per extraction call -> how often
    audits = []
    real_outputs, real_audit = feat_mod.extractor_outputs, memorization.check_memorization
    monkeypatch.setattr(feat_mod, "extractor_outputs",
                        lambda ex, x, *a, **k: calls.update([len(x)]) or real_outputs(ex, x, *a, **k))
    monkeypatch.setattr(memorization, "check_memorization",
                        lambda *a, **k: audits.append(1) or real_audit(*a, **k))
    cache = tmp_path / "cache"
    result = compute_metrics(f"{real.root}:train", str(tmp_path / "syn"), cache_dir=cache, skip=("frd", "inception"),
                             progress=False, kid_subsets=5, msssim_pairs=5, max_images=10, out_dir=tmp_path)
    after_metrics = dict(calls)
    # whole splits, whatever the metrics' sample: real train, synthetic, real val (the reference row)
    assert after_metrics == {32: 1, 20: 1, 16: 1}
    assert (tmp_path / "memorization_pairs.png").is_file()
    summary = filter_synthetic(str(tmp_path / "syn"), str(real.root), tmp_path / "kept", cache_dir=cache,
                               progress=False)
    assert dict(calls) == after_metrics  # the filter extracted nothing itself
    assert len(audits) == 1  # one memorization audit, read by both
    flagged = set(result["info"]["memorization"]["flagged_fake_indices"])
    assert sum(row["near_copy"] for row in summary["per_class"].values()) <= len(flagged)
