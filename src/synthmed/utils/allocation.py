"""Split a whole number among classes in proportion to weights (one rule for every stage that needs it)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def allocate(total: int, weights: Sequence[float]) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` that sum to exactly ``total``.

    Largest-remainder (Hamilton) rule, ties to the lower index. Hand-written because the per-class
    counts must be exact and predictable for tests and tables; sklearn's stratified splitters
    allocate with their own randomized rounding.
    """
    w = np.asarray(weights, dtype=np.float64)
    if total < 0 or w.sum() <= 0:
        raise ValueError("allocate needs total >= 0 and positive weights")
    quotas = total * w / w.sum()
    counts = np.floor(quotas).astype(np.int64)
    order = np.argsort(-(quotas - counts), kind="stable")
    counts[order[: total - int(counts.sum())]] += 1
    return counts
