"""train-classifier, experiment and metrics options come from their option models: bounds hold on the command line."""

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
    ("--synthetic-weight", "0", "--synthetic-weight: Input should be greater than 0"),
    ("--synthetic-weight", "2", "--synthetic-weight: Input should be less than or equal to 1"),
    ("--synthetic-smoothing", "0.5", "--synthetic-smoothing: Input should be less than 0.5"),
    ("--synthetic-schedule", "first", "--synthetic-schedule: Input should be 'mixed' or 'pretrain'"),
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
    from synthmed.classify.options import GridConfig, TrainConfig
    from synthmed.metrics.options import MetricsOptions

    commands = typer.main.get_command(app).commands
    assert {p.name for p in commands["train-classifier"].params} == set(cli_fields(TrainConfig)) | {"out", "overwrite"}
    assert {p.name for p in commands["experiment"].params} == set(cli_fields(GridConfig))
    assert {p.name for p in commands["metrics"].params} == set(cli_fields(MetricsOptions)) | {"out"}
    assert "--no-download" in next(p for p in commands["metrics"].params if p.name == "allow_download").secondary_opts


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--sources", "real,mixd", "--sources[1]: Input should be 'real', 'synthetic' or 'mixed'"),
    ("--augment", "flip", "--augment[0]: Input should be 'none', 'traditional' or 'trivialaugment'"),
    ("--seeds", "1..x", "--seeds: expected integers like 1,2,3 or 1..5, got '1..x'"),
    ("--ratios", "0,fifty", "--ratios[1]: Input should be a valid number"),
    ("--real-fractions", "1.5", "--real-fractions[0]: Input should be less than or equal to 1"),
    ("--workers", "0", "--workers: must be auto or a whole number >= 1, got '0'"),
    ("--head", "lin", "--head: Input should be 'linear' or 'bn-leakyrelu'"),
    ("--epochs", "0", "--epochs: Input should be greater than or equal to 1"),  # train-classifier's bound
    ("--draw", "strat", "--draw: Input should be 'stratified', 'proportional', 'balanced', 'top-up' or 'minority'"),
    ("--synthetic-weight", "0", "--synthetic-weight: Input should be greater than 0"),  # train-classifier's bounds
    ("--synthetic-weight", "2", "--synthetic-weight: Input should be less than or equal to 1"),
    ("--synthetic-smoothing", "-0.1", "--synthetic-smoothing: Input should be greater than or equal to 0"),
    ("--ratios", "0,5000", "--ratios[1]: Input should be less than or equal to 1000"),
    ("--ratios", "0,inf", "--ratios[1]: Input should be less than or equal to 1000"),
    ("--lr", "inf", "--lr: must be a finite number, got inf"),
])
def test_experiment_refuses_bad_values_in_one_line(tmp_path, capsys, option, value, message) -> None:
    err = _one_line_error(["experiment", "--real", str(tmp_path), "--out", str(tmp_path / "exp"), option, value],
                          capsys)
    assert message in err and not (tmp_path / "exp").exists()


def _grid_call(argv: list[str], monkeypatch) -> dict:
    from synthmed.classify import experiment

    calls: list[dict] = []
    monkeypatch.setattr(experiment, "run_experiment", lambda real, synthetic, out, **kw: calls.append(
        {"real": real, "synthetic": synthetic, "out": out, **kw}) or [])
    with pytest.raises(SystemExit) as exc:
        main(["experiment", *argv])
    assert exc.value.code == 0
    (call,) = calls
    assert callable(call.pop("echo"))
    return call


def test_experiment_options_reach_the_grid_as_typed(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    defaults = _grid_call(["--real", "r", "--out", str(tmp_path / "e")], monkeypatch)
    assert defaults == {
        "real": "r", "synthetic": None, "out": tmp_path / "e", "ratios": [0.0, 25.0, 50.0, 75.0, 100.0],
        "real_fractions": [1.0], "sources": ["real", "synthetic", "mixed"], "augments": ["none"], "seeds": [1],
        "arch": "cnn", "epochs": 30, "val": None, "test": None, "draw": "stratified", "budget": "steps",
        "pretrained": "none", "head": "linear", "batch_size": 128, "lr": 1e-3, "lr_schedule": "constant",
        "patience": 10, "balance": "none", "synthetic_weight": 1.0, "synthetic_smoothing": 0.0,
        "synthetic_schedule": "mixed", "device": "auto", "workers": None, "threads": None, "ray_address": None}
    monkeypatch.setenv("RAY_ADDRESS", "head:6379")
    given = _grid_call(["--real", "r", "--synthetic", "s", "--out", str(tmp_path / "e"), "--ratios", "0,50",
                        "--real-fractions", "1, 0.25", "--sources", "real,mixed", "--augment", "none,traditional",
                        "--seeds", "1..3,7", "--patience", "0", "--workers", "2", "--threads", "1",
                        "--lr-schedule", "cosine", "--budget", "epochs", "--draw", "top-up",
                        "--synthetic-weight", "0.5", "--synthetic-smoothing", "0.1", "--synthetic-schedule",
                        "pretrain"], monkeypatch)
    assert given == {**defaults, "synthetic": "s", "ratios": [0.0, 50.0], "real_fractions": [1.0, 0.25],
                     "sources": ["real", "mixed"], "augments": ["none", "traditional"], "seeds": [1, 2, 3, 7],
                     "patience": None, "workers": 2, "threads": 1, "lr_schedule": "cosine", "budget": "epochs",
                     "draw": "top-up", "ray_address": "head:6379", "synthetic_weight": 0.5,
                     "synthetic_smoothing": 0.1, "synthetic_schedule": "pretrain"}


def test_a_choice_list_the_description_omits_shows_in_the_help() -> None:
    """Typer renders help as rich markup, where a bare "[fast | slow]" would vanish."""
    from typing import Literal

    from pydantic import BaseModel
    from typer.testing import CliRunner

    from synthmed.utils.options import cli_command

    class Model(BaseModel):
        mode: Literal["fast", "slow"] = "fast"

    tiny = typer.Typer()
    tiny.command("go")(cli_command(Model, lambda values: None, name="go"))
    shown = CliRunner().invoke(tiny, ["--help"], env={"COLUMNS": "120"}).output
    assert "--mode" in shown and "[fast | slow]" in shown
