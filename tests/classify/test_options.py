"""train-classifier and metrics options come from their option models: bounds hold on the command line."""

from __future__ import annotations

import pytest
import typer.main

from synthmed.cli import app, main
from synthmed.utils.options import cli_fields


def _one_line_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--epochs", "0", "--epochs: Input should be greater than or equal to 1"),
    ("--batch-size", "1", "--batch-size: Input should be greater than or equal to 2"),
    ("--lr-schedule", "step", "--lr-schedule: Input should be 'constant' or 'cosine'"),
    ("--balance", "both", "--balance: Input should be 'none', 'weights' or 'sampler'"),
])
def test_train_classifier_refuses_bad_values_in_one_line(tmp_path, capsys, option, value, message) -> None:
    err = _one_line_error(["train-classifier", "--train", str(tmp_path), "--val", str(tmp_path), "--out",
                           str(tmp_path / "model"), option, value], capsys)
    assert message in err and not (tmp_path / "model").exists()


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--msssim-pairs", "0", "--msssim-pairs: Input should be greater than or equal to 1"),
    ("--skip", "fdr", "--skip[0]: Input should be 'frd' or 'inception'"),
    ("--max-images", "1", "--max-images: Input should be greater than or equal to 2"),
])
def test_metrics_refuses_bad_values_in_one_line(tmp_path, capsys, option, value, message) -> None:
    err = _one_line_error(["metrics", "--real", str(tmp_path), "--fake", str(tmp_path), option, value], capsys)
    assert message in err


def test_commands_have_one_option_per_model_field() -> None:
    from synthmed.classify.options import TrainConfig
    from synthmed.metrics.options import MetricsOptions

    commands = typer.main.get_command(app).commands
    assert {p.name for p in commands["train-classifier"].params} == set(cli_fields(TrainConfig)) | {"out", "overwrite"}
    assert {p.name for p in commands["metrics"].params} == set(cli_fields(MetricsOptions)) | {"out"}
    assert "--no-download" in next(p for p in commands["metrics"].params if p.name == "allow_download").secondary_opts
