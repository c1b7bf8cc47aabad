"""The filter's output record (``FilterResult``): per-class counts, the rules, and the pipeline's top-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from synthmed.utils.records import Record


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClassCounts(_Strict):
    """One class of the filtered set. A removed image counts under its first failed test."""

    total: int
    kept: int
    removed: int
    low_confidence: int
    unrealistic: int
    near_copy: int
    synthetic_pass_rate: float | None
    real_pass_rate: float | None
    n_real: int
    relaxed: int | None = None  # best-scoring rejected images admitted (filter.when_short: best)


class TopUpClass(_Strict):
    need: int
    generated: int
    kept: int
    pass_rate: float | None
    short: bool
    relaxed: int | None = None


class TopUp(_Strict):
    """What the pipeline generated on top of the first batch for classes the filter left short."""

    factor: float
    rounds: int
    per_class: dict[str, TopUpClass]
    notes: list[str]


class FilterResult(Record):
    """``filter.json``: what the filter kept of each class and why it removed the rest."""

    FILE = "filter.json"
    per_class: dict[str, ClassCounts]
    kept: int
    removed: int
    rules: list[str]
    top_up: TopUp | None = None

    def generated_in_all(self) -> dict[str, int]:
        """Images per class generated in all when the top-up ran (the generate stage's and the top-up's)."""
        if self.top_up is None or not self.top_up.rounds:
            return {}
        return {c: row.generated for c, row in self.top_up.per_class.items()}
