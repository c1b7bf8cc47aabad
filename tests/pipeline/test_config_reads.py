"""A stage's run reads its config through a recording view; a field read outside its cache key fails the stage.

The test suite runs with ``SYNTHMED_STRICT_READS=1`` (tests/conftest.py), so every pipeline test that runs a stage
also checks that stage's key; these tests check the check itself.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydantic import BaseModel, Field
from tests.conftest import write_toy_dataset

from synthmed.pipeline.config import ExperimentConfig, FilterConfig, build_config
from synthmed.pipeline.runner import (
    STRICT_READS,
    WHOLE_CONFIG,
    ConfigReads,
    RecordingConfig,
    Stage,
    StageContext,
    StageRecord,
    UncoveredReadError,
    execute,
)
from synthmed.pipeline.stages import key_options, stages_for
from synthmed.utils.options import NOT_IN_KEY, given


class Section(BaseModel):
    x: int = 1
    y: int = 2
    threads: int = Field(1, json_schema_extra=NOT_IN_KEY)

    @property
    def total(self) -> int:
        return self.x + self.y


class Config(BaseModel):
    seed: int = 0
    a: Section = Field(default_factory=Section)
    b: Section = Field(default_factory=Section)
    runner: Section = Field(default_factory=Section, json_schema_extra=NOT_IN_KEY)


def test_the_view_records_fields_and_behaves_as_the_model() -> None:
    reads = ConfigReads()
    view = RecordingConfig(Config(), reads)
    assert isinstance(view, Config) and isinstance(view.a, Section) and isinstance(view, BaseModel)
    assert view.seed == 0 and view.a.x == 1 and view.a.threads == 1 and view.runner.y == 2
    assert view.b.total == 3  # a property reads through the view: b.x and b.y, not b whole
    assert view.a.model_dump() == {"x": 1, "y": 2, "threads": 1}  # a method: the whole section
    assert reads.paths == {"seed", "a.x", "b.x", "b.y", "a"}
    assert reads.exempt == {"a.threads", "runner.y"}
    with pytest.raises(AttributeError, match="may not change its config"):
        view.seed = 1


def test_the_pipeline_config_passes_through_its_helpers() -> None:
    """What the stages do with ``ctx.config``: properties, rule methods, ``given`` and NOT_IN_KEY fields."""
    reads = ConfigReads()
    cfg = RecordingConfig(ExperimentConfig(), reads)
    assert isinstance(cfg.filter, FilterConfig) and cfg.filter.calibrated
    assert cfg.filter.rule_kwargs() == ExperimentConfig().filter.rule_kwargs()
    assert given(cfg.gan.options) == {} and cfg.data.source == "medmnist"
    assert cfg.device == "auto" and cfg.classify.workers == "auto"
    assert {"filter", "filter.real_pass_rate", "gan.options", "data.medmnist"} <= reads.paths
    assert {"device", "classify.workers"} <= reads.exempt


def _stage(name: str, deps: tuple[str, ...], key: tuple[str, ...], reads: tuple[str, ...]) -> Stage:
    """A stage whose key takes the ``key`` paths and whose run reads the ``reads`` paths (a model: its model_dump();
    "": the whole config's)."""

    def options(cfg: Config) -> dict:
        return {path: "v" for path in key}

    def run(ctx: StageContext) -> dict:
        for path in reads:
            value = ctx.config
            for part in filter(None, path.split(".")):
                value = getattr(value, part)
            if isinstance(value, BaseModel):
                value.model_dump()
        return {}

    return Stage(name, deps, options, run)


def test_a_read_covered_by_the_key_or_an_input_key_passes(tmp_path: Path) -> None:
    stages = [_stage("one", (), ("a",), ("a.x", "a.total", "runner.x", "b.threads")),
              _stage("two", ("one",), ("b.x", "seed"), ("b.x", "a.y", "seed")),  # a.y: in one's key, so in two's
              _stage("all", ("two",), (WHOLE_CONFIG,), ("",))]
    planned = execute(stages, Config(), tmp_path, echo=lambda _: None)
    assert [p.status for p in planned] == ["done"] * 3


@pytest.mark.parametrize("read", ["b.y", "b", "a.x"])
def test_a_read_outside_the_key_fails_the_stage_naming_it(tmp_path: Path, read: str) -> None:
    stages = [_stage("one", (), ("seed",), ()), _stage("two", ("one",), ("b.x",), ("b.x", read))]
    with pytest.raises(UncoveredReadError, match=rf"^stage two read config fields its cache key does not cover: "
                                                 rf"{read} \("):
        execute(stages, Config(), tmp_path, echo=lambda _: None)
    assert not StageRecord.exists(next((tmp_path / "work").glob("two-*")))  # not kept: nothing cached


def test_a_users_run_warns_and_keeps_the_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STRICT_READS)
    lines: list[str] = []
    planned = execute([_stage("one", (), ("a.x",), ("a.y",))], Config(), tmp_path, echo=lines.append)
    assert planned[0].status == "done"
    assert any(line.startswith("warning: stage one read config fields its cache key does not cover: a.y")
               for line in lines)


def _toy_prepare(ctx: StageContext) -> dict:
    write_toy_dataset(ctx.work / "dataset", {"train": [12, 8], "val": [2, 2], "test": [2, 2]}, resolution=8)
    return {}


def test_a_real_stage_whose_key_drops_a_read_fails(tmp_path: Path) -> None:
    """The subset stage draws its images with the run's seed: its key without ``seed`` fails, naming both."""
    cfg = build_config({"classify": {"real_fractions": [1.0, 0.5]}})
    subset = next(s for s in stages_for(cfg) if s.name == "subset-f0.5")
    prepare = Stage("prepare", (), lambda c: {}, _toy_prepare)
    planned = execute([prepare, subset], cfg, tmp_path / "keyed", echo=lambda _: None)
    assert [p.status for p in planned] == ["done", "done"]
    stale = dataclasses.replace(subset, options=lambda c: key_options(c, (), (), fraction=0.5))
    with pytest.raises(UncoveredReadError, match=r"^stage subset-f0\.5 read config fields its cache key does not "
                                                  r"cover: seed "):
        execute([prepare, stale], cfg, tmp_path / "stale", echo=lambda _: None)
