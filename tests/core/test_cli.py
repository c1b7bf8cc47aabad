"""The CLI wires every stage: each registered module imports and adds its verbs."""

from __future__ import annotations

import importlib

import pytest

from synthmed import cli

EXPECTED_VERBS = {"prepare", "info", "train-gan", "generate", "metrics", "filter", "train-classifier", "evaluate",
                  "experiment", "compare", "init", "run", "reader-study", "inject", "lesion-metrics"}


@pytest.mark.parametrize("module", cli.COMMAND_MODULES)
def test_every_stage_module_imports(module: str) -> None:
    assert hasattr(importlib.import_module(module), "register")


def test_every_workflow_verb_is_registered() -> None:
    import typer.main

    group = typer.main.get_command(cli.app)
    assert set(group.commands) >= EXPECTED_VERBS, sorted(EXPECTED_VERBS - set(group.commands))


def test_user_error_is_one_line(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["info", str(tmp_path / "missing")])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing" in err and "Traceback" not in err
