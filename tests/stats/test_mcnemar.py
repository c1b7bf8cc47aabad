"""McNemar wrapper against hand-computed values, statsmodels and SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, chi2
from statsmodels.stats.contingency_tables import mcnemar

from synthmed.stats.mcnemar import mcnemar_test


def _paired(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.r_[np.ones(both), np.ones(only_a), np.zeros(only_b), np.zeros(neither)].astype(bool)
    b = np.r_[np.ones(both), np.zeros(only_a), np.ones(only_b), np.zeros(neither)].astype(bool)
    return a, b


def test_exact_small_discordant_count() -> None:
    # 5 vs 2 discordant pairs: p = 2 * P(Bin(7, 1/2) <= 2) = 2 * (1 + 7 + 21) / 128 = 0.453125.
    res = mcnemar_test(*_paired(10, 5, 2, 20))
    assert res.exact and res.table == [[10, 5], [2, 20]]
    assert res.p == pytest.approx(58 / 128)
    assert res.p == pytest.approx(binomtest(2, 7, 0.5).pvalue)


def test_chi_square_with_continuity_correction() -> None:
    # 25 vs 12 discordant: chi2 = (|25 - 12| - 1)^2 / 37 = 144 / 37.
    res = mcnemar_test(*_paired(10, 25, 12, 20))
    assert not res.exact
    assert res.statistic == pytest.approx(144 / 37)
    assert res.p == pytest.approx(chi2.sf(144 / 37, 1))
    ref = mcnemar([[10, 25], [12, 20]], exact=False, correction=True)
    assert res.p == pytest.approx(ref.pvalue)


def test_random_pairs_against_a_table_counted_here() -> None:
    """The table is counted case by case here (not taken from the wrapper), and p comes from SciPy's exact
    binomial or the continuity-corrected chi-square formula, not from the statsmodels call the wrapper makes."""
    rng = np.random.default_rng(0)
    for n in (20, 200):
        a, b = rng.random(n) < 0.8, rng.random(n) < 0.7
        only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
        only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
        both = sum(1 for x, y in zip(a, b, strict=True) if x and y)
        res = mcnemar_test(a, b)
        assert res.table == [[both, only_a], [only_b, n - both - only_a - only_b]]
        discordant = only_a + only_b
        if discordant < 25:
            expected = binomtest(min(only_a, only_b), discordant, 0.5).pvalue
        else:
            expected = chi2.sf((abs(only_a - only_b) - 1) ** 2 / discordant, 1)
        assert res.exact == (discordant < 25) and res.p == pytest.approx(expected)


def test_hand_computed_table_from_labels() -> None:
    # a right on cases 0-7, b right on 0, 1 and 8: both 2, only a 6, only b 1, neither 1 (10 cases).
    a = np.array([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], bool)
    b = np.array([1, 1, 0, 0, 0, 0, 0, 0, 1, 0], bool)
    res = mcnemar_test(a, b)
    assert res.table == [[2, 6], [1, 1]] and (res.only_a_correct, res.only_b_correct) == (6, 1)
    # Exact (7 discordant pairs): 2 * P(Bin(7, 1/2) <= 1) = 2 * (1 + 7) / 128 = 0.125.
    assert res.exact and res.p == pytest.approx(0.125)


def test_no_discordant_pairs_and_length_mismatch() -> None:
    res = mcnemar_test(*_paired(8, 0, 0, 3))
    assert res.p == 1.0
    with pytest.raises(ValueError, match="differ in length"):
        mcnemar_test(np.ones(3, bool), np.ones(4, bool))
