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


def test_matches_statsmodels_on_random_pairs() -> None:
    rng = np.random.default_rng(0)
    for n in (20, 200):
        a, b = rng.random(n) < 0.8, rng.random(n) < 0.7
        res = mcnemar_test(a, b)
        ref = mcnemar(res.table, exact=res.exact, correction=True)
        assert res.p == pytest.approx(ref.pvalue)


def test_no_discordant_pairs_and_length_mismatch() -> None:
    res = mcnemar_test(*_paired(8, 0, 0, 3))
    assert res.p == 1.0
    with pytest.raises(ValueError, match="differ in length"):
        mcnemar_test(np.ones(3, bool), np.ones(4, bool))
