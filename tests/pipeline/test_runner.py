"""The stage cache with toy stages: keys, cache hits, what a changed option re-runs, resume after a failure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from synthmed.pipeline.runner import Stage, StageContext, StageRecord, execute, plan, stage_key


@dataclass
class Cfg:
    a: int = 1
    b: int = 2
    fail_in: str | None = None
    calls: list[str] = field(default_factory=list)


def _stage(name: str, deps: tuple[str, ...], option: str | None, resumable: bool = False) -> Stage:
    def run(ctx: StageContext) -> dict:
        ctx.config.calls.append(name)
        (ctx.work / "progress.txt").open("a").write("x")  # what a resumable stage finds again
        if ctx.config.fail_in == name:
            raise KeyboardInterrupt  # as if the run were killed here
        total = sum(json.loads((p / "out.json").read_text())["value"] for p in ctx.inputs.values())
        value = total + (getattr(ctx.config, option) if option else 0)
        (ctx.work / "out.json").write_text(json.dumps({"value": value}))
        return {"value": value, "progress": len((ctx.work / "progress.txt").read_text())}

    return Stage(name, deps, lambda cfg: {option: getattr(cfg, option)} if option else {}, run, resumable=resumable)


STAGES = [_stage("one", (), "a"), _stage("two", ("one",), "b", resumable=True), _stage("three", ("two",), None),
          _stage("side", ("one",), None)]


def test_outputs_flow_downstream_and_rerun_is_all_cached(tmp_path) -> None:
    cfg = Cfg()
    lines: list[str] = []
    execute(STAGES, cfg, tmp_path, echo=lines.append)
    assert cfg.calls == ["one", "two", "three", "side"]
    final = StageRecord.load(next((tmp_path / "stages").glob("three-*")))
    assert final.summary["value"] == 1 + 2
    assert any("done in" in line for line in lines)
    cfg2 = Cfg()
    lines = []
    planned = execute(STAGES, cfg2, tmp_path, echo=lines.append)
    assert cfg2.calls == [] and [p.status for p in planned] == ["cached"] * 4
    assert all("cached" in line for line in lines)


def test_changed_option_reruns_only_what_depends_on_it(tmp_path) -> None:
    execute(STAGES, Cfg(), tmp_path, echo=lambda _: None)
    cfg = Cfg(b=5)
    assert [p.status for p in plan(STAGES, cfg, tmp_path)] == ["cached", "run", "run", "cached"]
    execute(STAGES, cfg, tmp_path, echo=lambda _: None)
    assert cfg.calls == ["two", "three"]
    cfg = Cfg(a=10)
    execute(STAGES, cfg, tmp_path, echo=lambda _: None)
    assert cfg.calls == ["one", "two", "three", "side"]  # everything reads stage one


def test_keys_depend_on_options_and_upstream_keys() -> None:
    s = STAGES[1]
    assert stage_key(s, {"b": 1}, {"one": "k1"}) == stage_key(s, {"b": 1}, {"one": "k1"})
    assert stage_key(s, {"b": 1}, {"one": "k1"}) != stage_key(s, {"b": 2}, {"one": "k1"})
    assert stage_key(s, {"b": 1}, {"one": "k1"}) != stage_key(s, {"b": 1}, {"one": "k2"})


@pytest.mark.parametrize("killed", ["one", "two", "three"])
def test_killed_run_resumes(tmp_path, killed: str) -> None:
    cfg = Cfg(fail_in=killed)
    with pytest.raises(KeyboardInterrupt):
        execute(STAGES, cfg, tmp_path, echo=lambda _: None)
    # The killed stage left no stage folder, only its work folder.
    assert not list((tmp_path / "stages").glob(f"{killed}-*"))
    assert list((tmp_path / "work").glob(f"{killed}-*"))
    order = ["one", "two", "three", "side"]
    done_before = order[:order.index(killed)]
    status = {p.name: p.status for p in plan(STAGES, Cfg(), tmp_path)}
    assert all(status[n] == "cached" for n in done_before)
    assert status[killed] == ("resume" if killed == "two" else "run")
    cfg = Cfg()
    execute(STAGES, cfg, tmp_path, echo=lambda _: None)
    assert cfg.calls == order[order.index(killed):]
    done = StageRecord.load(next((tmp_path / "stages").glob(f"{killed}-*"))).summary
    # A resumable stage continued in its work folder; the others started again from nothing.
    assert done["progress"] == (2 if killed == "two" else 1)
    assert not any((tmp_path / "work").iterdir())


def test_skipped_stage_is_reported_to_dependents(tmp_path) -> None:
    seen = {}

    def run(ctx: StageContext) -> dict:
        seen.update(inputs=dict(ctx.inputs), skipped=dict(ctx.skipped))
        return {}

    stages = [Stage("opt", (), lambda c: {}, run, skip=lambda c: "turned off"), Stage("user", ("opt",), lambda c: {},
                                                                                     run)]
    planned = execute(stages, Cfg(), tmp_path, echo=lambda _: None)
    assert [p.status for p in planned] == ["skipped", "done"]
    assert seen == {"inputs": {"opt": None}, "skipped": {"opt": "turned off"}}


def test_run_outputs_name_the_finished_stages_and_their_summaries(tmp_path) -> None:
    from synthmed.errors import SynthmedError
    from synthmed.pipeline.outputs import run_outputs

    cfg = Cfg(fail_in="three")
    with pytest.raises(KeyboardInterrupt):
        execute(STAGES, cfg, tmp_path, echo=lambda _: None)
    partial = run_outputs(cfg, tmp_path, STAGES)  # killed in "three": one and two are done, three and side not
    assert not partial.complete and partial.finished("three") is None and partial.summary("three") == {}
    assert partial.finished("two") == next((tmp_path / "stages").glob("two-*"))
    assert partial.summary("two") == {"value": 3, "progress": 1}
    with pytest.raises(SynthmedError, match="stage three has status 'run'; run the config first"):
        partial.require("three")
    with pytest.raises(SynthmedError, match="stage four is not a stage of this config"):
        partial.require("four")
    execute(STAGES, Cfg(), tmp_path, echo=lambda _: None)
    done = run_outputs(Cfg(), tmp_path, STAGES)
    assert done.complete and done.summary("three")["value"] == 3 and set(done.seconds()) == {"one", "two", "three",
                                                                                              "side"}


def test_a_summary_the_stage_does_not_declare_stops_the_stage(tmp_path) -> None:
    from pydantic import BaseModel, ValidationError

    class Declared(BaseModel):
        model_config = {"extra": "forbid"}
        value: int

    good = Stage("one", (), lambda cfg: {}, lambda ctx: {"value": 1}, summary=Declared)
    execute([good], Cfg(), tmp_path / "a", echo=lambda _: None)
    renamed = Stage("one", (), lambda cfg: {}, lambda ctx: {"valeu": 1}, summary=Declared)
    with pytest.raises(ValidationError):
        execute([renamed], Cfg(), tmp_path / "b", echo=lambda _: None)
    assert not (tmp_path / "b" / "stages").exists()  # nothing counts as done
