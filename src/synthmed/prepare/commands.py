"""CLI verbs of the prepare stage: ``prepare`` and ``info``."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def _prepare(values: dict, out: Path, overwrite: bool) -> None:
    from synthmed.dataset import PreparedDataset
    from synthmed.prepare.info import describe, render_table
    from synthmed.prepare.options import PrepareOptions
    from synthmed.prepare.run import prepare_dataset
    from synthmed.utils.options import validate

    prepare_dataset(validate(PrepareOptions, values), out, overwrite=overwrite)
    typer.echo(render_table(describe(PreparedDataset.open(out))))


def prepare_command():
    """``prepare``: one option per field of synthmed.prepare.options.PrepareOptions (the pipeline's ``data:``)."""
    import inspect

    from synthmed.prepare.options import PrepareOptions
    from synthmed.utils.options import cli_command

    extra = [inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Path,
                               default=typer.Option(..., "--out", help="Output folder for the prepared dataset.")),
             inspect.Parameter("overwrite", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                               default=typer.Option(False, "--overwrite", help="Replace an existing output folder."))]
    return cli_command(PrepareOptions, _prepare, extra=extra, name="prepare")


def info(
    dataset: Path = typer.Argument(..., help="A prepared dataset folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Print classes, counts per split and class, size, channels and imbalance ratio."""
    from synthmed.dataset import PreparedDataset
    from synthmed.prepare.info import describe, render_table

    summary = describe(PreparedDataset.open(dataset))
    typer.echo(json.dumps(summary, indent=2) if as_json else render_table(summary))


def register(app: typer.Typer) -> None:
    app.command("prepare")(prepare_command())
    app.command()(info)
