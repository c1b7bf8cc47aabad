"""Holm's step-down correction across the comparisons of a grid (statsmodels ``multipletests``)."""

from __future__ import annotations

from collections.abc import Sequence

from statsmodels.stats.multitest import multipletests


def holm(pvalues: Sequence[float | None], alpha: float = 0.05) -> tuple[list[float | None], list[bool | None]]:
    """Holm-adjusted p-values and rejections; ``None`` entries (no test possible) stay ``None``.

    The family is the tests that exist: a comparison without a p-value is not counted.
    """
    present = [i for i, p in enumerate(pvalues) if p is not None]
    adjusted: list[float | None] = [None] * len(pvalues)
    reject: list[bool | None] = [None] * len(pvalues)
    if present:
        rej, p_adj, _, _ = multipletests([pvalues[i] for i in present], alpha=alpha, method="holm")
        for i, r, p in zip(present, rej, p_adj, strict=True):
            adjusted[i], reject[i] = float(p), bool(r)
    return adjusted, reject
