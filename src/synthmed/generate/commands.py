"""CLI verb of the generation stage: ``generate``."""

from __future__ import annotations

from pathlib import Path

import typer

from synthmed.generate.options import GenerateOptions
from synthmed.utils.options import cli_command, output_options, validate


def _generate(values: dict, out: Path, overwrite: bool) -> None:
    from synthmed.dataset import PreparedDataset
    from synthmed.generate.generate import generate_dataset
    from synthmed.prepare.info import describe, render_table

    o: GenerateOptions = validate(GenerateOptions, values)
    if o.masks is not None:
        from synthmed.lesion.generate import generate_from_masks
        from synthmed.lesion.masks import MaskAugment

        generate_from_masks(o.checkpoint, o.masks, out, copies=o.copies,
                            augment=MaskAugment() if o.mask_augment else None, seed=o.seed, device=o.device,
                            overwrite=overwrite, progress=o.progress)
    else:
        generate_dataset(o.checkpoint, out, per_class=o.per_class, total=o.total, balance_to=o.balance_to,
                         trunc=o.trunc, seed=o.seed, batch=o.batch, resolution=o.resolution, device=o.device,
                         overwrite=overwrite, progress=o.progress, steps=o.steps, guidance=o.guidance)
    typer.echo(render_table(describe(PreparedDataset.open(out))))


def generate_command():
    """``generate``: one option per field of synthmed.generate.options.GenerateOptions, declared there once."""
    extra = output_options("Output folder (a prepared dataset, split train).")
    return cli_command(GenerateOptions, _generate, extra=extra, name="generate")


def register(app: typer.Typer) -> None:
    app.command("generate")(generate_command())
