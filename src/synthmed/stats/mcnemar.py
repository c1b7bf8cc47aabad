"""McNemar's test on paired predictions of two classifiers (a thin wrapper over statsmodels).

The 2 x 2 table counts the test cases by (model a correct?, model b correct?); only the discordant
cells matter. Exact binomial test when there are fewer than 25 discordant pairs (the chi-square
approximation is poor there), otherwise chi-square with continuity correction (Edwards).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from statsmodels.stats.contingency_tables import mcnemar

EXACT_BELOW = 25


@dataclass(frozen=True)
class McNemarResult:
    """``table`` = [[both correct, only a correct], [only b correct, both wrong]]."""

    table: list[list[int]]
    only_a_correct: int
    only_b_correct: int
    statistic: float
    p: float
    exact: bool

    def to_dict(self) -> dict:
        return asdict(self)


def mcnemar_test(correct_a: np.ndarray, correct_b: np.ndarray, exact: bool | None = None) -> McNemarResult:
    """McNemar's test of H0: both models have the same error rate on these cases.

    ``exact`` None chooses the exact test for fewer than 25 discordant pairs.
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired predictions differ in length: {a.size} and {b.size}")
    table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
    discordant = table[0][1] + table[1][0]
    if exact is None:
        exact = discordant < EXACT_BELOW
    if discordant == 0:
        # No case where the two disagree on correctness: no evidence of a difference.
        return McNemarResult(table, 0, 0, 0.0, 1.0, bool(exact))
    res = mcnemar(table, exact=exact, correction=True)
    return McNemarResult(table, table[0][1], table[1][0], float(res.statistic), float(res.pvalue), bool(exact))
