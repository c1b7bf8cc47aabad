"""Run a list of stages with a cache keyed by the hash of each stage's options and inputs.

A stage's key is ``sha256(stage name, its code, its options, the keys of the stages it reads)``, so a
changed option changes that stage's key and the key of everything downstream, and nothing else. Its code is
synthmed's version and a fingerprint of the source of the stage's own packages (``Stage.code``): after an
upgrade, or an edit of that package in a checkout, the stage runs again instead of reusing what older code built.

A key can only go stale when a stage's run reads a config field its options leave out, so the runner gives each
run a config that records the fields it reads (``RecordingConfig``) and checks them against the key afterwards
(``uncovered_reads``): a read the key misses is a synthmed bug, an error under ``SYNTHMED_STRICT_READS=1`` (the
test suite sets it) and a warning line in a user's run, whose outputs are right for this run's config.

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

import functools
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

import synthmed
from synthmed.errors import SynthmedError
from synthmed.utils.hashing import sha256_json
from synthmed.utils.records import Record


class StageRecord(Record):
    """A finished stage's ``done.json``: its key, options, timing and the summary its run function returned."""

    FILE = "done.json"
    stage: str
    key: str
    options: dict[str, Any]
    deps: list[str]
    seconds: float
    cpu_seconds: float
    finished_at: str
    summary: dict[str, Any]


def stage_folder(out: Path, name: str, key: str, building: bool = False) -> Path:
    """Where a stage lives in the run folder ``out``: ``stages/`` when finished, ``work/`` while it is built."""
    return out / ("work" if building else "stages") / f"{name}-{key[:12]}"


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
    ``skip(config)`` returns a reason when the stage is turned off;
    ``code``: the synthmed packages (``"filter"``) or modules (``"dataset"``) whose source is in the key;
    ``summary``: the model of the summary ``run`` returns.
    """

    name: str
    deps: tuple[str, ...]
    options: Callable[[Any], dict]
    run: Callable[[StageContext], dict]
    resumable: bool = False
    skip: Callable[[Any], str | None] = field(default=lambda cfg: None)
    version: int = 1
    code: tuple[str, ...] = ()
    summary: type[BaseModel] | None = None  # what ``run`` returns, checked before the stage counts as done


@dataclass
class PlannedStage:
    name: str
    key: str
    options: dict
    deps: tuple[str, ...]
    status: str  # "cached", "run", "resume", "skipped"
    folder: Path
    reason: str | None = None

    def entry(self, out: Path) -> PlanEntry:
        """The plan's line in ``run.json``: the folder relative to the run folder ``out``, so that a moved or
        copied run folder reads its own stages."""
        folder = self.folder.relative_to(out) if self.folder.is_relative_to(out) else self.folder
        return PlanEntry(stage=self.name, key=self.key, status=self.status, folder=folder.as_posix(),
                         deps=list(self.deps), reason=self.reason, options=self.options)


class PlanEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: str
    key: str
    status: str
    folder: str  # relative to the run folder (absolute in run folders made before they were portable)
    deps: list[str]
    reason: str | None
    options: dict[str, Any]

    def resolve(self, run_dir: Path) -> Path:
        """The stage's folder inside ``run_dir``, wherever the run folder has moved since."""
        folder = Path(self.folder)
        if not folder.is_absolute():
            return run_dir / folder
        return run_dir / folder.parent.name / folder.name  # an older run.json: stages/NAME-KEY or work/NAME-KEY


class RunRecord(Record):
    """``run.json`` at the top of a run folder: the resolved config, seeds, environment and the plan."""

    FILE = "run.json"
    name: str
    config: dict[str, Any]
    seeds: dict[str, Any]
    environment: dict[str, Any]
    started_at: str
    finished_at: str | None = None
    seconds: float | None = None
    plan: list[PlanEntry]

    def finished_stages(self, run_dir: Path) -> dict[str, Path]:
        """Each finished stage's folder in ``run_dir`` (a stage whose folder has no record is left out)."""
        out = {}
        for p in self.plan:
            folder = p.resolve(run_dir)
            if p.status != "skipped" and StageRecord.exists(folder):
                out[p.stage] = folder
        return out


def config_keyed(stages: list[Stage]) -> list[Stage]:
    """``stages`` with their code left out of their keys: a stage's key then changes with its options, its inputs
    and synthmed's version only. For studies whose units of work take hours (``benchmarks/``): an edit of synthmed
    between two sessions of a study must not throw a finished generator away, or restart one that was cut off; the
    study records the commit each unit ran at instead. ``synthmed run`` keeps the code in its keys."""
    return [replace(s, code=()) for s in stages]


def stage_key(stage: Stage, options: dict, dep_keys: dict[str, str]) -> str:
    return sha256_json({"stage": stage.name, "version": stage.version, "synthmed": synthmed.__version__,
                        "code": code_fingerprint(stage.code), "options": options, "deps": dep_keys})


