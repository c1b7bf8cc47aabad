"""Stratified bootstrap CIs: estimates equal scikit-learn's, intervals are reproducible and stratified."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import recall_score, roc_auc_score

from synthmed.stats.bootstrap import auc_from_ranks, bootstrap_metrics


def _data(seed: int = 0, n_pos: int = 30, n_neg: int = 50):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(bool)
    a = np.round(rng.normal(size=y.size) + 1.5 * y, 1)
    b = np.round(rng.normal(size=y.size) + 0.5 * y, 1)
    return y, a, b


def test_auc_from_ranks_equals_sklearn() -> None:
    y, a, _ = _data()
    assert auc_from_ranks(a[y], a[~y]) == pytest.approx(roc_auc_score(y, a))


def test_estimates_are_the_full_sample_metrics() -> None:
    y, a, b = _data()
    pred = np.stack([a > 0.7, b > 0.2])
    out = bootstrap_metrics(y, np.stack([a, b]), pred, np.random.default_rng(0), n_boot=2000)
    for i, s in enumerate((a, b)):
        m = out["models"][i]
        assert m["auc"]["estimate"] == pytest.approx(roc_auc_score(y, s))
        assert m["sensitivity"]["estimate"] == pytest.approx(recall_score(y, pred[i]))
        assert m["specificity"]["estimate"] == pytest.approx(recall_score(~y, ~pred[i]))
        for block in m.values():
            assert block["ci_low"] <= block["estimate"] <= block["ci_high"]
    d = out["difference"]["auc"]
    assert d["estimate"] == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    assert out["n_boot"] == 2000


def test_same_generator_seed_same_intervals() -> None:
    y, a, b = _data()
    args = (y, np.stack([a, b]), np.stack([a > 0, b > 0]))
    one = bootstrap_metrics(*args, np.random.default_rng(7), n_boot=2000)
    two = bootstrap_metrics(*args, np.random.default_rng(7), n_boot=2000)
    other = bootstrap_metrics(*args, np.random.default_rng(8), n_boot=2000)
    assert one == two
    assert one["models"][0]["auc"]["ci_low"] != other["models"][0]["auc"]["ci_low"]


def test_resamples_are_stratified() -> None:
    # Every positive predicted positive: a stratified resample always holds only positives in the positive
    # stratum, so sensitivity is 1 in every resample and its interval is exactly [1, 1].
    y, a, _ = _data(n_pos=5, n_neg=100)
    out = bootstrap_metrics(y, a[None, :], (y | (a > 5))[None, :], np.random.default_rng(0), n_boot=2000)
    sens = out["models"][0]["sensitivity"]
    assert sens["ci_low"] == sens["ci_high"] == 1.0
    assert "difference" not in out


def test_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="one positive and one negative"):
        bootstrap_metrics(np.ones(4, bool), np.ones((1, 4)), np.ones((1, 4), bool), np.random.default_rng(0))
