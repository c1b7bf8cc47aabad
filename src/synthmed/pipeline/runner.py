"""Run a list of stages with a cache keyed by the hash of each stage's options and inputs.

A stage's key is ``sha256(stage name, version, its options, the keys of the stages it reads)``, so a
changed option changes that stage's key and the key of everything downstream, and nothing else.

Layout of a run folder::

    OUT/config.yaml, OUT/run.json           resolved config, seeds, the plan with every key
    OUT/work/<stage>-<key12>/               a stage being built (kept after a kill: resumable stages resume)
    OUT/stages/<stage>-<key12>/done.json    a finished stage: renamed from work/ in one step, so a stage
                                            folder exists only when complete

A re-run skips stages whose folder exists. A run killed at any point resumes: finished stages are cached;
the stage that was cut off starts again, or, for resumable stages (GAN training, the classifier grid),
continues in its work folder with the stage's own resume.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from synthmed.errors import SynthmedError
from synthmed.utils.atomic import write_json
from synthmed.utils.hashing import sha256_json

DONE = "done.json"


@dataclass
class StageContext:
    """What a stage function gets: its work folder, its inputs' folders and summaries, the config."""

    name: str
    work: Path
    config: Any
    inputs: dict[str, Path | None]
    summaries: dict[str, dict]
    skipped: dict[str, str]
    run_dir: Path

    def input(self, name: str) -> Path:
        path = self.inputs.get(name)
        if path is None:
            raise SynthmedError(f"stage {self.name} needs stage {name}, which was skipped: {self.skipped.get(name)}")
        return path


@dataclass
class Stage:
    """One step of the pipeline.

    ``options(config)`` returns everything that changes the stage's output (it goes into the key);
    ``run(ctx)`` builds the output in ``ctx.work`` and returns a small JSON summary;
    ``skip(config)`` returns a reason when the stage is turned off.
    """

    name: str
    deps: tuple[str, ...]
    options: Callable[[Any], dict]
    run: Callable[[StageContext], dict]
    resumable: bool = False
    skip: Callable[[Any], str | None] = field(default=lambda cfg: None)
    version: int = 1


@dataclass
class PlannedStage:
    name: str
    key: str
    options: dict
    deps: tuple[str, ...]
    status: str  # "cached", "run", "resume", "skipped"
    folder: Path
    reason: str | None = None

    def as_dict(self) -> dict:
        return {"stage": self.name, "key": self.key, "status": self.status, "folder": str(self.folder),
                "deps": list(self.deps), "reason": self.reason, "options": self.options}


def stage_key(stage: Stage, options: dict, dep_keys: dict[str, str]) -> str:
    return sha256_json({"stage": stage.name, "version": stage.version, "options": options, "deps": dep_keys})


def plan(stages: list[Stage], config: Any, out: Path) -> list[PlannedStage]:
    """Compute every stage's key and whether it is cached, to run, to resume or skipped."""
    keys: dict[str, str] = {}
    planned: list[PlannedStage] = []
    for stage in stages:
        options = stage.options(config)
        key = stage_key(stage, options, {d: keys[d] for d in stage.deps})
        keys[stage.name] = key
        final = out / "stages" / f"{stage.name}-{key[:12]}"
        work = out / "work" / f"{stage.name}-{key[:12]}"
        reason = stage.skip(config)
        if reason:
            status, folder = "skipped", final
        elif (final / DONE).is_file():
            status, folder = "cached", final
        elif stage.resumable and work.is_dir() and any(work.iterdir()):
            status, folder = "resume", work
        else:
            status, folder = "run", final
        planned.append(PlannedStage(stage.name, key, options, stage.deps, status, folder, reason))
    return planned


def format_plan(planned: list[PlannedStage]) -> str:
    width = max(len(p.name) for p in planned)
    lines = []
    for i, p in enumerate(planned, 1):
        note = f"  ({p.reason})" if p.reason else ""
        lines.append(f"[{i}/{len(planned)}] {p.name:<{width}}  {p.key[:12]}  {p.status:<7} {p.folder}{note}")
        for k, v in p.options.items():
            lines.append(f"{'':>{width + 8}}{k}: {v}")
    return "\n".join(lines)


def execute(stages: list[Stage], config: Any, out: Path, echo: Callable[[str], None] = print) -> list[PlannedStage]:
    """Run the plan: cached stages are skipped, the others built in work/ and renamed into stages/."""
    planned = plan(stages, config, out)
    by_name = {s.name: s for s in stages}
    _remove_stale_work(out, planned)
    inputs: dict[str, Path | None] = {}
    summaries: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    width = max(len(p.name) for p in planned)
    for i, p in enumerate(planned, 1):
        prefix = f"[{i}/{len(planned)}] {p.name:<{width}}"
        final = out / "stages" / f"{p.name}-{p.key[:12]}"
        if p.status == "skipped":
            inputs[p.name], skipped[p.name] = None, p.reason or "skipped"
            echo(f"{prefix}  skipped ({p.reason})")
            continue
        if p.status == "cached":
            done = read_done(final)
            inputs[p.name], summaries[p.name] = final, done.get("summary", {})
            echo(f"{prefix}  cached  {final}")
            continue
        stage = by_name[p.name]
        echo(f"{prefix}  {'resuming' if p.status == 'resume' else 'running'} ...")
        start = time.monotonic()
        summary = _build(stage, p, config, out, inputs, summaries, skipped)
        seconds = time.monotonic() - start
        inputs[p.name], summaries[p.name] = final, summary
        p.status, p.folder = "done", final
        echo(f"{prefix}  done in {format_seconds(seconds)}")
    return planned


def _build(stage: Stage, p: PlannedStage, config: Any, out: Path, inputs: dict, summaries: dict,
           skipped: dict) -> dict:
    work = out / "work" / f"{p.name}-{p.key[:12]}"
    final = out / "stages" / f"{p.name}-{p.key[:12]}"
    if work.exists() and not stage.resumable:
        shutil.rmtree(work)  # a non-resumable stage that was cut off starts again from nothing
    work.mkdir(parents=True, exist_ok=True)
    ctx = StageContext(p.name, work, config, {d: inputs.get(d) for d in stage.deps},
                       {d: summaries[d] for d in stage.deps if d in summaries},
                       {d: skipped[d] for d in stage.deps if d in skipped}, out)
    start, cpu_start = time.monotonic(), time.process_time()
    try:
        summary = stage.run(ctx) or {}
    except SynthmedError as exc:  # one line that also says which stage stopped
        raise SynthmedError(f"stage {p.name}: {exc}") from None
    write_json(work / DONE, {
        "stage": p.name, "key": p.key, "options": p.options, "deps": list(p.deps),
        "seconds": round(time.monotonic() - start, 2), "cpu_seconds": round(time.process_time() - cpu_start, 2),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"), "summary": summary,
    })
    if final.exists():  # an incomplete leftover (no done.json) from an interrupted rename
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(work, final)
    return summary


def read_done(folder: Path) -> dict:
    """A finished stage's record: its key, options, timing and the summary its run function returned."""
    import json

    return json.loads((folder / DONE).read_text(encoding="utf-8"))


def _remove_stale_work(out: Path, planned: list[PlannedStage]) -> None:
    """Drop work folders of non-resumable stages: they are rebuilt from nothing anyway."""
    work_root = out / "work"
    if not work_root.is_dir():
        return
    keep = {f"{p.name}-{p.key[:12]}" for p in planned if p.status == "resume"}
    for child in work_root.iterdir():
        if child.name not in keep and child.is_dir():
            shutil.rmtree(child, ignore_errors=True)


def format_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s"
