"""CLI verb ``synthmed filter``: keep the synthetic images that pass confidence, realism and near-copy tests."""

from __future__ import annotations

from pathlib import Path

import typer


def filter_(
    synthetic: str = typer.Option(..., "--synthetic", help="Synthetic prepared dataset, DIR[:split]."),
    real: str = typer.Option(..., "--real", help="Real prepared dataset, DIR[:split] (the classifier and "
                             "near-copy check use its train split)."),
    out: Path = typer.Option(..., "--out", help="Output folder for the filtered prepared dataset."),
    classifier: Path | None = typer.Option(None, "--classifier", help="Model folder from 'synthmed "
                                           "train-classifier' or a TorchScript module (default: a CNN trained on "
                                           "the real train split)."),
    real_pass_rate: float = typer.Option(0.9, "--real-pass-rate", help="Keep when P(intended class) is at least "
                                         "what this fraction of the real val images of the class reach for their "
                                         "own class (0: off)."),
    min_confidence: float | None = typer.Option(None, "--min-confidence", help="Also keep only when P(intended "
                                                "class) >= this fixed value (off by default)."),
    realism_real_pass_rate: float = typer.Option(0.0, "--realism-real-pass-rate", help="Keep when the realism "
                                                 "score is at least what this fraction of the real val images of "
                                                 "the class reach (0: off)."),
    calibration: str | None = typer.Option(None, "--calibration", help="Real images the pass rates are calibrated "
                                           "on, DIR[:split] (default: the --real dataset's val split)."),
    drop_worst_realism: float = typer.Option(0.0, "--drop-worst-realism",
                                             help="Drop this fraction of each class with the lowest realism score."),
    drop_near_copies: bool = typer.Option(True, "--drop-near-copies/--keep-near-copies",
                                          help="Drop images flagged as near copies of training images."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Model/feature cache (default: "
                                          "$SYNTHMED_CACHE or ~/.cache/synthmed)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    seed: int = typer.Option(0, "--seed", help="Seed for the default CNN."),
) -> None:
    """Filter a synthetic set; writes the kept images, filter_scores.csv and per-class counts."""
    from synthmed.filter.filtering import filter_synthetic

    summary = filter_synthetic(synthetic, real, out, classifier, min_confidence, drop_worst_realism,
                               drop_near_copies, seed, real_pass_rate=real_pass_rate or None,
                               realism_real_pass_rate=realism_real_pass_rate or None, calibration=calibration,
                               cache_dir=cache_dir if cache_dir is not None else "default", overwrite=overwrite)
    typer.echo(render(summary))
    typer.echo(f"wrote {out} (scores: {out / 'filter_scores.csv'})")


def _cell(value: int | float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if isinstance(value, float) else str(value)


def render(summary: dict) -> str:
    cols = ("total", "kept", "removed", "low_confidence", "unrealistic", "near_copy", "synthetic_pass_rate",
            "real_pass_rate")
    heads = ("total", "kept", "removed", "low_confidence", "unrealistic", "near_copy", "synthetic pass", "real pass")
    width = max(len(c) for c in summary["per_class"]) + 2
    lines = ["rules: " + "; ".join(summary.get("rules", [])),
             f"{'class':<{width}}" + "".join(f"{h:>15}" for h in heads)]
    for name, row in summary["per_class"].items():
        lines.append(f"{name:<{width}}" + "".join(f"{_cell(row.get(c)):>15}" for c in cols))
    lines.append(f"kept {summary['kept']}, removed {summary['removed']} (a removed image counts under its first "
                 f"failed test: low_confidence, unrealistic, then near_copy; real pass: the real validation "
                 f"images of the class that pass the same confidence and realism rules)")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    app.command("filter")(filter_)
