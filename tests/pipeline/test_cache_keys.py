"""Every option a stage reads is in its cache key: change any field in turn and the key changes.

A stage's key takes its config sections whole (``stages.key_options``), so this walks every field of every
section, nested option models included, rather than a list that could miss the next option added.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from synthmed.pipeline.config import ExperimentConfig, build_config
from synthmed.pipeline.runner import Stage, code_fingerprint, config_keyed, stage_key
from synthmed.pipeline.stages import stages_for
from synthmed.prepare.medmnist_source import default_root

# Values of other types than declared (the copies skip validation): pydantic warns when dumping them.
pytestmark = pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")

SECTIONS = [name for name, f in ExperimentConfig.model_fields.items() if isinstance(f.default_factory, type)]


def _other(value: Any) -> Any:
    """A different value of the same kind (the key hashes values; validation is not the point here)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list | tuple):
        return [*value, *(value[:1] or [1])]
    if isinstance(value, dict):
        return {**value, "x": 1}
    return "x"  # None


def _fields(model: BaseModel, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], bool]]:
    """(path, in_key) of every leaf field; nested models are walked."""
    out = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        exempt = isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("cache_key") is False
        if isinstance(value, BaseModel):
            out += [(p, keyed and not exempt) for p, keyed in _fields(value, (*path, name))]
        else:
            out.append(((*path, name), not exempt))
    return out


def _changed(model: BaseModel, path: tuple[str, ...]) -> BaseModel:
    if path == ("data", "root"):  # the same MedMNIST files, named another way: a path, not content
        return model.model_copy(update={"data": model.data.model_copy(update={"root": f"{default_root()}/."})})
    head, *rest = path
    value = getattr(model, head)
    return model.model_copy(update={head: _changed(value, tuple(rest)) if rest else _other(value)})


def _key(stage: Stage, cfg: ExperimentConfig) -> str:
    return stage_key(stage, stage.options(cfg), {})


def _reads(stage: Stage, cfg: ExperimentConfig) -> set[tuple[str, ...]]:
    """The config paths a stage's key is made of: whole sections and single dotted fields."""
    if stage.name == "report":
        return {(s,) for s in SECTIONS} | {(n,) for n in ExperimentConfig.model_fields if n not in SECTIONS}
    return {tuple(k.split(".")) for k in stage.options(cfg) if k.split(".")[0] in ExperimentConfig.model_fields}


CONFIG = build_config({"classify": {"real_fractions": [1.0, 0.25]}})
STAGES = stages_for(CONFIG)


@pytest.mark.parametrize("stage", STAGES, ids=[s.name for s in STAGES])
def test_every_option_the_stage_reads_changes_its_key(stage: Stage) -> None:
    before = _key(stage, CONFIG)
    reads = _reads(stage, CONFIG)
    assert stage.name == "subset-f0.25" or any(len(r) == 1 and r[0] in SECTIONS for r in reads), reads
    unchanged, changed = [], []
    for path, keyed in _fields(CONFIG):
        read = any(path[:len(r)] == r for r in reads)
        after = _key(stage, _changed(CONFIG, path))
        if read and (keyed or stage.name == "report") and after == before:
            unchanged.append(".".join(path))
        if not (keyed or stage.name == "report") and after != before:
            changed.append(".".join(path))
    assert not unchanged, f"{stage.name}: these options do not change the key: {unchanged}"
    assert not changed, f"{stage.name}: these options, marked NOT_IN_KEY, change the key: {changed}"


def test_the_keys_follow_the_code() -> None:
    """synthmed's version and the source of the stage's own packages are in the key."""
    stage = next(s for s in STAGES if s.name == "filter")
    assert {"filter", "generate", "gan"} <= set(stage.code)
    assert code_fingerprint(("filter",)) != code_fingerprint(("stats",))
    assert code_fingerprint(("filter",)) == code_fingerprint(("filter",))
    other = Stage(stage.name, stage.deps, stage.options, stage.run, code=("stats",))
    assert _key(other, CONFIG) != _key(stage, CONFIG)
    with pytest.raises(ValueError, match="no such synthmed package"):
        code_fingerprint(("nope",))


def test_config_keyed_stages_ignore_the_code_but_not_the_options(monkeypatch) -> None:
    """A study's stages (``config_keyed``) keep their keys over an edit of synthmed's source, and still follow their
    options and synthmed's version."""
    from synthmed.pipeline import runner

    stage = next(s for s in STAGES if s.name == "filter")
    (pinned,) = config_keyed([stage])
    assert pinned.code == () and stage.code != ()
    before, before_pinned = _key(stage, CONFIG), _key(pinned, CONFIG)
    original = runner.code_fingerprint
    monkeypatch.setattr(runner, "code_fingerprint", lambda parts: "edited source" if parts else original(parts))
    assert _key(stage, CONFIG) != before
    assert _key(pinned, CONFIG) == before_pinned
    other = CONFIG.model_copy(update={"filter": CONFIG.filter.model_copy(update={"drop_worst_realism": 0.3})})
    assert _key(pinned, other) != before_pinned


def test_the_version_is_in_the_key(monkeypatch) -> None:
    import synthmed

    stage = STAGES[0]
    before = _key(stage, CONFIG)
    monkeypatch.setattr(synthmed, "__version__", "99.0")
    assert _key(stage, CONFIG) != before
