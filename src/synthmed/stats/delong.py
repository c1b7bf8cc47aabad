"""DeLong's test for two correlated ROC AUCs on the same test cases (fast algorithm of Sun & Xu 2014).

Why hand-written: neither SciPy, scikit-learn nor statsmodels implements DeLong's covariance of
correlated AUCs (scikit-learn only gives the AUC itself, which ``tests/stats`` compares against).
The textbook estimator builds the m x n matrix of pairwise comparisons (O(mn) memory and time); Sun &
Xu (2014, IEEE Signal Processing Letters 21:1389) showed that the same structural components come from
three midrank computations, so the whole test is O(N log N). Midranks are ``scipy.stats.rankdata``.

For positives X_1..X_m and negatives Y_1..Y_n of one score vector (ties count one half):
  V10_i = (1/n) sum_j psi(X_i, Y_j),   V01_j = (1/m) sum_i psi(X_i, Y_j),   AUC = mean(V10) = mean(V01)
and Sun & Xu give V10_i = (Tz_i - Tx_i) / n, V01_j = 1 - (Tz_{m+j} - Ty_j) / m, with Tz the midranks
in all N = m + n scores, Tx within the positives and Ty within the negatives. The covariance matrix
of k AUCs is S10 / m + S01 / n, S10 and S01 the sample covariances (ddof 1) of the components.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm, rankdata

# Below this, the variance of an AUC difference is zero up to rounding (identical score vectors).
_ZERO_VARIANCE = 1e-14


def _split(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores as (k, N) floats and labels as bool; checks both classes have at least two cases."""
    positive = np.asarray(positive)
    if positive.dtype != bool:
        if not np.isin(positive, (0, 1)).all():
            raise ValueError("labels must be 0/1 or boolean (1 = positive class)")
        positive = positive.astype(bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if scores.shape[1] != positive.shape[0]:
        raise ValueError(f"{scores.shape[1]} scores for {positive.shape[0]} labels")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinity")
    m = int(positive.sum())
    if m < 2 or positive.size - m < 2:
        raise ValueError(f"DeLong needs at least 2 positives and 2 negatives, got {m} and {positive.size - m}")
    return positive, scores


def structural_components(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs (k,), V10 (k, m) and V01 (k, n) of k score vectors over the same cases, via midranks."""
    positive, scores = _split(positive, scores)
    x, y = scores[:, positive], scores[:, ~positive]
    m, n = x.shape[1], y.shape[1]
    tx = rankdata(x, axis=1)
    ty = rankdata(y, axis=1)
    tz = rankdata(np.concatenate([x, y], axis=1), axis=1)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    auc = v10.mean(axis=1)
    return auc, v10, v01


def delong_covariance(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs (k,) and their DeLong covariance matrix (k, k) for score vectors ``scores`` (k, N)."""
    auc, v10, v01 = structural_components(positive, scores)
    m, n = v10.shape[1], v01.shape[1]
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return auc, cov


def delong_roc_variance(positive: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """AUC of one score vector and its DeLong variance."""
    auc, cov = delong_covariance(positive, np.asarray(scores, dtype=np.float64)[None, :])
    return float(auc[0]), float(cov[0, 0])


def wald_ci(estimate: float, variance: float, level: float = 0.95, bounds: tuple[float, float] = (0.0, 1.0)
            ) -> tuple[float, float]:
    """Normal-approximation interval estimate +- z * sqrt(variance), clipped to ``bounds``."""
    half = norm.ppf(0.5 + level / 2) * math.sqrt(max(variance, 0.0))
    return max(bounds[0], estimate - half), min(bounds[1], estimate + half)


@dataclass(frozen=True)
class DeLongResult:
    """Comparison of model a against model b on the same cases; ``diff`` = auc_a - auc_b."""

    auc_a: float
    auc_b: float
    var_a: float
    var_b: float
    cov_ab: float
    diff: float
    se_diff: float
    z: float
    p: float
    ci_a: tuple[float, float]
    ci_b: tuple[float, float]
    ci_diff: tuple[float, float]
    n_pos: int
    n_neg: int

    def to_dict(self) -> dict:
        return asdict(self)


def delong_test(positive: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, level: float = 0.95
                ) -> DeLongResult:
    """Two-sided DeLong test of H0: AUC_a = AUC_b for two scorers of the same cases.

    Returns z and the p-value itself (not log p). When the variance of the difference is zero (the two
    score vectors rank every case the same way) there is nothing to test: z = 0 and p = 1 if the AUCs
    agree; if they differ with zero variance the difference is certain (z = +-inf, p = 0).
    """
    positive = np.asarray(positive)
    auc, cov = delong_covariance(positive, np.stack([np.asarray(scores_a), np.asarray(scores_b)]))
    diff = float(auc[0] - auc[1])
    var_diff = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    scale = max(float(cov[0, 0] + cov[1, 1]), 1.0)
    if var_diff <= _ZERO_VARIANCE * scale:
        var_diff = 0.0
        z = 0.0 if abs(diff) < 1e-12 else math.copysign(math.inf, diff)
        p = 1.0 if z == 0.0 else 0.0
    else:
        z = diff / math.sqrt(var_diff)
        p = float(2 * norm.sf(abs(z)))
    n_pos = int(np.asarray(positive, dtype=bool).sum())
    return DeLongResult(
        auc_a=float(auc[0]), auc_b=float(auc[1]), var_a=float(cov[0, 0]), var_b=float(cov[1, 1]),
        cov_ab=float(cov[0, 1]), diff=diff, se_diff=math.sqrt(var_diff), z=float(z), p=p,
        ci_a=wald_ci(float(auc[0]), float(cov[0, 0]), level), ci_b=wald_ci(float(auc[1]), float(cov[1, 1]), level),
        ci_diff=wald_ci(diff, var_diff, level, bounds=(-1.0, 1.0)),
        n_pos=n_pos, n_neg=int(positive.size - n_pos),
    )
