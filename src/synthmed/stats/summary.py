"""Per-cell summaries the report shows beside the tests: seed-ensemble ROC curves and t-intervals over seeds.

They live here, not in the report, so that every number the report prints about a grid cell comes from the
statistics package (the report only lays them out).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float | None, float | None]:
    """Student-t interval of the mean over seeds (None with fewer than two seeds)."""
    from scipy import stats as st

    if len(values) < 2:
        return None, None
    v = np.asarray(values, dtype=float)
    half = st.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


def ensemble_roc(labels: np.ndarray, scores: np.ndarray, positive: int | None) -> dict | None:
    """ROC of one seed ensemble (``scores``: mean probabilities, N x K) on the test labels.

    Two classes: the curve of the positive class. K > 2 (``positive`` None): no class is singled out; the
    curve is the macro average of the K one-vs-rest curves (each TPR interpolated on the union of their FPRs,
    as in scikit-learn's ROC example) and ``auc`` is the macro one-vs-rest AUC, the mean of the per-class AUCs
    (equal to ``roc_auc_score(multi_class='ovr', average='macro')``; the area under the averaged curve can
    differ slightly). ``per_class_auc`` holds each class's one-vs-rest AUC. None when a class is absent.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    labels = np.asarray(labels)
    k = scores.shape[1]
    if k == 2 and positive is not None:
        truth = (labels == positive).astype(int)
        if truth.min() == truth.max():
            return None
        fpr, tpr, _ = roc_curve(truth, scores[:, positive])
        return {"kind": f"class {positive} vs the other", "positive_class": positive, "fpr": fpr, "tpr": tpr,
                "auc": float(roc_auc_score(truth, scores[:, positive]))}
    if len(np.unique(labels)) < k:
        return None
    curves = [roc_curve((labels == c).astype(int), scores[:, c]) for c in range(k)]
    grid = np.unique(np.concatenate([fpr for fpr, _, _ in curves]))
    tpr = np.mean([np.interp(grid, fpr, tpr) for fpr, tpr, _ in curves], axis=0)
    per_class = [float(roc_auc_score((labels == c).astype(int), scores[:, c])) for c in range(k)]
    return {"kind": "macro one-vs-rest", "positive_class": None, "fpr": grid, "tpr": tpr,
            "auc": float(np.mean(per_class)), "per_class_auc": per_class}
