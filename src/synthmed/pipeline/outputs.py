"""What a run folder holds, as typed objects: for code that builds on a run (benchmarks, notebooks).

``run_outputs(cfg, out)`` plans the config's stages against ``out`` (the same keys as ``synthmed run``) and
returns the finished ones, so a caller reaches the classifier grid's folder (read it with
``synthmed.classify.results.load_results``), a GAN's run (``synthmed.gan.run.GanRun``) or a stage's summary
without knowing the run folder's layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from synthmed.errors import SynthmedError
from synthmed.pipeline.config import ExperimentConfig
from synthmed.pipeline.runner import PlannedStage, Stage, StageRecord, plan
from synthmed.pipeline.stages import scope_of_fraction, stages_for, synthetic_stage


@dataclass(frozen=True)
class RunOutputs:
    """The stages of one config in one run folder: each planned stage, and the records of the finished ones."""

    config: ExperimentConfig
    out: Path
    planned: dict[str, PlannedStage]
    records: dict[str, StageRecord]  # each finished stage's record: key, options, seconds, cpu_seconds, summary

    @property
    def keys(self) -> dict[str, str]:
        """Each planned stage's cache key: what a study stores beside its numbers (:func:`saved_unit`)."""
        return {name: p.key for name, p in self.planned.items()}

    @property
    def complete(self) -> bool:
        """Every stage that is not turned off has finished (a re-run would only find them cached)."""
        return all(p.status in ("cached", "skipped") for p in self.planned.values())

    def finished(self, stage: str) -> Path | None:
        """The folder of a finished stage; None while it is to run, to resume, skipped or not in the plan."""
        p = self.planned.get(stage)
        return p.folder if p is not None and p.status == "cached" else None

    def summary(self, stage: str) -> dict:
        """What the finished stage's run function returned (empty when it has not finished)."""
        record = self.records.get(stage)
        return record.summary if record is not None else {}

    def seconds(self) -> dict[str, float]:
        """Wall-clock seconds each finished stage took when it ran (a cached stage keeps its first time)."""
        return {name: r.seconds for name, r in self.records.items()}

    def require(self, stage: str) -> Path:
        folder = self.finished(stage)
        if folder is None:
            p = self.planned.get(stage)
            why = "is not a stage of this config" if p is None else f"has status '{p.status}'" + (
                f" ({p.reason})" if p.reason else "")
            raise SynthmedError(f"{self.out}: stage {stage} {why}; run the config first ('synthmed run')")
        return folder

    @property
    def experiment(self) -> Path:
        """The classifier grid's experiment folder (``load_results`` and ``synthmed.stats`` read it)."""
        return self.require("classify") / self.summary("classify")["experiment"]

    @property
    def real_dataset(self) -> Path:
        """The prepared real dataset (train, val and test splits)."""
        return self.require("prepare") / "dataset"

    def synthetic_sets(self) -> dict[float, Path]:
        """Each real fraction's synthetic dataset, the one the grid's cells of that fraction train on (its GAN's
        filtered set, or its generated set without the filter); its GAN chain must have finished."""
        cfg = self.config
        return {f: self.require(synthetic_stage(cfg, scope_of_fraction(cfg, f))) / "dataset"
                for f in cfg.classify.real_fractions}

    def gan_run(self, fraction: float = 1.0) -> Path | None:
        """The GAN run that made the synthetic images of the cells of real ``fraction`` (None: no GAN chain ran,
        e.g. a grid of real images only)."""
        stage = scope_of_fraction(self.config, fraction).stage("gan")
        folder = self.finished(stage)
        return folder / self.summary(stage)["run"] if folder is not None else None


def run_outputs(cfg: ExperimentConfig, out: Path, stages: list[Stage] | None = None) -> RunOutputs:
    """Plan ``cfg``'s stages against ``out`` (nothing runs) and collect the finished ones."""
    out = out.absolute()
    planned = {p.name: p for p in plan(stages or stages_for(cfg), cfg, out)}
    records = {name: StageRecord.load(p.folder) for name, p in planned.items() if p.status == "cached"}
    return RunOutputs(cfg, out, planned, records)


def saved_unit(path: Path, keys: dict[str, str], what: str) -> dict | None:
    """A study's saved result for one unit of work (a JSON file with the ``stage_keys`` it was made from): its
    content when those are ``keys``, None when there is none yet, and one line naming the file and the stages that
    differ when it was made with another config (so a changed study never reuses old numbers silently)."""
    if not path.is_file():
        return None
    unit = json.loads(path.read_text(encoding="utf-8"))
    saved = unit.get("stage_keys") or {}
    if saved != keys:
        changed = sorted(k for k in set(keys) | set(saved) if keys.get(k) != saved.get(k))
        raise SynthmedError(f"{path}: made with another config (stages {', '.join(changed)} differ); delete it to "
                            f"rerun {what}, or give another --results")
    return unit
