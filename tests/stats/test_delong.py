"""DeLong (Sun & Xu midrank algorithm) against hand-worked values, scikit-learn's AUC and the bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from synthmed.stats.bootstrap import bootstrap_metrics
from synthmed.stats.delong import delong_covariance, delong_roc_variance, delong_test, structural_components

# 3 positives, 2 negatives (label 1 first).
Y = np.array([1, 1, 1, 0, 0])
A = np.array([0.9, 0.6, 0.4, 0.5, 0.3])
B = np.array([0.8, 0.2, 0.7, 0.1, 0.75])


def test_hand_worked_single_auc() -> None:
    # psi(X_i, Y_j) for X = (.9, .6, .4), Y = (.5, .3): rows (1, 1), (1, 1), (0, 1).
    # V10 = (1, 1, 1/2), V01 = (2/3, 1), AUC = 5/6.
    # S10 = var(1, 1, 1/2) = 1/12, S01 = var(2/3, 1) = 1/18 (ddof 1); var = S10/3 + S01/2 = 1/36 + 1/36 = 1/18.
    auc, v10, v01 = structural_components(Y, A)
    np.testing.assert_allclose(v10[0], [1, 1, 0.5])
    np.testing.assert_allclose(v01[0], [2 / 3, 1])
    auc, var = delong_roc_variance(Y, A)
    assert auc == pytest.approx(5 / 6)
    assert var == pytest.approx(1 / 18)


def test_hand_worked_with_a_tie() -> None:
    # X = (.9, .5, .4), Y = (.5, .3): the tie .5 vs .5 counts 1/2. V10 = (1, 3/4, 1/2), V01 = (1/2, 1).
    # AUC = 3/4; var = var(V10)/3 + var(V01)/2 = (1/16)/3 + (1/8)/2 = 1/48 + 1/16 = 1/12.
    auc, var = delong_roc_variance(Y, np.array([0.9, 0.5, 0.4, 0.5, 0.3]))
    assert auc == pytest.approx(0.75)
    assert var == pytest.approx(1 / 12)


def test_hand_worked_two_models() -> None:
    # Model B: X = (.8, .2, .7), Y = (.1, .75): V10 = (1, 1/2, 1/2), V01 = (1, 1/3), AUC = 2/3.
    # S10: var_a = 1/12, var_b = 1/12, cov = 1/24.  S01: var_a = 1/18, var_b = 2/9, cov = -1/9.
    # var(diff) = (1/12 + 1/12 - 2/24)/3 + (1/18 + 2/9 + 2/9)/2 = 1/36 + 1/4 = 5/18.
    # diff = 5/6 - 2/3 = 1/6, z = (1/6) / sqrt(5/18) = sqrt(1/10).
    res = delong_test(Y, A, B)
    assert res.auc_a == pytest.approx(5 / 6) and res.auc_b == pytest.approx(2 / 3)
    assert res.var_b == pytest.approx(1 / 36 + 1 / 9)  # S10_bb/3 + S01_bb/2
    assert res.cov_ab == pytest.approx(1 / 72 - 1 / 18)  # S10_ab/3 + S01_ab/2
    assert res.se_diff == pytest.approx(math.sqrt(5 / 18))
    assert res.z == pytest.approx(math.sqrt(0.1))
    assert res.p == pytest.approx(2 * norm.sf(math.sqrt(0.1)))
    assert 0 < res.p < 1  # a p-value, not its log


def naive_components(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The O(mn) definition: psi = 1 if X > Y, 1/2 if tied, 0 otherwise."""
    x, z = s[y == 1], s[y == 0]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


def test_midranks_match_the_definition_and_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=60)
    s = np.round(rng.normal(size=60) + y, 1)  # rounding makes many ties
    auc, v10, v01 = structural_components(y, s)
    n10, n01 = naive_components(y, s)
    np.testing.assert_allclose(v10[0], n10)
    np.testing.assert_allclose(v01[0], n01)
    assert auc[0] == pytest.approx(roc_auc_score(y, s))


def test_identical_scores_give_p_one() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(30), np.zeros(50)]
    s = rng.normal(size=80) + y
    res = delong_test(y, s, s.copy())
    assert res.z == 0 and res.p == 1.0 and res.diff == 0
    # A monotone transform ranks every case the same way: same AUC, zero variance of the difference.
    res = delong_test(y, s, np.exp(s))
    assert res.p == 1.0


def test_clearly_separated_scores_give_small_p() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(60), np.zeros(60)]
    good = 3.0 * y + rng.normal(size=120)
    poor = 0.2 * y + rng.normal(size=120)
    res = delong_test(y, good, poor)
    assert res.diff > 0.3 and res.p < 0.01 and res.z > 0
    assert res.ci_diff[0] > 0
    assert delong_test(y, poor, good).z == pytest.approx(-res.z)


def test_variance_agrees_with_the_bootstrap() -> None:
    rng = np.random.default_rng(2)
    y = np.r_[np.ones(150), np.zeros(250)].astype(bool)
    shared = rng.normal(size=400)
    a = 1.2 * y + shared + 0.6 * rng.normal(size=400)
    b = 0.9 * y + shared + 0.6 * rng.normal(size=400)
    res = delong_test(y, a, b)
    boot = bootstrap_metrics(y, np.stack([a, b]), np.stack([a > 0.5, b > 0.5]), np.random.default_rng(0), 2000)
    se_a = boot["models"][0]["auc"]["se"]
    se_diff = boot["difference"]["auc"]["se"]
    assert res.var_a == pytest.approx(se_a**2, rel=0.2)
    assert res.se_diff**2 == pytest.approx(se_diff**2, rel=0.2)
    # The bootstrap CI of the difference and DeLong's agree in location and width.
    lo, hi = boot["difference"]["auc"]["ci_low"], boot["difference"]["auc"]["ci_high"]
    assert abs((lo + hi) / 2 - res.diff) < 0.01
    assert (hi - lo) == pytest.approx(res.ci_diff[1] - res.ci_diff[0], rel=0.2)


def test_covariance_of_one_vector_and_bad_input() -> None:
    auc, cov = delong_covariance(Y, A[None, :])
    assert cov.shape == (1, 1) and auc[0] == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="at least 2 positives"):
        delong_roc_variance(np.array([1, 0, 0]), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="0/1"):
        delong_roc_variance(np.array([2, 0, 1, 0]), np.array([0.1, 0.2, 0.3, 0.4]))
    with pytest.raises(ValueError, match="NaN"):
        delong_roc_variance(Y, np.array([0.1, np.nan, 0.3, 0.4, 0.5]))
