"""Property tests (Hypothesis): configs drawn from the config's own schema, and a little off it.

Whatever YAML the schema could receive (every section and key, values of each field's type, its edges and
non-finite numbers, wrong types, unknown keys), ``load_config`` either returns a config or raises a one-line
``SynthmedError``; a config it accepts writes back (``synthmed init``'s commented YAML) to the same config,
and its dry run plans it or stops with one line, never a traceback.

Why a hand-written strategy: hypothesis-jsonschema is not a dependency, and the pydantic annotations say more
than the JSON schema (Literal choices, the further-options models); walking them keeps the strategy in step
with every key the models gain.
"""

from __future__ import annotations

import math
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from synthmed.errors import SynthmedError
from synthmed.pipeline.config import SOURCE_KEYS, ExperimentConfig, load_config, to_commented_yaml

# Fixed examples keep the suite fast and repeatable; SYNTHMED_FUZZ_EXAMPLES=2000 runs a longer random search.
_LONG = int(os.environ.get("SYNTHMED_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 100, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

NUMBERS = st.one_of(st.integers(-3, 3), st.sampled_from([0, 1, 2, 8, 16, 28, 32, 64, 100, 1000, 10**9]),
                    st.sampled_from([0.5, 0.9, 1.5, math.inf, -math.inf, math.nan]),
                    st.floats(allow_nan=True, allow_infinity=True, width=32))
ANY_SCALAR = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=6), st.just([]), st.just({}))


def _origin_args(annotation: Any) -> tuple[Any, tuple]:
    return typing.get_origin(annotation), typing.get_args(annotation)


def values_of(annotation: Any) -> st.SearchStrategy:
    """Values of the annotation's type, its edge values, and (rarely) anything at all."""
    origin, args = _origin_args(annotation)
    if origin is typing.Annotated:
        return values_of(args[0])
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(values_of(a) for a in args))
    if origin is Literal:
        return st.sampled_from(args)
    if origin is list:
        return st.lists(values_of(args[0] if args else Any), max_size=4)
    if origin is dict:
        return st.dictionaries(st.text(max_size=5), ANY_SCALAR, max_size=2)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sections(annotation)
    if annotation is type(None):
        return st.none()
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.one_of(st.integers(-3, 3), st.sampled_from([8, 28, 32, 64, 224, 1000, 10**9]))
    if annotation is float:  # non-finite values half the time: bounds like kimg > 0 let infinity through
        return st.one_of(st.sampled_from([math.inf, -math.inf, math.nan]), NUMBERS)
    if annotation is str:
        return st.one_of(st.sampled_from(["auto", "cpu", "cuda:1", "x", "../x", "a b", "", "middle:3", "all"]),
                         st.text(max_size=8))
    return ANY_SCALAR


def sections(model: type[BaseModel]) -> st.SearchStrategy:
    """A mapping of some of ``model``'s keys, each with a value of its type (or rarely off it)."""
    fields = model.model_fields
    return st.dictionaries(st.sampled_from(sorted(fields)), st.none(), max_size=3).flatmap(
        lambda keys: st.fixed_dictionaries({k: _value(fields[k].annotation) for k in keys}))


def _value(annotation: Any) -> st.SearchStrategy:
    """A value of the annotation's type; one draw in twelve anything at all (a wrong type)."""
    return st.integers(0, 11).flatmap(lambda r: ANY_SCALAR if r == 0 else values_of(annotation))


