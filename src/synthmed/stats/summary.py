"""Per-cell summaries the report shows beside the tests: per-seed metrics and their means, the AUC with its
interval (the seed ensemble's bootstrap CI from the comparisons, else a t-interval over seeds) and the
seed-ensemble ROC curves, for every cell, baselines included.

They live here, not in the report, so that every number the report prints about a grid cell comes from the
statistics package (the report only lays them out).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as st
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve
from statsmodels.stats.proportion import proportion_confint

from synthmed.classify.results import Cell, ResultRow, read_predictions


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float | None, float | None]:
    """Student-t interval of the mean over seeds (None with fewer than two seeds)."""
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


def _by_cell(rows: Sequence[ResultRow]) -> dict[Cell, list[ResultRow]]:
    groups: dict[Cell, list[ResultRow]] = defaultdict(list)
    for row in rows:
        groups[row.cell].append(row)
    return {cell: sorted(groups[cell], key=lambda r: r.seed) for cell in sorted(groups, key=Cell.report_order)}


def _ensemble_intervals(stats: dict | None) -> dict[Cell, dict]:
    """Seed-ensemble AUC with its bootstrap CI per cell, from the comparisons of ``compare_results``.

    A baseline appears in several comparisons, each with its own resamples: the last one's interval is kept.
    """
    out: dict[Cell, dict] = {}
    for comp in (stats or {}).get("comparisons", []):
        models = comp["ensemble"]["bootstrap"]["models"]
        for cfg, model in ((comp["config"], models[0]), (comp["baseline"], models[1])):
            auc = model["auc"]
            cell = Cell(cfg["source"], float(cfg["ratio"]), float(cfg["real_fraction"]), cfg["augment"], cfg["arch"])
            out[cell] = {"auc": auc["estimate"], "ci_low": auc["ci_low"], "ci_high": auc["ci_high"]}
    return out


def cell_summaries(rows: Sequence[ResultRow], stats: dict | None = None) -> list[dict]:
    """One entry per grid cell (baselines included): per-seed metrics, their means, and the AUC with its CI.

    The CI is the stratified bootstrap of the seed ensemble from ``stats`` (the result of
    ``compare_results``: the same numbers as the verdicts) when it covers the cell; otherwise a t-interval
    of the mean AUC over seeds, marked as such.
    """
    intervals = _ensemble_intervals(stats)
    out = []
    for cell, runs in _by_cell(rows).items():
        entry: dict[str, Any] = {**cell.to_dict(), "seeds": [r.seed for r in runs]}
        for metric in ("auc", "accuracy", "sensitivity", "specificity", "f1"):
            values = [r.metrics[metric] for r in runs if r.metrics.get(metric) is not None]
            entry[f"{metric}_seeds"] = values
            entry[f"{metric}_mean"] = float(np.mean(values)) if values else None
        if cell in intervals:
            entry.update(intervals[cell], ci_kind="bootstrap of the seed ensemble")
        else:
            low, high = t_interval(entry["auc_seeds"])
            entry.update(auc=entry["auc_mean"], ci_low=low, ci_high=high, ci_kind="t over seeds")
        out.append(entry)
    return out


def roc_ensembles(rows: Sequence[ResultRow], real_fraction: float, augment: str = "none") -> list[dict]:
    """ROC of each cell's seed ensemble (mean scores over seeds) at one real fraction (see ``ensemble_roc``)."""
    curves = []
    for cell, runs in _by_cell([r for r in rows if r.cell.real_fraction == real_fraction
                                and r.cell.augment == augment]).items():
        preds = [read_predictions(r.predictions) for r in runs]
        if any(not np.array_equal(p.index, preds[0].index) for p in preds):
            continue  # not the same test images: no ensemble (compare_results reports this as an error)
        roc = ensemble_roc(preds[0].label, np.mean([p.scores for p in preds], axis=0), runs[0].positive_class)
        if roc is None:
            continue
        label = {"real": "real only", "synthetic": "synthetic only"}.get(cell.source,
                                                                         f"real + synthetic {cell.ratio:g} %")
        curves.append({**roc, "label": label, "source": cell.source, "ratio": cell.ratio,
                       "real_fraction": real_fraction, "augment": augment, "seeds": len(preds),
                       "fpr": np.round(roc["fpr"], 5).tolist(), "tpr": np.round(roc["tpr"], 5).tolist()})
    return curves


