"""CLI verbs of the classify stage: ``train-classifier``, ``evaluate`` and ``experiment``."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import typer

from synthmed.classify.options import GridConfig, TrainConfig
from synthmed.utils.options import cli_command, validate


def _train_classifier(values: dict, out: Path, overwrite: bool) -> None:
    from synthmed.classify.train import train_classifier as run

    cfg = validate(TrainConfig, values)  # every option checked before anything is read
    options = cfg.model_dump(exclude={"train", "val"})
    run(cfg.train, cfg.val, out, overwrite=overwrite, **options)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    typer.echo(f"{out}: best epoch {config['best_epoch']}, val AUC {config['best_val_auc']:.4f}, "
               f"threshold {config['model']['threshold']}, {config['train_seconds']:.0f} s")


def train_classifier_command():
    """``train-classifier``: one option per field of synthmed.classify.options.TrainConfig, declared there once."""

    def opt(name: str, annotation, default, *decls: str, help: str) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                 default=typer.Option(default, *decls, help=help))

    extra = [opt("out", Path, ..., "--out", help="Output model folder."),
             opt("overwrite", bool, False, "--overwrite", help="Replace an existing output folder.")]
    return cli_command(TrainConfig, _train_classifier, extra=extra, name="train_classifier")


def evaluate(
    model: Path = typer.Option(..., "--model", help="Model folder from train-classifier."),
    test: str = typer.Option(..., "--test", help="Real test images, PREPARED[:split] (default split: test)."),
    out: Path = typer.Option(..., "--out", help="Evaluation JSON; predictions.csv is written beside it."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
) -> None:
    """Evaluate on real test images: AUC, accuracy, sensitivity, specificity, F1, confusion matrix, ROC."""
    from synthmed.classify.evaluate import evaluate_model

    r = evaluate_model(model, test, out, device=device)
    typer.echo(f"AUC {r['auc']:.4f}  accuracy {r['accuracy']:.4f}  sensitivity {r['sensitivity']:.4f}  "
               f"specificity {r['specificity']:.4f}  F1 {r['f1']:.4f}  (n={r['n']}; {out})")


def _experiment(values: dict) -> None:
    from synthmed.classify.experiment import run_experiment

    cfg = validate(GridConfig, values)  # every option checked before the grid starts
    rows = run_experiment(cfg.real, cfg.synthetic, cfg.out, **cfg.run_kwargs(), echo=typer.echo)
    typer.echo(f"{len(rows)} runs in {cfg.out / 'results.csv'}")


def experiment_command():
    """``experiment``: one option per field of synthmed.classify.options.GridConfig, declared there once."""
    return cli_command(GridConfig, _experiment, name="experiment")


def register(app: typer.Typer) -> None:
    app.command("train-classifier")(train_classifier_command())
    app.command()(evaluate)
    app.command("experiment")(experiment_command())
