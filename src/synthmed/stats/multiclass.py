"""Two classifiers on the same K-class test set (K > 2): macro one-vs-rest AUC, its paired tests, per class.

The primary number is the macro one-vs-rest AUC (the mean over classes of "class k vs the rest" AUCs, as
``sklearn.metrics.roc_auc_score(multi_class='ovr', average='macro')``): no class is singled out.

- Its difference (a - b) gets a paired, stratified bootstrap CI: every resample draws each class's test
  images with replacement within that class (each class keeps its size, so every resample has every class
  and the test set's class mix), and both models are scored on the same resampled images (SciPy's
  ``bootstrap`` with one sample per class, as ``bootstrap.py`` does with two).
- Its p-value comes from a paired permutation test: under H0 the two models are exchangeable on each test
  image, so each image's two score vectors are swapped with probability 1/2 and the macro AUC difference
  recomputed; p = (1 + #{|d*| >= |d|}) / (1 + n_perm) (two-sided; the +1 keeps p > 0 and the test exact
  for a random sample of permutations, Phipson & Smyth 2010). The scores are swapped as ranks: each
  model's class-k column is replaced by its ranks (/ N) first. One-vs-rest AUCs depend on ranks only, so
  the observed AUCs do not change, but two models with different calibration (one confident, one not)
  become comparable; swapping raw probabilities mixed the scales and made the test blind (on the five-class
  test run, a 0.09 drop in macro AUC got p = 0.06 with raw scores and p = 0.001 with ranks). How many
  permutations: at least the bootstrap's count, more when Holm's family is large (``permutations_for_family``).
  Why a permutation test rather than a bootstrap p-value: the bootstrap resamples around the observed
  difference, so a p-value needs an extra assumption (shifting to H0 or inverting the interval) and is
  only approximate at small test sets, while
  the permutation test's p is valid at any size under exchangeability (Bandos, Rockette & Gur 2005 use it
  for paired AUCs); the bootstrap gives the interval, where it is at home.
- Beside it, each class's one-vs-rest AUCs are compared with DeLong's test (``delong.py``); the caller
  Holm-adjusts these together with the primary p-values of the whole grid.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.stats import bootstrap, rankdata

from synthmed.stats.bootstrap import auc_from_ranks
from synthmed.stats.delong import delong_test

METRICS = ("auc", "sensitivity", "specificity")


def _class_index(labels: np.ndarray, k: int) -> list[np.ndarray]:
    labels = np.asarray(labels)
    groups = [np.flatnonzero(labels == c) for c in range(k)]
    if any(g.size == 0 for g in groups):
        missing = [c for c, g in enumerate(groups) if g.size == 0]
        raise ValueError(f"class(es) {missing} have no test image: no one-vs-rest AUC")
    return groups


def macro_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Macro one-vs-rest AUC of one model (scores N x K); ties count one half."""
    groups = _class_index(labels, scores.shape[1])
    return float(np.mean(_per_class_auc(groups, scores[None])[:, 0]))


def _per_class_auc(groups: list[np.ndarray], scores: np.ndarray) -> np.ndarray:
    """One-vs-rest AUC of each class for a stack of models: scores (M, N, K) -> (K, M)."""
    out = []
    everyone = np.concatenate(groups)
    for c, pos in enumerate(groups):
        neg = np.setdiff1d(everyone, pos, assume_unique=True)
        out.append(auc_from_ranks(scores[:, pos, c], scores[:, neg, c]))
    return np.array(out)


def _column_ranks(scores: np.ndarray) -> np.ndarray:
    """Each class column replaced by its mid-ranks / N (same one-vs-rest AUCs, a common scale)."""
    return rankdata(scores, axis=0) / scores.shape[0]


def permutations_for_family(family: int, alpha: float, minimum: int) -> int:
    """Permutations enough that a test's resolution cannot decide its verdict: the Monte Carlo floor of the
    p-value, 1 / (n + 1), multiplied by Holm's family size (the grid's primary and per-class p-values together),
    stays at a quarter of alpha. With 2,000 permutations and a family of 147 p-values (21 comparisons of 6
    classes), even a perfectly separated comparison got Holm p = 0.07: "no significant difference" by
    construction (the RBC utility study, 2026-12-03)."""
    return max(minimum, math.ceil(4 * family / alpha) - 1)