def leaves(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every key of the config as a path (``("gan", "options", "width")``) with its annotation."""
    out = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        nested = [a for a in (annotation, *typing.get_args(annotation))
                  if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested:
            out += leaves(nested[0], (*prefix, name))
        else:
            out.append(((*prefix, name), annotation))
    return out


LEAVES = leaves(ExperimentConfig)


@st.composite
def configs(draw) -> dict:
    """A config that sets one to three keys anywhere in the schema (values of their type, their edges, NaN and
    infinity, and rarely anything at all), sometimes a key the schema lacks, and usually one data source (so
    most draws get past that rule and reach the other checks)."""
    cfg: dict = {}
    for path, annotation in draw(st.lists(st.sampled_from(LEAVES), min_size=1, max_size=3)):
        node = cfg
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = draw(_value(annotation))
    if draw(st.integers(0, 15)) == 0:
        cfg[draw(st.text(min_size=1, max_size=6))] = draw(ANY_SCALAR)
    if draw(st.integers(0, 4)):
        data = {k: v for k, v in cfg.get("data", {}).items() if k not in SOURCE_KEYS}
        data[draw(st.sampled_from(SOURCE_KEYS))] = draw(st.sampled_from(["breastmnist", "imgs", "labels.csv"]))
        cfg["data"] = data
    return cfg


def _one_line(call) -> Any:
    try:
        return call()
    except SynthmedError as exc:
        assert "\n" not in str(exc), repr(str(exc))
        return None


def test_configs_from_the_schema_load_or_fail_in_one_line(tmp_path_factory) -> None:
    from synthmed.pipeline.main import dry_run_text

    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "c.yaml"

    @FUZZ
    @given(data=configs())
    def check(data: dict) -> None:
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        cfg = _one_line(lambda: load_config(path))
        if cfg is None:
            return
        assert isinstance(cfg, ExperimentConfig)
        _assert_finite(cfg)
        again = folder / "again.yaml"
        again.write_text(to_commented_yaml(cfg))
        assert load_config(again) == cfg  # what init writes loads back to the same config
        _one_line(lambda: dry_run_text(cfg, folder / "run"))
        assert not (folder / "run").exists()  # a dry run makes nothing

    check()


def _assert_finite(model: BaseModel) -> None:
    """No accepted config holds NaN or infinity anywhere (a run that never ends, a split that is no split)."""
    for value in model.model_dump().values():
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            else:
                assert not (isinstance(item, float) and not math.isfinite(item)), model


def _takes_floats(annotation: Any) -> bool:
    origin, args = _origin_args(annotation)
    return annotation is float or any(_takes_floats(a) for a in args) if origin is not Literal else False


FLOAT_KEYS = [path for path, annotation in LEAVES if _takes_floats(annotation)]


def test_no_key_takes_a_non_finite_number(tmp_path) -> None:
    """Every key of the schema that takes a float, each alone: .inf, -.inf and .nan are refused by name."""
    assert len(FLOAT_KEYS) >= 20  # the walk found the float keys of every section and further-options model
    path = tmp_path / "c.yaml"
    for keys in FLOAT_KEYS:
        for number in (math.inf, -math.inf, math.nan):
            value = [number, 0.5, 0.5] if keys[-1] == "split_ratios" else [number] if _is_list(keys) else number
            cfg: dict = {"data": {"window_center": 40.0, "window_width": 400.0}}  # the pair: each key alone is refused
            node = cfg
            for part in keys[:-1]:
                node = node.setdefault(part, {})
            node[keys[-1]] = value
            path.write_text(yaml.safe_dump(cfg))
            try:
                load_config(path)
            except SynthmedError as exc:
                assert ".".join(keys) in str(exc) and "\n" not in str(exc), str(exc)
            else:
                raise AssertionError(f"{'.'.join(keys)}: {number} was accepted")


def _is_list(keys: tuple[str, ...]) -> bool:
    annotation = dict(LEAVES)[keys]
    return any(typing.get_origin(a) is list for a in (annotation, *typing.get_args(annotation)))


def test_the_strategy_reaches_valid_configs(tmp_path) -> None:
    """The draws are not all refused: a fuzz that never passes validation would test only the error path."""
    accepted = []

    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(data=configs())
    def count(data: dict) -> None:
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        accepted.append(_one_line(lambda: load_config(path)) is not None)

    count()
    assert 5 <= sum(accepted) < len(accepted)  # both branches are exercised


def test_off_schema_values_named_by_key(tmp_path) -> None:
    """One hand-picked case per kind the fuzz draws, with the message it must give."""
    cases = {"gan: {kimg: .inf}": "gan.kimg", "classify: {seeds: 3}": "classify.seeds",
             "data: {medmnist: breastmnist, split_ratios: [0.5, .nan, 0.5]}": "data.split_ratios",
             "zzz: 1": "zzz: unknown key",
             # found by the long search: a key with a line break; a family's own option
             '"\\n": 1': "'\\n': unknown key", "gan: {options: {drift: .inf}}": "gan.options.drift",
             "gan: {options: {net_kwargs: {}}}": "gan.options.net_kwargs: unknown"}
    for text, where in cases.items():
        path = tmp_path / "c.yaml"
        path.write_text(text + "\n")
        try:
            load_config(path)
        except SynthmedError as exc:
            assert str(exc).startswith(f"{Path(path)}: ") and where in str(exc) and "\n" not in str(exc), str(exc)
        else:
            raise AssertionError(f"{text!r} was accepted")
