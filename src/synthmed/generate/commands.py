"""CLI verb of the generation stage: ``generate``."""

from __future__ import annotations

from pathlib import Path

import typer

from synthmed.errors import SynthmedError


def generate(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="Run folder (its best checkpoint) or checkpoint file."),
    out: Path = typer.Option(..., "--out", help="Output folder (a prepared dataset, split train)."),
    per_class: int | None = typer.Option(None, "--per-class", help="N images of every class."),
    total: int | None = typer.Option(None, "--total", help="N images in the real train class proportions."),
    balance_to: int | None = typer.Option(None, "--balance-to", help="Top every class up to N given the real "
                                          "train counts."),
    trunc: float = typer.Option(1.0, "--trunc", help="Truncation psi (1 = none; lower = typical, less diverse)."),
    seed: int = typer.Option(0, "--seed"),
    batch: int = typer.Option(64, "--batch"),
    resolution: int | None = typer.Option(None, "--resolution", help="Output side (default: the training data's)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    masks: str | None = typer.Option(None, "--masks", help="pix2pix runs: DATASET[:split] whose masks (and classes) "
                                     "the images are drawn for; the output has (image, mask, label)."),
    copies: int = typer.Option(1, "--copies", help="With --masks: images per mask, each with its own transform."),
    mask_augment: bool = typer.Option(True, "--mask-augment/--no-mask-augment",
                                      help="With --masks: random flip, rotation, zoom and elastic warp per image."),
) -> None:
    """Sample a trained GAN into a prepared dataset, with provenance per image."""
    from synthmed.dataset import PreparedDataset
    from synthmed.generate.generate import generate_dataset
    from synthmed.prepare.info import describe, render_table

    for name, value in (("--per-class", per_class), ("--total", total), ("--balance-to", balance_to),
                        ("--copies", copies)):
        if value is not None and value < 1:
            raise SynthmedError(f"{name} must be at least 1, got {value}")
    if masks is not None:
        from synthmed.lesion.generate import generate_from_masks
        from synthmed.lesion.masks import MaskAugment

        generate_from_masks(checkpoint, masks, out, copies=copies, augment=MaskAugment() if mask_augment else None,
                            seed=seed, device=device, overwrite=overwrite, progress=progress)
        typer.echo(render_table(describe(PreparedDataset.open(out))))
        return
    generate_dataset(checkpoint, out, per_class=per_class, total=total, balance_to=balance_to, trunc=trunc,
                     seed=seed, batch=batch, resolution=resolution, device=device, overwrite=overwrite,
                     progress=progress)
    typer.echo(render_table(describe(PreparedDataset.open(out))))


def register(app: typer.Typer) -> None:
    app.command()(generate)