def permutation_test(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, rng: np.random.Generator,
                     n_perm: int = 2000, batch: int = 250) -> dict:
    """Paired permutation test of H0: equal macro one-vs-rest AUC (two-sided). Returns diff (a - b), p, n_perm."""
    k = scores_a.shape[1]
    groups = _class_index(labels, k)
    scores_a, scores_b = _column_ranks(scores_a), _column_ranks(scores_b)
    observed = _per_class_auc(groups, np.stack([scores_a, scores_b])).mean(axis=0)
    diff = float(observed[0] - observed[1])
    extreme = 0
    for start in range(0, n_perm, batch):
        size = min(batch, n_perm - start)
        swap = rng.random((size, scores_a.shape[0], 1)) < 0.5
        perm_a = np.where(swap, scores_b[None], scores_a[None])
        perm_b = np.where(swap, scores_a[None], scores_b[None])
        macro = _per_class_auc(groups, np.concatenate([perm_a, perm_b])).mean(axis=0)
        d = macro[:size] - macro[size:]
        extreme += int(np.sum(np.abs(d) >= abs(diff) - 1e-12))
    return {"diff": diff, "p": (1 + extreme) / (1 + n_perm), "n_perm": n_perm, "auc_a": float(observed[0]),
            "auc_b": float(observed[1])}


def _macro_statistic(labels: np.ndarray, scores: np.ndarray, preds: np.ndarray):
    """Vectorized statistic over class-wise index samples: rows auc_a, auc_b, sens_a, sens_b, spec_a, spec_b,
    then the three differences a - b."""
    k = scores.shape[2]
    correct = preds == np.asarray(labels)[None]  # (2, N)

    def statistic(*idx: np.ndarray, axis: int = -1) -> np.ndarray:
        idx = tuple(i.astype(np.intp) for i in idx)
        aucs, sens, spec = [], [], []
        for c in range(k):
            rest = np.concatenate([idx[j] for j in range(k) if j != c], axis=-1)
            aucs.append(auc_from_ranks(scores[:, idx[c], c], scores[:, rest, c]))  # (2, *batch)
            sens.append(correct[:, idx[c]].mean(axis=-1))
            spec.append((preds[:, rest] != c).mean(axis=-1))
        rows = [np.mean(aucs, axis=0), np.mean(sens, axis=0), np.mean(spec, axis=0)]  # each (2, *batch)
        return np.concatenate([*rows, *[r[:1] - r[1:] for r in rows]], axis=0)

    return statistic


def point_estimates(labels: np.ndarray, scores: np.ndarray, preds: np.ndarray) -> list[dict]:
    """Macro AUC, sensitivity and specificity of models a and b, without intervals (per-seed summaries)."""
    estimate = _macro_statistic(labels, scores, preds)(*_class_index(labels, scores.shape[2]))
    return [{name: {"estimate": float(estimate[2 * j + i])} for j, name in enumerate(METRICS)} for i in (0, 1)]


def bootstrap_macro(labels: np.ndarray, scores: np.ndarray, preds: np.ndarray, rng: np.random.Generator,
                    n_boot: int = 2000, level: float = 0.95) -> dict:
    """Point estimates and class-stratified percentile CIs of macro AUC, sensitivity and specificity.

    scores: (2, N, K) probabilities of models a and b; preds: (2, N) their predicted labels. Sensitivity
    and specificity are the means over classes of the one-vs-rest recall and specificity (macro sensitivity
    is the balanced accuracy). Same layout as ``bootstrap.bootstrap_metrics``: models[0], models[1] and
    the difference a - b.
    """
    groups = _class_index(labels, scores.shape[2])
    statistic = _macro_statistic(labels, scores, preds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant resampled statistics are fine for percentile intervals
        res = bootstrap(tuple(g.astype(float) for g in groups), statistic, n_resamples=n_boot, vectorized=True,
                        paired=False, confidence_level=level, method="percentile", batch=250, rng=rng)
    estimate = statistic(*groups)
    low, high = np.atleast_1d(res.confidence_interval.low), np.atleast_1d(res.confidence_interval.high)
    se = np.atleast_1d(res.standard_error)

    def block(rows: list[int]) -> dict:
        return {name: {"estimate": float(estimate[r]), "ci_low": float(low[r]), "ci_high": float(high[r]),
                       "se": float(se[r])} for name, r in zip(METRICS, rows, strict=True)}

    return {"models": [block([0, 2, 4]), block([1, 3, 5])], "difference": block([6, 7, 8]), "n_boot": n_boot,
            "level": level, "stratified_by": "class"}


def per_class_tests(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, preds_a: np.ndarray,
                    preds_b: np.ndarray, classes: list[str], level: float = 0.95) -> list[dict]:
    """Each class vs the rest: DeLong test of the two AUCs, and each model's sensitivity (recall) for it."""
    labels = np.asarray(labels)
    out = []
    for c, name in enumerate(classes):
        positive = labels == c
        res = delong_test(positive, scores_a[:, c], scores_b[:, c], level)
        out.append({"class": c, "name": name, "support": int(positive.sum()), "delong": res.to_dict(),
                    "auc": res.auc_a, "baseline_auc": res.auc_b, "diff": res.diff, "p": res.p,
                    "sensitivity": float((preds_a[positive] == c).mean()),
                    "baseline_sensitivity": float((preds_b[positive] == c).mean())})
    return out
