"""CLI verbs of the prepare stage: ``prepare`` and ``info``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synthmed.prepare.options import PrepareOptions
from synthmed.utils.options import cli_command, output_options, validate


def _prepare(values: dict, out: Path, overwrite: bool) -> None:
    from synthmed.dataset import PreparedDataset
    from synthmed.prepare.info import describe, render_table
    from synthmed.prepare.run import prepare_dataset

    prepare_dataset(validate(PrepareOptions, values), out, overwrite=overwrite)
    typer.echo(render_table(describe(PreparedDataset.open(out))))


def prepare_command():
    """``prepare``: one option per field of synthmed.prepare.options.PrepareOptions (the pipeline's ``data:``)."""
    extra = output_options("Output folder for the prepared dataset.")
    return cli_command(PrepareOptions, _prepare, extra=extra, name="prepare")


def info(
    dataset: Path = typer.Argument(..., help="A prepared dataset folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    verify: bool = typer.Option(False, "--verify", help="Re-read every image and mask and check them against "
                                "the recorded content hash (reads every byte; opening alone does not)."),
) -> None:
    """Print classes, counts per split and class, size, channels and imbalance ratio."""
    from synthmed.dataset import PreparedDataset
    from synthmed.prepare.info import describe, render_table

    ds = PreparedDataset.open(dataset)
    if verify:
        ds.verify_content()  # one line naming dataset.json on a mismatch
    summary = describe(ds)
    typer.echo(json.dumps(summary, indent=2) if as_json else render_table(summary))
    if verify and not as_json:
        typer.echo(f"content hash verified: {ds.content_hash}")


def register(app: typer.Typer) -> None:
    app.command("prepare")(prepare_command())
    app.command()(info)
