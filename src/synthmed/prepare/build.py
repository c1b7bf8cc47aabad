"""Write a source into a prepared dataset (built in a temporary folder, renamed at the end).

In-memory sources (MedMNIST) go through ``build_from_arrays``; file sources (folder, CSV) through
``build_from_files``, which streams: a header pass checks every file and counts channels (and, with
``--skip-bad``, drops what fails), the split is made per file, then each file is decoded, preprocessed
and written one at a time, so memory holds one volume at most.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from synthmed.dataset import DatasetWriter
from synthmed.errors import BadInputError, SynthmedError
from synthmed.prepare.file_sources import FileItem, FileSource, missing_file_error
from synthmed.prepare.masks import check_mask_sizes, preprocess_mask, read_mask
from synthmed.prepare.medmnist_source import ArraySource
from synthmed.prepare.preprocess import PreprocessOptions, auto_resolution, preprocess, preprocess_unit
from synthmed.prepare.readers import (
    ReadOptions,
    equal_channels,
    kind_of,
    probe_image,
    read_image,
    read_nifti_masks,
)
from synthmed.prepare.splitting import assign_splits
from synthmed.utils.atomic import check_output_folder, write_text


def source_channels(images_by_split: list) -> int:
    """Majority channel count of the source (1 or 3); mixed sources convert to it."""
    counts: Counter[int] = Counter()
    for images in images_by_split:
        counts[1 if images.ndim == 3 or images.shape[-1] in (1, 2) else 3] += len(images)
    return counts.most_common(1)[0][0] if counts else 1


def _bar(total: int, desc: str, progress: bool):
    # disable=None: a bar on a terminal, silence in pipes and tests (stderr stays one error line).
    return tqdm(total=total, desc=desc, unit="file" if desc != "prepare" else "img", disable=None if progress else True)


def build_from_arrays(source: ArraySource, out: Path, opts: PreprocessOptions, overwrite: bool = False,
                      progress: bool = True) -> dict:
    """Preprocess every image of an in-memory source and write the prepared dataset."""
    channels = opts.channels or source_channels([imgs for imgs, _ in source.splits.values()])
    total = sum(len(labels) for _, labels in source.splits.values())
    with DatasetWriter(out, source.classes, opts.resolution, channels, opts.bit_depth, overwrite) as writer:
        with _bar(total, "prepare", progress) as bar:
            for split, (images, labels) in source.splits.items():
                for image, label in zip(images, labels, strict=True):
                    writer.add(preprocess(image, opts, channels), int(label), split)
                    bar.update(1)
        meta = writer.finish(source=source.description,
                             preprocessing={**opts.to_dict(), "channels": channels})
    return meta


def build_from_files(source: FileSource, out: Path, opts: PreprocessOptions, read_opts: ReadOptions,
                     ratios: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 0,
                     skip_bad: bool = False, overwrite: bool = False, progress: bool = True,
                     group_by_patient: bool = True) -> dict:
    """Check, split, read, preprocess and write every file of a folder or CSV source.

    ``opts.resolution`` None: the source's most common side (``preprocess.auto_resolution``).
    ``group_by_patient`` False: a CSV's ``patient_id`` is recorded but does not group the split.
    """
    check_output_folder(out.absolute(), overwrite)  # fail before reading thousands of files
    skipped: list[dict[str, str]] = []
    items, channel_counts, shapes = _probe_all(source, read_opts, skip_bad, skipped, progress)
    _require_every_class(source, {it.label for it in items}, "after skipping bad files" if skipped else "")
    if opts.resolution is None:
        opts = replace(opts, resolution=auto_resolution(shapes, opts.square))
    splits, split_meta = _splits(source, items, ratios, seed, group_by_patient)
    channels = opts.channels or channel_counts.most_common(1)[0][0]
    conversions = Conversions(opts, channels)
    with DatasetWriter(out, source.classes, opts.resolution, channels, opts.bit_depth, overwrite) as writer:
        with _bar(len(items), "prepare", progress) as bar:
            for item, split in zip(items, splits, strict=True):
                bar.update(1)
                try:
                    slices = read_image(item.path, read_opts, item.mask)
                    masks = _slice_masks(item, read_opts, slices)
                except BadInputError as exc:
                    if not skip_bad:
                        raise
                    skipped.append({"path": str(item.path), "reason": exc.problem})
                    continue
                for (pixels, info), mask in zip(slices, masks, strict=True):
                    conversions.count(pixels, info)
                    writer.add(preprocess_unit(pixels, opts, channels), item.label, split,
                               mask=preprocess_mask(mask, opts) if mask is not None else None,
                               **_entry_extra(item, source, info))
        written = {e["label"] for entries in writer.splits.values() for e in entries}
        _require_every_class(source, written, "after skipping bad files")
        extra: dict[str, Any] = {"split": split_meta, "conversions": conversions.summary()}
        if skip_bad:
            extra["skipped"] = skipped
            write_text(writer._tmp / "skipped.csv", _skipped_csv(skipped))  # inside the temporary folder
        return writer.finish(source=source.description,
                             preprocessing={**opts.to_dict(), "channels": channels, "read": read_opts.to_dict()},
                             **extra)


def _probe_all(source: FileSource, read_opts: ReadOptions, skip_bad: bool, skipped: list[dict[str, str]],
               progress: bool) -> tuple[list[FileItem], Counter[int], list[tuple[int, int]]]:
    """Header pass: files exist and open; channel counts and sizes. Bad files raise, or are skipped with reasons."""
    kept: list[FileItem] = []
    channels: Counter[int] = Counter()
    shapes: list[tuple[int, int]] = []
    with _bar(len(source.items), "check", progress) as bar:
        for item in source.items:
            bar.update(1)
            try:
                if not _is_file(item.path):
                    raise missing_file_error(item)
                n_channels, shape = probe_image(item.path, read_opts)
                _probe_masks(item, read_opts.max_pixels)
                channels[n_channels] += 1
                shapes.append(shape)
            except BadInputError as exc:
                if not skip_bad:
                    raise
                skipped.append({"path": str(item.path), "reason": exc.problem if item.where == str(item.path)
                                else f"{exc.problem} ({item.where})"})
                continue
            kept.append(item)
    return kept, channels, shapes


def _slice_masks(item: FileItem, read_opts: ReadOptions, slices: list) -> list:
    """One mask (or None) per image of the file: a raster image's merged masks, a NIfTI slice's mask plane."""
    shape = slices[0][0].shape[:2]
    if item.masks:
        return [read_mask(item.path, item.masks, shape, read_opts.max_pixels)]
    if kind_of(item.path) == "nifti":
        planes = read_nifti_masks(item.path, read_opts, item.mask, [info["slice"] for _, info in slices], shape)
        if planes is not None:
            return planes
    return [None] * len(slices)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the filesystem, and the like
        return False


def _probe_masks(item: FileItem, max_pixels: int) -> None:
    """Masks exist, are raster images, and have their image's size (read from the headers)."""
    if not item.masks:
        return
    for mask in item.masks:
        if not _is_file(mask):
            raise BadInputError(item.where, f"mask file not found: {mask}")
    if kind_of(item.path) != "raster":
        raise BadInputError(item.where, "a stored mask needs a PNG/JPEG/TIFF/BMP image (NIfTI masks choose slices)")
    check_mask_sizes(item.path, item.masks, max_pixels)


