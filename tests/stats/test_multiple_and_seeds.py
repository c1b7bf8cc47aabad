"""Holm correction against statsmodels and by hand; across-seed summary and Wilcoxon against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wilcoxon
from statsmodels.stats.multitest import multipletests

from synthmed.stats.multiple import holm
from synthmed.stats.seeds import mean_sd, min_exact_p, paired_wilcoxon


def test_holm_by_hand_and_statsmodels() -> None:
    p = [0.01, 0.04, 0.03, 0.2]
    # Sorted 0.01, 0.03, 0.04, 0.2 times 4, 3, 2, 1 = 0.04, 0.09, 0.08 -> 0.09 (monotone), 0.2.
    adjusted, reject = holm(p, alpha=0.05)
    assert adjusted == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert reject == [True, False, False, False]
    assert adjusted == pytest.approx(list(multipletests(p, method="holm")[1]))


def test_holm_skips_missing_p_values() -> None:
    adjusted, reject = holm([0.01, None, 0.03])
    assert adjusted[1] is None and reject[1] is None
    assert adjusted[0] == pytest.approx(0.02) and adjusted[2] == pytest.approx(0.03)
    assert holm([]) == ([], [])


def test_mean_sd() -> None:
    assert mean_sd([0.8, 0.9, 1.0]) == {"n": 3, "mean": pytest.approx(0.9), "sd": pytest.approx(0.1)}
    assert mean_sd([0.7])["sd"] is None


def test_wilcoxon_matches_scipy_and_warns_about_few_seeds() -> None:
    a = [0.81, 0.84, 0.79, 0.90, 0.88]
    b = [0.70, 0.72, 0.75, 0.80, 0.86]
    out = paired_wilcoxon(a, b)
    assert out["p"] == pytest.approx(wilcoxon(a, b).pvalue)
    assert out["p"] == pytest.approx(min_exact_p(5)) == pytest.approx(0.0625)  # all 5 differences positive
    assert "cannot reach p < 0.05" in out["note"]
    rng = np.random.default_rng(0)
    a8, b8 = rng.random(8), rng.random(8)
    out8 = paired_wilcoxon(a8, b8)
    assert out8["p"] == pytest.approx(wilcoxon(a8, b8).pvalue) and out8["note"] == ""


def test_wilcoxon_degenerate_cases() -> None:
    assert paired_wilcoxon([0.8], [0.7])["p"] is None
    assert paired_wilcoxon([0.8, 0.7], [0.8, 0.7])["p"] == 1.0