def class_breakdown(rows: Sequence[ResultRow], real_fraction: float, augment: str = "none") -> list[dict]:
    """K > 2 classes: per cell at one real fraction, its seed ensemble's one-vs-rest AUC and sensitivity per
    class and its confusion matrix (argmax of the mean probabilities; rows = true class). Empty for two
    classes, whose report shows the positive class's numbers instead."""
    out = []
    for cell, runs in _by_cell([r for r in rows if r.cell.real_fraction == real_fraction
                                and r.cell.augment == augment]).items():
        preds = [read_predictions(r.predictions) for r in runs]
        k = preds[0].scores.shape[1]
        if k <= 2 or any(not np.array_equal(p.index, preds[0].index) for p in preds):
            continue
        labels, scores = preds[0].label, np.mean([p.scores for p in preds], axis=0)
        predicted = preds[0].pred if len(preds) == 1 else scores.argmax(axis=1)
        names = list((runs[0].metrics.get("per_class") or {}).keys())
        names = names if len(names) == k else [str(c) for c in range(k)]
        per_class = []
        for c, name in enumerate(names):
            truth = labels == c
            defined = 0 < truth.sum() < truth.size
            per_class.append({"name": name, "support": int(truth.sum()),
                              "auc": float(roc_auc_score(truth, scores[:, c])) if defined else None,
                              "sensitivity": float((predicted[truth] == c).mean()) if truth.any() else None})
        out.append({**cell.to_dict(), "label": cell.words(), "seeds": len(runs), "classes": names,
                    "per_class": per_class,
                    "confusion_matrix": confusion_matrix(labels, predicted, labels=list(range(k))).tolist()})
    return out


def ensemble_labels(runs: Sequence[ResultRow]) -> tuple[np.ndarray, np.ndarray]:
    """(true labels, predicted labels) of a cell's seed ensemble, by the rule of ``compare._side``: one run, its own
    labels; binary, the positive class when the mean probability reaches the mean of the runs' thresholds;
    K > 2, the argmax of the mean probabilities."""
    preds = [read_predictions(r.predictions) for r in runs]
    if len(preds) == 1:
        return preds[0].label, preds[0].pred
    scores = np.mean([p.scores for p in preds], axis=0)
    positive = runs[0].positive_class
    if scores.shape[1] == 2 and positive is not None:
        threshold = float(np.mean([0.5 if r.threshold is None else r.threshold for r in runs]))
        return preds[0].label, np.where(scores[:, positive] >= threshold, positive, 1 - positive)
    return preds[0].label, scores.argmax(axis=1)


def class_mix(rows: Sequence[ResultRow], minority: Sequence[int], augment: str = "none",
              level: float = 0.95) -> list[dict]:
    """Per cell: the real and synthetic images per class its runs trained on, and the seed ensemble's
    sensitivity (recall) for each ``minority`` class with a Wilson score interval over that class's test images.

    Wilson (statsmodels), not the normal approximation: a rare class has few test images and a sensitivity
    near 0 or 1, where the normal interval leaves [0, 1] or collapses to a point.
    """
    out = []
    for cell, runs in _by_cell([r for r in rows if r.cell.augment == augment]).items():
        if any(not np.array_equal(read_predictions(r.predictions).index,
                                  read_predictions(runs[0].predictions).index) for r in runs):
            continue  # not the same test images: no ensemble (the statistics stage reports this)
        labels, predicted = ensemble_labels(runs)
        counts = runs[0].row.get("train_counts") or {}
        sens = []
        for c in minority:
            truth = labels == c
            hits, n = int((predicted[truth] == c).sum()), int(truth.sum())
            low, high = (float(x) for x in proportion_confint(hits, n, alpha=1 - level, method="wilson")) if n \
                else (None, None)
            sens.append({"class": int(c), "sensitivity": hits / n if n else None, "hits": hits, "support": n,
                         "ci_low": low, "ci_high": high})
        out.append({**cell.to_dict(), "label": cell.words(), "seeds": len(runs), "real": counts.get("real"),
                    "synthetic": counts.get("synthetic"), "minority_sensitivity": sens})
    return out
