"""CLI verbs of the prepare stage: ``prepare`` and ``info``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synthmed.errors import SynthmedError


def prepare(
    out: Path = typer.Option(..., "--out", help="Output folder for the prepared dataset."),
    medmnist: str | None = typer.Option(None, "--medmnist", help="MedMNIST dataset name, e.g. breastmnist."),
    size: int = typer.Option(28, "--size", help="MedMNIST image size: 28, 64, 128 or 224."),
    root: Path | None = typer.Option(None, "--root", help="Folder with MedMNIST .npz files "
                                     "(default: $SYNTHMED_DATA_ROOT, then ~/.medmnist)."),
    resolution: int | None = typer.Option(None, "--resolution", help="Output side in pixels "
                                          "(default: the MedMNIST size)."),
    channels: int | None = typer.Option(None, "--channels", help="1 or 3 (default: the source's)."),
    bit_depth: int = typer.Option(8, "--bit-depth", help="PNG bit depth: 8 or 16 (16 for grayscale only)."),
    square: str = typer.Option("pad", "--square", help="pad (zero, centred) or crop (centre) to square."),
    resize_filter: str = typer.Option("lanczos", "--resize-filter",
                                      help="lanczos, bicubic, bilinear, area or nearest."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
) -> None:
    """Turn a source of images into a prepared dataset (PNG images + dataset.json)."""
    from synthmed.dataset import PreparedDataset
    from synthmed.prepare.build import build_from_arrays
    from synthmed.prepare.info import describe, render_table
    from synthmed.prepare.medmnist_source import locate_or_download, read_medmnist

    if medmnist is None:
        raise SynthmedError("choose a source: --medmnist NAME")
    opts = _options(resolution or size, channels, bit_depth, square, resize_filter)
    name = medmnist.lower()
    path = locate_or_download(name, size, root)
    source = read_medmnist(path, name)
    build_from_arrays(source, out, opts, overwrite=overwrite)
    typer.echo(render_table(describe(PreparedDataset.open(out))))


def _options(resolution: int, channels: int | None, bit_depth: int, square: str, resize_filter: str):
    from synthmed.prepare.preprocess import _PIL_FILTERS, PreprocessOptions

    if resolution < 8 or resolution > 4096:
        raise SynthmedError(f"--resolution must be between 8 and 4096, got {resolution}")
    if channels not in (None, 1, 3):
        raise SynthmedError(f"--channels must be 1 or 3, got {channels}")
    if bit_depth not in (8, 16):
        raise SynthmedError(f"--bit-depth must be 8 or 16, got {bit_depth}")
    if square not in ("pad", "crop"):
        raise SynthmedError(f"--square must be pad or crop, got {square}")
    if resize_filter not in _PIL_FILTERS:
        raise SynthmedError(f"--resize-filter must be one of {', '.join(_PIL_FILTERS)}, got {resize_filter}")
    return PreprocessOptions(resolution=resolution, channels=channels, bit_depth=bit_depth,
                             square=square, resize_filter=resize_filter)  # type: ignore[arg-type]


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
    app.command()(prepare)
    app.command()(info)
