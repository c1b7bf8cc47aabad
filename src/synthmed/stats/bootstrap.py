"""Stratified bootstrap confidence intervals for AUC, sensitivity and specificity (SciPy's ``bootstrap``).

Stratified by label: positives and negatives are resampled separately (each keeps its size), so every
resample has both classes and the prevalence of the test set; SciPy's ``bootstrap`` does exactly this
when given the positive and the negative case indices as two independent samples. Several models scored
on the same cases are resampled with the same indices, so the interval of their difference is a paired
one. Percentile intervals; the random generator is passed in explicitly (reproducible).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import bootstrap, rankdata

METRICS = ("auc", "sensitivity", "specificity")


def auc_from_ranks(pos_scores: np.ndarray, neg_scores: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC along the last axis (ties count one half); broadcasts over leading axes."""
    m, n = pos_scores.shape[-1], neg_scores.shape[-1]
    ranks = rankdata(np.concatenate([pos_scores, neg_scores], axis=-1), axis=-1)
    return (ranks[..., :m].sum(axis=-1) - m * (m + 1) / 2) / (m * n)


def _statistics(s_pos, s_neg, hit_pos, hit_neg):
    """Vectorized statistic for SciPy: rows auc_0..k-1, sens_0..k-1, spec_0..k-1, then model0 - model1."""

    def statistic(ip: np.ndarray, ineg: np.ndarray, axis: int = -1) -> np.ndarray:
        ip, ineg = ip.astype(np.intp), ineg.astype(np.intp)
        auc = auc_from_ranks(s_pos[:, ip], s_neg[:, ineg])  # (k, *batch)
        sens = hit_pos[:, ip].mean(axis=-1)
        spec = hit_neg[:, ineg].mean(axis=-1)
        rows = [auc, sens, spec]
        if auc.shape[0] == 2:
            rows += [auc[:1] - auc[1:], sens[:1] - sens[1:], spec[:1] - spec[1:]]
        return np.concatenate(rows, axis=0)

    return statistic


def bootstrap_metrics(positive: np.ndarray, scores: np.ndarray, predicted_positive: np.ndarray,
                      rng: np.random.Generator, n_boot: int = 2000, level: float = 0.95) -> dict:
    """Point estimates and stratified-bootstrap percentile CIs for k models scored on the same cases.

    positive: (N,) bool, the true labels (positive class or not); scores: (k, N) positive-class scores;
    predicted_positive: (k, N) bool, each model's predicted label at its own fixed threshold.
    Returns {"models": [{metric: {"estimate", "ci_low", "ci_high", "se"}} per model], "difference": same for
    model 0 minus model 1 (only when k == 2), "n_boot", "level"}.
    """
    positive = np.asarray(positive, dtype=bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    predicted = np.atleast_2d(np.asarray(predicted_positive, dtype=bool))
    if positive.sum() < 1 or (~positive).sum() < 1:
        raise ValueError("the bootstrap needs at least one positive and one negative case")
    s_pos, s_neg = scores[:, positive], scores[:, ~positive]
    hit_pos, hit_neg = predicted[:, positive].astype(float), (~predicted[:, ~positive]).astype(float)
    statistic = _statistics(s_pos, s_neg, hit_pos, hit_neg)
    samples = (np.arange(s_pos.shape[1]), np.arange(s_neg.shape[1]))
    with warnings.catch_warnings():
        # Constant resampled statistics (e.g. sensitivity 1 everywhere) are fine for percentile intervals.
        warnings.simplefilter("ignore")
        res = bootstrap(samples, statistic, n_resamples=n_boot, vectorized=True, paired=False,
                        confidence_level=level, method="percentile", batch=250, rng=rng)
    estimate = statistic(*samples)
    low, high = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
    se = np.atleast_1d(res.standard_error)
    k = scores.shape[0]

    def block(row0: int, stride: int) -> dict:
        rows = [row0 + j * stride for j in range(len(METRICS))]
        return {name: {"estimate": float(estimate[r]), "ci_low": float(low[r]), "ci_high": float(high[r]),
                       "se": float(se[r])} for name, r in zip(METRICS, rows, strict=True)}

    out: dict = {"models": [block(i, k) for i in range(k)], "n_boot": n_boot, "level": level}
    if k == 2:
        out["difference"] = block(3 * k, 1)
    return out