def _require_every_class(source: FileSource, present: set[int], why: str) -> None:
    for label, name in enumerate(source.classes):
        if label not in present:
            raise SynthmedError(f"class '{name}' has no usable images {why}".strip())


def _splits(source: FileSource, items: list[FileItem], ratios: tuple[float, float, float],
            seed: int, group_by_patient: bool = True) -> tuple[list[str], dict[str, Any]]:
    if source.has_splits:
        return [str(it.split) for it in items], {"method": "given (CSV split column)"}
    patients = [it.patient_id for it in items] if group_by_patient else [None] * len(items)
    grouped = all(p is not None for p in patients)
    if any(p is not None for p in patients) and not grouped:
        missing = next(it for it in items if it.patient_id is None)
        raise BadInputError(missing.where, "patient_id is empty here but given for other rows (fill it for all)")
    splits = assign_splits([it.label for it in items], patients if grouped else None, ratios, seed,
                           source.classes)
    method = "StratifiedGroupKFold by patient_id" if grouped else "stratified train_test_split"
    return splits, {"method": method, "ratios": list(ratios), "seed": seed}


def _entry_extra(item: FileItem, source: FileSource, info: dict[str, Any]) -> dict[str, Any]:
    """Per-image fields: patient_id (from the user's CSV), slice/frame, and the source file name.

    DICOM file names often embed patient names or ids, so for DICOM no file name is recorded.
    """
    extra: dict[str, Any] = {}
    if item.patient_id is not None:
        extra["patient_id"] = item.patient_id
    if kind_of(item.path) != "dicom":
        try:
            extra["source_file"] = item.path.relative_to(source.root).as_posix()
        except ValueError:  # a CSV row pointing outside its folder
            extra["source_file"] = item.path.name
    return {**extra, **info}


class Conversions:
    """Counts how source images were changed to fit one size and channel count."""

    def __init__(self, opts: PreprocessOptions, channels: int) -> None:
        self.opts, self.channels = opts, channels
        self.counts: Counter[str] = Counter()
        self.sizes: Counter[str] = Counter()

    def count(self, pixels: np.ndarray, info: dict[str, Any] | None = None) -> None:
        h, w = pixels.shape[:2]
        c = 1 if pixels.ndim == 2 else pixels.shape[2]
        self.counts["images"] += 1
        if (info or {}).get("non_finite_voxels"):
            self.counts["non_finite_voxels_to_minimum"] += 1
        self.sizes[f"{h}x{w}x{c}"] += 1
        if c in (2, 4):
            self.counts["alpha_dropped"] += 1
        if (1 if c in (1, 2) else 3) != self.channels:
            # RGB files of a gray picture are counted apart from real colour made gray (which loses colour).
            gray_rgb = self.channels == 1 and equal_channels(pixels)
            self.counts["equal_channel_rgb_to_gray" if gray_rgb else "to_gray" if self.channels == 1 else "to_rgb"] += 1
        if h != w:
            self.counts["padded_to_square" if self.opts.square == "pad" else "cropped_to_square"] += 1
        side = max(h, w) if self.opts.square == "pad" else min(h, w)
        if side != self.opts.resolution:
            self.counts["resized"] += 1

    def summary(self) -> dict[str, Any]:
        return {**dict(self.counts), "source_shapes": dict(self.sizes.most_common(10))}


def _skipped_csv(skipped: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["path", "reason"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(skipped)
    return buf.getvalue()
