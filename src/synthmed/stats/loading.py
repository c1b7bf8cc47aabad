"""Checks on the classifier grid's runs before a paired comparison (the rows and predictions themselves are
read by ``synthmed.classify.results``)."""

from __future__ import annotations

import numpy as np

from synthmed.classify.results import Predictions, ResultRow
from synthmed.errors import BadInputError, SynthmedError


def check_same_cases(a: Predictions, b: Predictions) -> None:
    """Paired tests need the same test images with the same labels, in the same order (by index)."""
    if a.index.shape != b.index.shape or not np.array_equal(a.index, b.index):
        raise BadInputError(a.path, f"index column does not match {b.path} (not the same test images)")
    if not np.array_equal(a.label, b.label):
        raise BadInputError(a.path, f"labels differ from {b.path} for the same test images")
    if a.scores.shape[1] != b.scores.shape[1]:
        raise BadInputError(a.path, f"{a.scores.shape[1]} score columns but {b.path} has {b.scores.shape[1]}")


def check_positive_class(runs: list[ResultRow], k: int) -> int | None:
    """All runs of a comparison must score the same positive class, and it must exist (None: K > 2, none)."""
    classes = {r.positive_class for r in runs}
    if len(classes) != 1:
        raise SynthmedError(f"runs {', '.join(r.run_id for r in runs)} disagree on the positive class: {classes}")
    positive = classes.pop()
    if positive is not None and not 0 <= positive < k:
        raise BadInputError(runs[0].predictions, f"positive class {positive} but only {k} score columns")
    return positive
