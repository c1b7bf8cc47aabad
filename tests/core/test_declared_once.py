"""prepare, generate and filter take their command line and the pipeline's section from one model each."""

from __future__ import annotations

import pytest
import typer.main

from synthmed import cli
from synthmed.filter.options import FilterOptions, FilterRules
from synthmed.generate.options import GenerateOptions, Sampling
from synthmed.pipeline.config import DataConfig, FilterConfig, GenerateConfig, build_config, to_commented_yaml
from synthmed.prepare.options import PrepareOptions
from synthmed.utils.options import cli_fields, flag

CASES = [("prepare", PrepareOptions, DataConfig, PrepareOptions, "data"),
         ("generate", GenerateOptions, GenerateConfig, Sampling, "generate"),
         ("filter", FilterOptions, FilterConfig, FilterRules, "filter")]


def _options(verb: str) -> set[str]:
    command = typer.main.get_command(cli.app).commands[verb]
    return {o for p in command.params for o in p.opts}


@pytest.mark.parametrize(("verb", "model", "section", "shared", "key"), CASES, ids=[c[0] for c in CASES])
def test_command_line_and_config_section_share_one_model(verb, model, section, shared, key) -> None:
    extra = (f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {} for f in cli_fields(model).values())
    names = {flag(e.get("flag", n)) for n, e in zip(cli_fields(model), extra, strict=True)}
    assert names | {"--out", "--overwrite"} == _options(verb)
    for name, field in shared.model_fields.items():
        mine = section.model_fields[name]
        assert (mine.default, mine.description, mine.metadata) == (field.default, field.description, field.metadata)
    written = to_commented_yaml(build_config())
    assert all(f.description.split(";")[0] in written for f in shared.model_fields.values())


def test_a_filter_rule_is_off_at_zero_everywhere(tmp_path) -> None:
    for value in (0, None):  # None: how configs written before said off
        cfg = build_config({"filter": {"min_confidence": value, "realism_real_pass_rate": value,
                                       "real_pass_rate": value}})
        assert cfg.filter.real_pass_rate == 0
        rules = cfg.filter.rule_kwargs()
        assert rules["min_confidence"] is rules["realism_real_pass_rate"] is rules["real_pass_rate"] is None
        assert not cfg.filter.calibrated
    cli_side = FilterOptions(synthetic="s", real="r", min_confidence="0", real_pass_rate="0")
    assert cli_side.rule_kwargs()["min_confidence"] is cli_side.rule_kwargs()["real_pass_rate"] is None
    assert build_config().filter.rule_kwargs()["real_pass_rate"] == 0.9


def test_prepare_takes_literal_numbers_from_the_command_line(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["prepare", "--medmnist", "breastmnist", "--channels", "2", "--out", str(tmp_path / "x")])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "--channels" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["prepare", "--out", str(tmp_path / "x")])
    assert exc.value.code == 1 and "exactly one source" in capsys.readouterr().err
