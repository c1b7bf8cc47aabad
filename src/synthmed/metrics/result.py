"""The metrics' output record (``MetricsResult``): what ``compute_metrics`` returns, as the file it is kept in."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from synthmed.utils.records import Record


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageSetRef(_Strict):
    """One side of the comparison: the dataset folder, its split and content hash."""

    path: str
    split: str
    content_hash: str


class Reference(_Strict):
    """The real train split against the real val split: what real held-out images score on the same metrics."""

    real: str
    against: str
    n_val: int
    n_val_per_class: dict[str, int]
    keys: list[str]
    overall: dict[str, Any]
    per_class: dict[str, dict[str, Any]]


class MetricsResult(Record):
    """``metrics.json``: every metric overall and per class (null with a note when it could not be computed)."""

    FILE = "metrics.json"
    real: ImageSetRef
    fake: ImageSetRef
    overall: dict[str, Any]
    per_class: dict[str, dict[str, Any]]
    reference: Reference | None
    notes: dict[str, Any]
    info: dict[str, Any]
    config: dict[str, Any]

    def note_lines(self) -> list[str]:
        """The notes as flat lines for a page: the top-level ones, then the per-class ones."""
        lines = [f"{k}: {v}" for k, v in self.notes.items() if isinstance(v, str)]
        for cls, per in (self.notes.get("per_class") or {}).items():
            lines += [f"{cls}, {k}: {v}" for k, v in per.items()]
        return lines
