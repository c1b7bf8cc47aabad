"""CLI verbs of the prepare stage: ``prepare`` and ``info``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synthmed.errors import SynthmedError
from synthmed.prepare.readers import DEFAULT_MAX_PIXELS

DEFAULT_FILE_RESOLUTION = 64


def prepare(
    out: Path = typer.Option(..., "--out", help="Output folder for the prepared dataset."),
    medmnist: str | None = typer.Option(None, "--medmnist", help="MedMNIST dataset name, e.g. breastmnist."),
    folder: Path | None = typer.Option(None, "--folder", help="Folder with one subfolder of images per class "
                                       "(PNG, JPEG, TIFF, BMP, DICOM, NIfTI)."),
    csv_file: Path | None = typer.Option(None, "--csv", help="CSV with columns path,label "
                                         "[,patient_id][,split][,mask]; paths relative to the CSV's folder."),
    size: int = typer.Option(28, "--size", help="MedMNIST image size: 28, 64, 128 or 224."),
    root: Path | None = typer.Option(None, "--root", help="Folder with MedMNIST .npz files "
                                     "(default: $SYNTHMED_DATA_ROOT, then ~/.medmnist)."),
    resolution: int | None = typer.Option(None, "--resolution", help="Output side in pixels "
                                          f"(default: the MedMNIST size; {DEFAULT_FILE_RESOLUTION} for files)."),
    channels: int | None = typer.Option(None, "--channels", help="1 or 3 (default: the source's majority; "
                                         "RGB files whose three channels are equal count as gray)."),
    bit_depth: int = typer.Option(8, "--bit-depth", help="PNG bit depth: 8 or 16 (16 for grayscale only)."),
    square: str = typer.Option("pad", "--square", help="pad (zero, centred) or crop (centre) to square."),
    resize_filter: str = typer.Option("lanczos", "--resize-filter",
                                      help="lanczos, bicubic, bilinear, area or nearest."),
    window_center: float | None = typer.Option(None, "--window-center", help="DICOM/NIfTI window centre "
                                               "(after rescale, e.g. HU); default: min-max per image."),
    window_width: float | None = typer.Option(None, "--window-width", help="DICOM/NIfTI window width."),
    nifti_slices: str = typer.Option("all", "--nifti-slices", help="Axial NIfTI slices: all, middle:N, or mask "
                                     "(slices where the volume's mask is non-zero)."),
    nifti_mask: str = typer.Option("_mask", "--nifti-mask", help="Mask file suffix: <name>_mask.nii.gz beside "
                                   "<name>.nii.gz (a CSV 'mask' column overrides). Such files are never images."),
    nifti_volume: int | None = typer.Option(None, "--nifti-volume", help="Volume index K for 4-D NIfTI files."),
    split_ratios: str = typer.Option("0.7,0.15,0.15", "--split-ratios", help="train,val,test when the source "
                                     "has no split (stratified; grouped by patient_id when the CSV gives it)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/val/test split."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip unreadable files; list them in "
                                  "dataset.json 'skipped' and skipped.csv."),
    max_pixels: int = typer.Option(DEFAULT_MAX_PIXELS, "--max-pixels", help="Refuse images with more pixels "
                                   "than this (decompression bombs), before decoding them; --skip-bad skips them."),
    allow_outside: bool = typer.Option(False, "--allow-outside", help="Let CSV paths leave the CSV's folder "
                                       "(absolute or ../); counted in dataset.json source.outside_csv_folder."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
) -> None:
    """Turn a source of images into a prepared dataset (PNG images + dataset.json)."""
    from synthmed.dataset import PreparedDataset
    from synthmed.prepare.info import describe, render_table

    chosen = [name for name, value in (("--medmnist", medmnist), ("--folder", folder), ("--csv", csv_file))
              if value is not None]
    if len(chosen) != 1:
        raise SynthmedError("choose exactly one source: --medmnist NAME, --folder DIR or --csv FILE"
                            + (f" (got {', '.join(chosen)})" if chosen else ""))
    if medmnist is not None:
        _prepare_medmnist(medmnist, size, root, out, _options(size if resolution is None else resolution, channels,
                                                              bit_depth, square, resize_filter), overwrite)
        typer.echo(render_table(describe(PreparedDataset.open(out))))
        return
    from synthmed.prepare.build import build_from_files
    from synthmed.prepare.file_sources import read_csv_source, scan_folder
    from synthmed.prepare.readers import ReadOptions
    from synthmed.prepare.splitting import parse_ratios

    opts = _options(DEFAULT_FILE_RESOLUTION if resolution is None else resolution, channels, bit_depth, square,
                    resize_filter)
    read_opts = ReadOptions(window_center=window_center, window_width=window_width, nifti_slices=nifti_slices,
                            nifti_mask_suffix=nifti_mask, nifti_volume=nifti_volume, max_pixels=max_pixels)
    ratios = parse_ratios(split_ratios)
    source = scan_folder(folder, read_opts) if folder is not None else read_csv_source(csv_file, allow_outside)  # type: ignore[arg-type]
    build_from_files(source, out, opts, read_opts, ratios=ratios, seed=seed, skip_bad=skip_bad, overwrite=overwrite)
    typer.echo(render_table(describe(PreparedDataset.open(out))))


def _prepare_medmnist(name: str, size: int, root: Path | None, out: Path, opts, overwrite: bool) -> None:
    from synthmed.prepare.build import build_from_arrays
    from synthmed.prepare.medmnist_source import locate_or_download, read_medmnist

    name = name.lower()
    path = locate_or_download(name, size, root)
    build_from_arrays(read_medmnist(path, name), out, opts, overwrite=overwrite)


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
    app.command()(prepare)
    app.command()(info)
