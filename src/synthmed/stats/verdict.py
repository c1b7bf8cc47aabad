"""The verdict of a comparison in words, computed from its numbers.

"better" or "worse" only when the Holm-adjusted DeLong p-value is below alpha, with the direction of
the AUC difference (configuration minus baseline); otherwise "no significant difference". Failing to
find a difference is not evidence of equivalence, and the sentence keeps the intervals beside the words.
"""

from __future__ import annotations

BETTER, WORSE, NO_DIFFERENCE, NOT_TESTED = "better", "worse", "no significant difference", "not tested"


def verdict(diff: float | None, p_adjusted: float | None, alpha: float = 0.05) -> str:
    """One of "better", "worse", "no significant difference", or "not tested" (no p-value)."""
    if diff is None or p_adjusted is None:
        return NOT_TESTED
    if p_adjusted < alpha and diff != 0:
        return BETTER if diff > 0 else WORSE
    return NO_DIFFERENCE


def format_p(p: float | None) -> str:
    if p is None:
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    return f"= {p:.3f}" if p < 0.01 else f"= {p:.2f}"


def format_permutation_p(p: float | None, n_perm: int | None) -> str:
    """Like format_p, but a p at the test's floor 1 / (1 + n_perm) says so: no permutation was as extreme, and a
    smaller p needs more permutations ("< 0.001" alone hides that 2,000 permutations cannot go below 0.0005)."""
    if p is not None and n_perm and abs(p - 1 / (1 + n_perm)) < 1e-12:
        return f"= {p:.2g} (the floor of {n_perm:,} permutations)"
    return format_p(p)


def format_ci(estimate: float, low: float, high: float) -> str:
    return f"{estimate:.2f} [{low:.2f}, {high:.2f}]"


def sentence(name: str, auc: tuple[float, float, float], baseline_name: str, baseline_auc: tuple[float, float, float],
             p: float | None, p_adjusted: float | None, words: str) -> str:
    """E.g. 'synthetic-only AUC 0.86 [0.80, 0.91] vs real-only 0.88 [0.83, 0.92], DeLong p = 0.41
    (Holm p = 0.82): no significant difference'. ``auc`` and ``baseline_auc`` are (estimate, low, high)."""
    holm = f" (Holm p {format_p(p_adjusted)})" if p_adjusted is not None and p_adjusted != p else ""
    return (f"{name} AUC {format_ci(*auc)} vs {baseline_name} {format_ci(*baseline_auc)}, "
            f"DeLong p {format_p(p)}{holm}: {words}")


def multiclass_sentence(name: str, auc: tuple[float, float, float], baseline_name: str,
                        baseline_auc: tuple[float, float, float], p: float | None, p_adjusted: float | None, words: str,
                        per_class: list[dict], n_perm: int | None = None) -> str:
    """K > 2: the macro AUCs with the permutation test, then the classes whose one-vs-rest AUC got better or
    worse (Holm-adjusted DeLong), e.g. '...: no significant difference; by class: better for drusen (AUC 0.91
    vs 0.84, Holm p = 0.01); no class worse'."""
    holm = f" (Holm p {format_p(p_adjusted)})" if p_adjusted is not None and p_adjusted != p else ""
    head = (f"{name} macro one-vs-rest AUC {format_ci(*auc)} vs {baseline_name} {format_ci(*baseline_auc)}, "
            f"permutation p {format_permutation_p(p, n_perm)}{holm}: {words}")
    parts = []
    for label in (BETTER, WORSE):
        named = [f"{c['name']} (AUC {c['auc']:.2f} vs {c['baseline_auc']:.2f}, Holm p {format_p(c['p_holm'])})"
                 for c in per_class if c.get("verdict") == label]
        parts.append(f"{label} for {', '.join(named)}" if named else f"no class {label}")
    return f"{head}; by class (one-vs-rest DeLong): {'; '.join(parts)}"
