"""CLI verbs of the lesion tools: ``inject`` and ``lesion-metrics``."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def inject(
    checkpoint: Path = typer.Option(..., "--checkpoint", help="An --arch inject run folder or checkpoint file."),
    backgrounds: str = typer.Option(..., "--backgrounds", help="DATASET[:split] (its lesions are avoided or "
                                    "replaced) or a folder of normal images."),
    out: Path = typer.Option(..., "--out", help="Output folder (a prepared dataset, split train)."),
    class_: list[str] = typer.Option(..., "--class", help="Class of the injected lesions (repeat to cycle)."),
    n: int = typer.Option(..., "--n", help="Images to write."),
    masks: str | None = typer.Option(None, "--masks", help="DATASET[:split] whose lesion masks give the shapes "
                                     "(transformed); default: drawn ellipses of --lesion-size."),
    lesion_size: float = typer.Option(0.08, "--lesion-size", help="Ellipse area as a fraction of the image."),
    mask_augment: bool = typer.Option(True, "--mask-augment/--no-mask-augment",
                                      help="With --masks: random flip, rotation, zoom and elastic warp."),
    intensity: float | None = typer.Option(None, "--intensity", help="Lesion mean grey level in [0, 1] "
                                           "(default: drawn from the class's real lesions)."),
    place: str = typer.Option("free", "--place", help="free: where the background has no lesion; replace: over "
                              "the background's own lesion (one lesion per image)."),
    margin: int = typer.Option(3, "--margin", help="Pixels between lesions (free) or the dilation of the replaced "
                               "lesion (replace)."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("cpu", "--device"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Inject generated lesions of a chosen class, shape and place into real images (masks, labels, provenance)."""
    from synthmed.dataset import PreparedDataset
    from synthmed.lesion.inject import InjectOptions, inject_dataset
    from synthmed.lesion.masks import NO_AUGMENT, MaskAugment
    from synthmed.prepare.info import describe, render_table

    opts = InjectOptions(classes=class_, n=n, masks=masks, lesion_size=lesion_size,
                         augment=MaskAugment() if mask_augment else NO_AUGMENT, intensity=intensity, place=place,
                         margin=margin, seed=seed)
    inject_dataset(checkpoint, backgrounds, out, opts, device=device, overwrite=overwrite, progress=progress)
    typer.echo(render_table(describe(PreparedDataset.open(out))))


def lesion_metrics(
    real: str = typer.Argument(..., help="Real DATASET[:split] with masks (default split train)."),
    fake: str = typer.Argument(..., help="Synthetic or injected DATASET[:split] with masks."),
    crop: int = typer.Option(64, "--crop", help="Side of the lesion crops in pixels."),
    frd: bool = typer.Option(True, "--frd/--no-frd", help="Radiomics FRD on the crops (slower)."),
    seed: int = typer.Option(0, "--seed"),
    out: Path | None = typer.Option(None, "--out", help="Also write the results as JSON here."),
) -> None:
    """Lesion-region metrics: domain FID and FRD on lesion crops, boundary score (injected vs real)."""
    from synthmed.lesion.metrics import lesion_metrics as compute
    from synthmed.utils.atomic import write_json

    result = compute(real, fake, crop=crop, frd=frd, seed=seed).to_dict()
    if out is not None:
        write_json(out, result)
    typer.echo(json.dumps(result, indent=2))


def register(app: typer.Typer) -> None:
    app.command()(inject)
    app.command("lesion-metrics")(lesion_metrics)
