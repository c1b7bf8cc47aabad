"""The statistics' output record (``StatsResult``): every comparison of the grid with its baseline.

``stats.json`` holds every number; ``write`` also puts the flat table beside it (``stats.csv``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from synthmed.stats.table import write_outputs
from synthmed.utils.records import Record


class GridCell(BaseModel):
    """Which runs a comparison's side pools (``classify.results.Cell.to_dict``)."""

    model_config = ConfigDict(extra="forbid")
    source: str
    ratio: int | float
    real_fraction: int | float
    augment: str
    arch: str


class Comparison(BaseModel):
    """One configuration against its baseline. The fields every reader relies on are declared; the test
    blocks (ensemble, per seed, across seeds, per class) ride along as the comparison wrote them."""

    model_config = ConfigDict(extra="allow")
    name: str
    config: GridCell
    baseline_name: str
    verdict: str
    sentence: str
    per_class: list[dict[str, Any]] | None = None


class Skipped(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    reason: str


class Strongest(BaseModel):
    """Every synthetic configuration against the strongest real-only arm of its real fraction and arch, chosen on
    validation (``synthmed.stats.headline``): the arms chosen, the comparisons, and their Holm family."""

    model_config = ConfigDict(extra="forbid")
    arms: list[dict[str, Any]]
    comparisons: list[Comparison]
    family: str


class StatsResult(Record):
    FILE = "stats.json"
    settings: dict[str, Any]
    comparisons: list[Comparison]
    skipped: list[Skipped]
    notes: list[str]
    strongest: Strongest | None = None  # absent in stats files made before the strongest-arm headline

    def write(self, folder: str | Path) -> Path:
        path, _ = write_outputs(self.as_dict(), self.path(folder))
        return path
