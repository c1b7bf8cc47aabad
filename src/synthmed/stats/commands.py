"""CLI verb of the statistics stage: ``compare``."""

from __future__ import annotations

from pathlib import Path

import typer


def compare(
    results: Path = typer.Option(..., "--results", help="Experiment folder with results.jsonl (or the file)."),
    out: Path = typer.Option(..., "--out", help="JSON file with every number; the table goes beside it (.csv)."),
    baseline: str = typer.Option("real", "--baseline", help="Source of the baseline configurations."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level (after Holm's correction)."),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples (at least 2000)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap random generator."),
) -> None:
    """Compare every configuration with the real-only baseline: DeLong, bootstrap CIs, McNemar, Wilcoxon, Holm."""
    from synthmed.stats.compare import compare_results
    from synthmed.stats.table import csv_path, render

    result = compare_results(results, baseline=baseline, out=out, alpha=alpha, n_boot=n_boot, seed=seed)
    typer.echo(render(result), nl=False)
    typer.echo(f"wrote {out} and {csv_path(out)}")


def register(app: typer.Typer) -> None:
    app.command()(compare)