@functools.cache
def code_fingerprint(parts: tuple[str, ...]) -> str:
    """sha256 of the source files (and templates) of synthmed packages or modules, by path and content (of nothing
    for no parts: ``config_keyed``)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for part in parts:
        base = root.joinpath(*part.split("."))
        module = base.with_suffix(".py")
        files = [module] if module.is_file() else sorted(
            p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        if not files:
            raise ValueError(f"stage code {part!r}: no such synthmed package or module")
        for path in files:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


# -- the config fields a stage's run reads ----------------------------------------------------------------------
STRICT_READS = "SYNTHMED_STRICT_READS"  # "1": a read the stage's key misses stops the stage (the test suite sets it)
WHOLE_CONFIG = "config"  # an options entry of this name stands for the whole config (the report's key: its hash)


class UncoveredReadError(RuntimeError):
    """A stage's run read config fields that its cache key does not cover: a synthmed bug, not bad input."""


class ConfigReads:
    """The dotted config paths a run read (``""``: the whole config), and those exempt from the key (``NOT_IN_KEY``)."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.exempt: set[str] = set()

    def add(self, path: str, exempt: bool = False) -> None:
        (self.exempt if exempt else self.paths).add(path)


def _not_in_key(info: Any) -> bool:
    return isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("cache_key") is False


class RecordingConfig:
    """A read-only view of a pydantic config that records the path of every field read through it.

    Hand-written because what a stage's run reads is only known by running it: nested models come back as views,
    leaf values as they are; a property (``data.source``) is evaluated on the view, so it records the fields it
    reads; any other attribute (``model_dump()``, ``rule_kwargs()``) records its whole path and comes from the
    model itself. ``isinstance`` sees the model's class, so helpers that check it or pass the config on work
    unchanged; a field marked ``NOT_IN_KEY`` (or anything under one) is recorded as exempt.
    """

    __slots__ = ("_exempt", "_model", "_path", "_reads")

    def __init__(self, model: BaseModel, reads: ConfigReads, path: str = "", exempt: bool = False) -> None:
        for name, value in (("_model", model), ("_reads", reads), ("_path", path), ("_exempt", exempt)):
            object.__setattr__(self, name, value)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(view, ExperimentConfig), as for the model
        return type(self._model)

    def __getattr__(self, name: str) -> Any:  # only for names the view itself lacks: the model's
        model = self._model
        info = type(model).model_fields.get(name)
        path = f"{self._path}.{name}" if self._path else name
        if info is not None:
            value = getattr(model, name)
            exempt = self._exempt or _not_in_key(info)
            if isinstance(value, BaseModel):
                return RecordingConfig(value, self._reads, path, exempt)
            self._reads.add(path, exempt)
            return value
        attribute = getattr(type(model), name, None)
        if isinstance(attribute, property):
            return attribute.fget(self)
        self._reads.add(self._path, self._exempt)
        return getattr(model, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a stage may not change its config ({self._path or 'config'}.{name})")

    def __repr__(self) -> str:
        return f"RecordingConfig({self._path or 'config'}: {self._model!r})"


def key_paths(options: dict, config: Any) -> set[str]:
    """The config paths a stage's options take: each entry named by one (a section ``classify``, a dotted field
    ``classify.ratios``); ``WHOLE_CONFIG`` (the report's hash of it all): ``""``, the whole config."""
    fields = type(config).model_fields
    paths = {k for k in options if k.split(".")[0] in fields}
    return paths | ({""} if WHOLE_CONFIG in options and WHOLE_CONFIG not in fields else set())


def key_coverage(planned: list[PlannedStage], config: Any) -> dict[str, set[str]]:
    """Each stage's covered config paths: its own options' and, as its key holds their keys, its inputs'."""
    out: dict[str, set[str]] = {}
    for p in planned:  # in order: a stage's inputs come before it
        out[p.name] = key_paths(p.options, config).union(*(out[d] for d in p.deps))
    return out


def uncovered_reads(reads: ConfigReads, covered: set[str]) -> list[str]:
    """The paths read that no covered path is, or lies under (exempt ones aside)."""
    return sorted(p for p in reads.paths if not any(c == "" or p == c or p.startswith(c + ".") for c in covered))


def _check_reads(name: str, reads: ConfigReads, covered: set[str], echo: Callable[[str], None]) -> None:
    missing = uncovered_reads(reads, covered)
    if not missing:
        return
    shown = ", ".join(p or "the whole config" for p in missing)
    line = (f"stage {name} read config fields its cache key does not cover: {shown} (a later run that changes them "
            "would reuse this output; the key's options must take them, or the field be marked NOT_IN_KEY)")
    if os.environ.get(STRICT_READS) == "1":
        raise UncoveredReadError(line)
    echo(f"warning: {line}; please report this synthmed bug")


def plan(stages: list[Stage], config: Any, out: Path) -> list[PlannedStage]:
    """Compute every stage's key and whether it is cached, to run, to resume or skipped."""
    keys: dict[str, str] = {}
    planned: list[PlannedStage] = []
    for stage in stages:
        options = stage.options(config)
        key = stage_key(stage, options, {d: keys[d] for d in stage.deps})
        keys[stage.name] = key
        final, work = stage_folder(out, stage.name, key), stage_folder(out, stage.name, key, building=True)
        reason = stage.skip(config)
        if reason:
            status, folder = "skipped", final
        elif StageRecord.exists(final):
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
        lines += [f"{'':>{width + 8}}{k}: {v}" for k, v in _flat(p.options)]
    return "\n".join(lines)


def _flat(options: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested options as dotted keys (``gan.options.width``), one line each in the plan."""
    out: list[tuple[str, Any]] = []
    for k, v in options.items():
        out += _flat(v, f"{prefix}{k}.") if isinstance(v, dict) and v else [(f"{prefix}{k}", v)]
    return out


def execute(stages: list[Stage], config: Any, out: Path, echo: Callable[[str], None] = print) -> list[PlannedStage]:
    """Run the plan: cached stages are skipped, the others built in work/ and renamed into stages/."""
    planned = plan(stages, config, out)
    # A pydantic config (the pipeline's) is read through a recording view; other configs (toy ones) as they are.
    covered = key_coverage(planned, config) if isinstance(config, BaseModel) else None
    by_name = {s.name: s for s in stages}
    _remove_stale_work(out, planned)
    inputs: dict[str, Path | None] = {}
    summaries: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    width = max(len(p.name) for p in planned)
    for i, p in enumerate(planned, 1):
        prefix = f"[{i}/{len(planned)}] {p.name:<{width}}"
        final = stage_folder(out, p.name, p.key)
        if p.status == "skipped":
            inputs[p.name], skipped[p.name] = None, p.reason or "skipped"
            echo(f"{prefix}  skipped ({p.reason})")
            continue
        if p.status == "cached":
            inputs[p.name], summaries[p.name] = final, StageRecord.load(final).summary
            echo(f"{prefix}  cached  {final}")
            continue
        stage = by_name[p.name]
        echo(f"{prefix}  {'resuming' if p.status == 'resume' else 'running'} ...")
        start = time.monotonic()
        summary = _build(stage, p, config, out, inputs, summaries, skipped,
                         None if covered is None else covered[p.name], echo)
        seconds = time.monotonic() - start
        inputs[p.name], summaries[p.name] = final, summary
        p.status, p.folder = "done", final
        echo(f"{prefix}  done in {format_seconds(seconds)}")
    return planned


def _build(stage: Stage, p: PlannedStage, config: Any, out: Path, inputs: dict, summaries: dict,
           skipped: dict, covered: set[str] | None, echo: Callable[[str], None]) -> dict:
    """Build one stage; ``covered``: the config paths its key covers (None: a config that is not recorded)."""
    work, final = stage_folder(out, p.name, p.key, building=True), stage_folder(out, p.name, p.key)
    if work.exists() and not stage.resumable:
        shutil.rmtree(work)  # a non-resumable stage that was cut off starts again from nothing
    work.mkdir(parents=True, exist_ok=True)
    reads = ConfigReads()
    seen = RecordingConfig(config, reads) if covered is not None else config
    ctx = StageContext(p.name, work, seen, {d: inputs.get(d) for d in stage.deps},
                       {d: summaries[d] for d in stage.deps if d in summaries},
                       {d: skipped[d] for d in stage.deps if d in skipped}, out)
    start, cpu_start = time.monotonic(), time.process_time()
    try:
        summary = stage.run(ctx) or {}
    except SynthmedError as exc:  # one line that also says which stage stopped
        raise SynthmedError(f"stage {p.name}: {exc}") from None
    if covered is not None:  # before done.json: under SYNTHMED_STRICT_READS such a stage is not kept
        _check_reads(p.name, reads, covered, echo)
    if stage.summary is not None:  # a key the stage's summary model does not declare is a bug: fail here
        summary = stage.summary.model_validate(summary).model_dump(exclude_unset=True)
    StageRecord(stage=p.name, key=p.key, options=p.options, deps=list(p.deps),
                seconds=round(time.monotonic() - start, 2), cpu_seconds=round(time.process_time() - cpu_start, 2),
                finished_at=datetime.now(UTC).isoformat(timespec="seconds"), summary=summary).write(work)
    if final.exists():  # an incomplete leftover (no done.json) from an interrupted rename
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(work, final)
    return summary


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
