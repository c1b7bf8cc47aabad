"""``synthmed metrics --per-class``: the reference row (real train vs real val) per class, printed and saved."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthmed.metrics.commands import REFERENCE_LABEL, render
from synthmed.metrics.compute import compute_metrics
from synthmed.metrics.features import DomainCNNConfig, domain_cnn_for, extract
from synthmed.metrics.frechet import frechet_from_features
from tests.conftest import write_toy_dataset


def test_reference_row_is_train_vs_val_per_class(tmp_path: Path) -> None:
    real = write_toy_dataset(tmp_path / "real", {"train": [12, 12], "val": [8, 8]}, resolution=16, seed=0)
    fake = write_toy_dataset(tmp_path / "fake", {"train": [10, 10]}, resolution=16, seed=1)
    cache = tmp_path / "cache"
    result = compute_metrics(f"{real.root}:train", str(fake.root), cache_dir=cache, skip=("frd", "inception"),
                             progress=False, kid_subsets=5, msssim_pairs=10)
    ref = result["reference"]
    assert ref["n_val_per_class"] == {"class0": 8, "class1": 8}
    assert set(ref["per_class"]) == {"class0", "class1"}
    # the same numbers as computing train-vs-val by hand with the same (cached) domain CNN
    model, _ = domain_cnn_for(real, cache, DomainCNNConfig(seed=0), progress=False)
    for k, name in enumerate(real.classes):
        x_train = real.load_tensor("train", np.flatnonzero(real.labels("train") == k))[0]
        x_val = real.load_tensor("val", np.flatnonzero(real.labels("val") == k))[0]
        expected = frechet_from_features(extract(model, x_train), extract(model, x_val))
        assert ref["per_class"][name]["fid_domain"] == pytest.approx(expected, rel=1e-6)
        assert ref["per_class"][name]["ms_ssim_fake"] is not None  # the val images' own diversity
    table = render(result)
    assert table.count(REFERENCE_LABEL) == 3  # overall and each class
    lines = table.splitlines()
    assert lines[lines.index(next(ln for ln in lines if ln.startswith("class1"))) + 1].startswith(REFERENCE_LABEL)
    assert compute_metrics(f"{real.root}:train", str(fake.root), per_class=False, cache_dir=cache,
                           skip=("frd", "inception"), progress=False, kid_subsets=5,
                           msssim_pairs=10)["reference"] is None
