"""Across training seeds: mean +- sd of a metric and a paired Wilcoxon signed-rank test (SciPy)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import wilcoxon


def mean_sd(values: Sequence[float]) -> dict:
    """Mean and sample standard deviation (ddof 1; None for a single value)."""
    v = np.asarray(values, dtype=float)
    return {"n": int(v.size), "mean": float(v.mean()) if v.size else None,
            "sd": float(v.std(ddof=1)) if v.size > 1 else None}


def min_exact_p(n_pairs: int) -> float:
    """Smallest two-sided p the exact signed-rank test can give with n untied, non-zero pairs: 2 / 2^n."""
    return min(1.0, 2.0 / 2**n_pairs)


def paired_wilcoxon(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> dict:
    """Wilcoxon signed-rank test of a - b over paired seeds (two-sided), with a note on its power.

    Returns {"n", "statistic", "p", "note"}; p is None when there are fewer than 2 pairs.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = int(a.size)
    out: dict = {"n": n, "statistic": None, "p": None, "note": ""}
    if n < 2:
        out["note"] = f"{n} seed pair(s): no signed-rank test"
        return out
    d = a - b
    if np.all(d == 0):
        out.update(statistic=0.0, p=1.0, note="all seed differences are zero")
        return out
    res = wilcoxon(a, b)
    out.update(statistic=float(res.statistic), p=float(res.pvalue))
    floor = min_exact_p(int(np.count_nonzero(d)))
    if floor >= alpha:
        out["note"] = (f"with {np.count_nonzero(d)} non-zero seed pairs the exact test cannot give p below "
                       f"{floor:.3g}, so it cannot reach p < {alpha:g}; use more seeds (6 or more)")
    return out
