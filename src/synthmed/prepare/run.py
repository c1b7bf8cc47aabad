"""A prepared dataset from ``PrepareOptions``: what ``synthmed prepare`` and the pipeline's prepare stage run."""

from __future__ import annotations

import shutil
from pathlib import Path

from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.prepare.build import build_from_arrays, build_from_files
from synthmed.prepare.file_sources import FileSource, fingerprint, read_csv_source, scan_folder
from synthmed.prepare.medmnist_source import default_root, locate_or_download, medmnist_filename, read_medmnist
from synthmed.prepare.options import PrepareOptions
from synthmed.prepare.preprocess import PreprocessOptions
from synthmed.prepare.readers import ReadOptions
from synthmed.prepare.resize import resize_dataset
from synthmed.utils.atomic import atomic_dir
from synthmed.utils.hashing import sha256_file


def data_root(opts: PrepareOptions) -> Path | None:
    return Path(opts.root) if opts.root else default_root()


def read_options(opts: PrepareOptions) -> ReadOptions:
    return ReadOptions(window_center=opts.window_center, window_width=opts.window_width,
                       nifti_slices=opts.nifti_slices, nifti_mask_suffix=opts.nifti_mask,
                       nifti_volume=opts.nifti_volume, max_pixels=opts.max_pixels)


def file_source(opts: PrepareOptions) -> FileSource:
    if opts.source == "csv":
        return read_csv_source(Path(opts.csv), opts.allow_outside)  # type: ignore[arg-type]
    kind = opts.source if opts.source in ("dicom", "nifti") else None
    return scan_folder(Path(opts.source_path), read_options(opts), kind=kind)  # type: ignore[arg-type]


def source_content(opts: PrepareOptions) -> str:
    """The source's content as one hash (its path is not in it: moving the data changes nothing)."""
    if opts.source == "medmnist":
        path = (data_root(opts) or Path.home() / ".medmnist") / medmnist_filename(opts.medmnist.lower(), opts.size)
        return sha256_file(path) if path.is_file() else "not downloaded yet"
    if opts.source == "dataset":
        return PreparedDataset.open(opts.dataset).content_hash  # type: ignore[arg-type]
    return fingerprint(file_source(opts))


def prepare_dataset(opts: PrepareOptions, out: Path, overwrite: bool = False, progress: bool = True) -> dict:
    """Build the prepared dataset of ``opts`` in ``out``; returns its manifest's metadata."""
    if opts.source == "medmnist":
        name = opts.medmnist.lower()  # type: ignore[union-attr]
        path = locate_or_download(name, opts.size, data_root(opts))
        pre = PreprocessOptions(resolution=opts.resolution or opts.size, channels=opts.channels)
        return build_from_arrays(read_medmnist(path, name), out, pre, overwrite=overwrite, progress=progress)
    if opts.source == "dataset":
        return _from_prepared(opts, out, overwrite)
    pre = PreprocessOptions(resolution=opts.resolution, channels=opts.channels, bit_depth=opts.bit_depth,
                            square=opts.square, resize_filter=opts.resize_filter)
    return build_from_files(file_source(opts), out, pre, read_options(opts), ratios=tuple(opts.split_ratios),
                            seed=opts.split_seed, skip_bad=opts.skip_bad, group_by_patient=opts.group_by_patient,
                            overwrite=overwrite, progress=progress)


def _from_prepared(opts: PrepareOptions, out: Path, overwrite: bool) -> dict:
    """An already prepared dataset, copied (so the result stands alone), resized when ``resolution`` asks."""
    src = PreparedDataset.open(opts.dataset)  # type: ignore[arg-type]
    if opts.channels not in (None, src.channels):
        raise SynthmedError(f"channels {opts.channels}: the prepared dataset {src.root} has {src.channels} "
                            "(prepare it again from its source with the channels you want)")
    if opts.resolution not in (None, src.resolution):
        return resize_dataset(src, out, opts.resolution, opts.resize_filter, overwrite).meta  # type: ignore[arg-type]
    # The copy reads every file; check first that each entry stays inside the dataset (symlinks resolved) and that
    # the files are the ones the manifest hashed, so nothing from outside is copied in under the dataset's name.
    src.verify_content()
    with atomic_dir(out, overwrite) as tmp:
        shutil.copytree(src.root, tmp, ignore=shutil.ignore_patterns(".*"), dirs_exist_ok=True)
    return PreparedDataset.open(out).meta
