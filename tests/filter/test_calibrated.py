"""The filter on a hard many-class stand-in: a fixed 0.5 starves classes, the calibrated rule keeps real's pass rate.

Five ordinal classes told apart only by a small shift of mean brightness under heavy texture noise: a
classifier trained on them is weak (as on fundus grades), so for the middle classes even real images
seldom get probability 0.5. The synthetic set here is drawn from the same distribution as the real images
(a perfect generator), so a fair filter should keep about as many of them as of the real ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthmed.dataset import DatasetWriter, PreparedDataset
from synthmed.filter.filtering import calibrated_thresholds, filter_synthetic
from synthmed.metrics.features import DomainCNNConfig

K = 5
CNN = DomainCNNConfig(epochs=8)  # the classifier of the filter, trained briefly: weak, as on the real data


def _hard_image(label: int, rng: np.random.Generator) -> np.ndarray:
    base = 90 + 12 * label  # classes 12 grey levels apart under noise of sd 40
    return np.clip(base + rng.normal(0, 40, (16, 16)), 0, 255).round().astype(np.uint8)


def _write(out: Path, per_split: dict[str, int], seed: int) -> PreparedDataset:
    rng = np.random.default_rng(seed)
    with DatasetWriter(out, [f"grade{k}" for k in range(K)], 16, 1) as w:
        for split, n in per_split.items():
            for k in range(K):
                for _ in range(n):
                    w.add(_hard_image(k, rng), k, split)
        w.finish(source={"type": "test"}, preprocessing={})
    return PreparedDataset.open(out)


@pytest.fixture(scope="module")
def hard(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hard")
    real = _write(root / "real", {"train": 40, "val": 40}, seed=0)
    syn = _write(root / "syn", {"train": 40}, seed=1)
    return real, syn, root


def test_fixed_threshold_starves_calibrated_keeps_real_rate(hard) -> None:
    real, syn, root = hard
    old = filter_synthetic(str(syn.root), str(real.root), root / "old", min_confidence=0.5, real_pass_rate=None,
                           drop_near_copies=False, cache_dir=root / "cache", progress=False, domain_cnn=CNN)
    new = filter_synthetic(str(syn.root), str(real.root), root / "new", drop_near_copies=False,
                           cache_dir=root / "cache", progress=False, domain_cnn=CNN)
    old_rates = [row["kept"] / row["total"] for row in old["per_class"].values()]
    assert min(old_rates) < 0.25  # the old rule all but empties a class
    for name, row in new["per_class"].items():
        assert row["real_pass_rate"] >= 0.9  # by construction: 90 % of real val images of the class pass
        assert row["synthetic_pass_rate"] >= 0.65, (name, row)  # and about as many of the synthetic ones
    assert new["kept"] >= 0.8 * sum(row["total"] for row in new["per_class"].values())


def test_calibrated_thresholds_hand_computed() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.05, 0.5])
    labels = np.array([0] * 10 + [1, 1])
    thr = calibrated_thresholds(scores, labels, 3, 0.9)
    assert thr[0] == pytest.approx(0.1)  # 9 of 10 at or above 0.2 would be 90 % too; "lower" keeps >= 90 %
    assert (scores[labels == 0] >= thr[0]).mean() >= 0.9
    assert thr[1] == pytest.approx(0.05) and thr[2] == -np.inf  # no real images of class 2: no rule
    assert calibrated_thresholds(scores, labels, 3, 0.5)[0] == pytest.approx(0.5)
    assert (calibrated_thresholds(scores, labels, 3, None) == -np.inf).all()
