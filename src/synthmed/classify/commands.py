"""CLI verbs of the classify stage: ``train-classifier``, ``evaluate`` and ``experiment``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synthmed.errors import SynthmedError

WORKERS_HELP = ("Runs at once: auto (one-thread runs on every core; on a GPU, 4 runs per GPU), N, or 1 (one after "
                "another in this process). More than 1 runs them as Ray tasks.")
THREADS_HELP = "Intra-op threads per run (default: 1 with several workers; torch's default with --workers 1)."
RAY_ADDRESS_HELP = "Run the grid on this Ray cluster (HOST:PORT of 'ray start --head'; also $RAY_ADDRESS)."

LR_SCHEDULE_DEFAULT = "constant"
_SCHEDULE_HELP = "constant, or cosine (annealed to 0 over --epochs)."


def _train_classifier(values: dict, out: Path, overwrite: bool) -> None:
    from synthmed.classify.options import TrainConfig
    from synthmed.classify.train import train_classifier as run
    from synthmed.utils.options import validate

    cfg = validate(TrainConfig, values)  # every option checked before anything is read
    options = cfg.model_dump(exclude={"train", "val"})
    run(cfg.train, cfg.val, out, overwrite=overwrite, **options)
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    typer.echo(f"{out}: best epoch {config['best_epoch']}, val AUC {config['best_val_auc']:.4f}, "
               f"threshold {config['model']['threshold']}, {config['train_seconds']:.0f} s")


def train_classifier_command():
    """``train-classifier``: one option per field of synthmed.classify.options.TrainConfig, declared there once."""
    import inspect

    from synthmed.classify.options import TrainConfig
    from synthmed.utils.options import cli_command

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


def experiment(
    real: str = typer.Option(..., "--real", help="Real prepared dataset (train split used; val/test as below)."),
    synthetic: str | None = typer.Option(None, "--synthetic", help="Synthetic prepared dataset."),
    out: Path = typer.Option(..., "--out", help="Experiment folder (re-run to resume)."),
    ratios: str = typer.Option("0,25,50,75,100", "--ratios", help="Synthetic as % of the real count used."),
    real_fractions: str = typer.Option("1", "--real-fractions", help="Fractions of the real training set, "
                                       "e.g. 1,0.5,0.25,0.1."),
    sources: str = typer.Option("real,synthetic,mixed", "--sources"),
    augment: str = typer.Option("none", "--augment", help="Comma list of none, traditional."),
    seeds: str = typer.Option("1", "--seeds", help="Comma list or range, e.g. 1..5."),
    arch: str = typer.Option("cnn", "--arch"),
    epochs: int = typer.Option(30, "--epochs"),
    val: str | None = typer.Option(None, "--val", help="Default: REAL:val."),
    test: str | None = typer.Option(None, "--test", help="Default: REAL:test."),
    pretrained: str = typer.Option("none", "--pretrained"),
    head: str = typer.Option("linear", "--head"),
    batch_size: int = typer.Option(128, "--batch-size"),
    lr: float = typer.Option(1e-3, "--lr"),
    lr_schedule: str = typer.Option(LR_SCHEDULE_DEFAULT, "--lr-schedule", help=_SCHEDULE_HELP),
    patience: int = typer.Option(10, "--patience", help="0: never stop early."),
    balance: str = typer.Option("none", "--balance", help="none, weights or sampler (see train-classifier)."),
    draw: str = typer.Option("stratified", "--draw", help="Synthetic class mix: proportional (= stratified), "
                             "balanced, top-up or minority (see 'synthmed run' generate.strategy)."),
    budget: str = typer.Option("steps", "--budget", help="steps: every run of a real fraction takes its real-only "
                               "run's optimizer steps; epochs: every run makes --epochs passes over its own set."),
    device: str = typer.Option("auto", "--device"),
    workers: str = typer.Option("auto", "--workers", help=WORKERS_HELP),
    threads: int | None = typer.Option(None, "--threads", help=THREADS_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", envvar="RAY_ADDRESS", help=RAY_ADDRESS_HELP),
) -> None:
    """Train and evaluate every combination; one row per run in OUT/results.csv and results.jsonl."""
    from synthmed.classify.engine import parse_workers
    from synthmed.classify.experiment import run_experiment

    rows = run_experiment(real, synthetic, out, ratios=_floats(ratios, "--ratios"),
                          real_fractions=_floats(real_fractions, "--real-fractions"), sources=_words(sources),
                          augments=_words(augment), seeds=parse_seeds(seeds), arch=arch, epochs=epochs, val=val,
                          test=test, draw=draw, budget=budget, pretrained=pretrained, head=head, batch_size=batch_size,
                          lr=lr,
                          lr_schedule=lr_schedule, patience=patience or None, balance=balance, device=device,
                          workers=parse_workers(workers), threads=threads, ray_address=ray_address, echo=typer.echo)
    typer.echo(f"{len(rows)} runs in {out / 'results.csv'}")


def parse_seeds(text: str) -> list[int]:
    """``1,2,5`` or ``1..5`` (inclusive) or a mix: ``1..3,7``."""
    seeds: list[int] = []
    try:
        for part in _words(text):
            if ".." in part:
                lo, hi = part.split("..")
                seeds += list(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise SynthmedError(f"--seeds: expected integers like 1,2,3 or 1..5, got '{text}'") from None
    return list(dict.fromkeys(seeds))


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _floats(text: str, option: str) -> list[float]:
    try:
        return [float(w) for w in _words(text)]
    except ValueError:
        raise SynthmedError(f"{option}: expected numbers separated by commas, got '{text}'") from None


def register(app: typer.Typer) -> None:
    app.command("train-classifier")(train_classifier_command())
    app.command()(evaluate)
    app.command()(experiment)
