"""CLI verb ``synthmed filter``: keep the synthetic images that pass confidence, realism and near-copy tests."""

from __future__ import annotations

from pathlib import Path

import typer

from synthmed.filter.options import FilterOptions
from synthmed.utils.options import cli_command, output_options, validate


def _filter(values: dict, out: Path, overwrite: bool) -> None:
    from synthmed.filter.filtering import filter_synthetic

    opts: FilterOptions = validate(FilterOptions, values)
    summary = filter_synthetic(opts.synthetic, opts.real, out, opts.classifier, seed=opts.seed,
                               calibration=opts.calibration, overwrite=overwrite,
                               cache_dir=opts.cache_dir if opts.cache_dir is not None else "default",
                               **opts.rule_kwargs())
    typer.echo(render(summary))
    typer.echo(f"wrote {out} (scores: {out / 'filter_scores.csv'})")


def filter_command():
    """``filter``: one option per field of synthmed.filter.options.FilterOptions, declared there once."""
    extra = output_options("Output folder for the filtered prepared dataset.")
    return cli_command(FilterOptions, _filter, extra=extra, name="filter")


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
    app.command("filter")(filter_command())
