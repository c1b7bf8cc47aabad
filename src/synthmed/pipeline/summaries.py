"""What each stage of the main job records in its ``StageRecord.summary``, declared: the runner checks a stage's
summary against its model before the stage counts as done, and the report reads summaries through them, so a
renamed or missing key fails where it is written or read, not as an empty section.

Fields that runs made by earlier versions lack are optional (the report says what it cannot show for them).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from synthmed.filter.result import TopUp


class _Summary(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Seen(_Summary):
    """Real images a stage learnt from or was scored on, by content (``PreparedDataset.images_hash``)."""

    split: str
    n: int
    images_hash: str


class SubsetSeen(Seen):
    trained_hash: str | None = None  # the same images at the classifiers' resolution


class PrepareSummary(_Summary):
    dataset: str
    counts: dict[str, Any]
    classes: list[str]
    content_hash: str
    source: str
    resolution: int
    channels: int
    masks: int = 0
    # Recorded by earlier versions, stale once gan.resolution or classify.resolution changed (they are not in the
    # prepare key): the GAN's and the grid's summaries record the resolution each trained at.
    gan_resolution: int | None = None
    classify_resolution: int | None = None
    train_hash: str | None = None


class SubsetSummary(_Summary):
    dataset: str
    fraction: float
    n: int
    counts: dict[str, int]
    images_hash: str


class GanSummary(_Summary):
    run: str  # the GAN run folder, relative to the stage folder
    resumed: bool
    kimg: float
    fraction: float = 1.0
    real: Seen | None = None
    resolution: int | None = None


class GenerateSummary(_Summary):
    dataset: str
    per_class: int | list[int]
    counts: dict[str, dict[str, int]] | None = None  # per split, per class


class MetricsSummary(_Summary):
    real: Seen | None = None


class FilterSummary(_Summary):
    kept: int
    removed: int
    real: Seen | None = None
    calibrated_on: Seen | None = None
    top_up: TopUp | None = None


class ClassifySummary(_Summary):
    experiment: str  # the experiment folder, relative to the stage folder
    runs: int
    ratios: list[int]
    synthetic_only: bool
    notes: list[str] = []
    real_subsets: dict[str, SubsetSeen] | None = None
    oracle_gan: bool = False
    gan_of_fraction: dict[str, float] | None = None
    val: Seen | None = None
    test: Seen | None = None
    resolution: int | None = None


class StatsSummary(_Summary):
    verdicts: list[str]


class ReportSummary(_Summary):
    sections: list[str]


# By chain step or stage name (``Scope.parse`` gives a scoped stage's step).
SUMMARIES: dict[str, type[_Summary]] = {
    "prepare": PrepareSummary, "subset": SubsetSummary, "gan": GanSummary, "generate": GenerateSummary,
    "metrics": MetricsSummary, "filter": FilterSummary, "classify": ClassifySummary, "stats": StatsSummary,
    "report": ReportSummary}
