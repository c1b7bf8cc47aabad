"""Stratified train/val/test splits for sources that have none, grouped by patient when known.

Without patient ids: scikit-learn ``train_test_split(stratify=labels)`` twice (test first, then val
from the rest), so the ratios are met to within rounding and every split keeps the class balance;
each non-empty split gets at least one image per class (tiny sources round up).

With patient ids: ``StratifiedGroupKFold`` (shuffled with the seed) twice: one fold of
``k = round(1 / ratio)`` is taken as test, then one fold of the rest as val. A patient's images all
land in one split, and folds are chosen to keep the class balance; the price is that a ratio is met
as 1/k (0.15 -> 1/7 = 0.143). Items of one file (NIfTI slices) always share a split, because the
split is made per file.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from synthmed.errors import SynthmedError

RATIOS_RULE = "three fractions train, val, test, each > 0, summing to 1"


def ratios_problem(values: Sequence[float]) -> str | None:
    """Why ``values`` are not usable split ratios (None: they are). Every split must get images: a dataset
    without val or test cannot choose a checkpoint or measure one, and NaN or infinity is no fraction."""
    if len(values) != 3:
        return f"{RATIOS_RULE} (got {len(values)} values)"
    if not all(math.isfinite(v) for v in values):
        return f"{RATIOS_RULE} (got a non-finite value)"
    if min(values) <= 0:
        name = ("train", "val", "test")[int(np.argmin(values))]
        return f"{RATIOS_RULE} ({name} is {min(values):g}: that split would be empty)"
    if abs(sum(values) - 1.0) > 1e-6:
        return f"{RATIOS_RULE} (they sum to {sum(values):g})"
    return None


def parse_ratios(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise SynthmedError(f"--split-ratios must be {RATIOS_RULE}, got '{text}'") from None
    problem = ratios_problem(values)
    if problem:
        raise SynthmedError(f"--split-ratios '{text}': {problem}")
    return values  # type: ignore[return-value]


def assign_splits(labels: Sequence[int], groups: Sequence[str] | None, ratios: tuple[float, float, float],
                  seed: int, class_names: Sequence[str] | None = None) -> list[str]:
    """Split name for every item (``labels[i]``, patient ``groups[i]``)."""
    y = np.asarray(labels, dtype=np.int64)
    idx = np.arange(len(y))
    g = np.asarray(groups, dtype=object) if groups is not None else None
    _check_class_sizes(y, ratios, class_names)
    train_r, val_r, test_r = ratios
    rest, test = _split_off(idx, y, g, test_r, seed)
    train, val = _split_off(rest, y[rest], g[rest] if g is not None else None, val_r / (train_r + val_r), seed)
    out = [""] * len(y)
    for name, members in (("train", train), ("val", val), ("test", test)):
        for i in members:
            out[int(i)] = name
    return out


def _check_class_sizes(y: np.ndarray, ratios: tuple[float, float, float], class_names: Sequence[str] | None) -> None:
    needed = sum(1 for r in ratios if r > 0)
    counts = np.bincount(y)
    for label, n in enumerate(counts):
        if 0 < n < needed:
            name = class_names[label] if class_names else str(label)
            raise SynthmedError(f"class '{name}' has {n} image file(s); a stratified split into {needed} parts "
                                f"needs at least {needed} (add images or change --split-ratios)")


def _split_off(idx: np.ndarray, y: np.ndarray, groups: np.ndarray | None, frac: float,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, split off) indices with ``frac`` of them split off, stratified by ``y``."""
    if frac <= 0 or len(idx) == 0:
        return idx, idx[:0]
    if groups is None:
        return _stratified(idx, y, frac, seed)
    return _stratified_grouped(idx, y, groups, frac, seed)


def _stratified(idx: np.ndarray, y: np.ndarray, frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    # An image count, not a fraction: at least one image per class in each split, even for tiny sources.
    n_classes = len(np.unique(y))
    n_off = min(max(round(frac * len(idx)), n_classes), len(idx) - n_classes)
    try:
        kept, off = train_test_split(idx, test_size=n_off, stratify=y, random_state=seed, shuffle=True)
    except ValueError as exc:
        raise SynthmedError(f"cannot make a stratified split of {len(idx)} images with ratio {frac:.3f} "
                            f"({exc}); add images or change --split-ratios") from None
    return np.sort(kept), np.sort(off)


def _stratified_grouped(idx: np.ndarray, y: np.ndarray, groups: np.ndarray, frac: float,
                        seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import StratifiedGroupKFold

    k = max(2, round(1.0 / frac))
    n_groups = len(set(groups.tolist()))
    if n_groups < k:
        raise SynthmedError(f"a patient-grouped split with ratio {frac:.3f} needs at least {k} patients, "
                            f"found {n_groups} (change --split-ratios or give the split in the CSV)")
    folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class has fewer members than n_splits"
        kept, off = next(folds.split(np.zeros(len(idx)), y, groups))
    return idx[np.sort(kept)], idx[np.sort(off)]
