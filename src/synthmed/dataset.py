"""The *prepared dataset*: the one on-disk format every synthmed stage reads and writes.

A prepared dataset is a folder with PNG images (8- or 16-bit, grayscale or RGB, square, one
resolution) and a ``dataset.json``::

    {
      "format": "synthmed-prepared-dataset", "version": 1,
      "classes": ["malignant", "normal_benign"],          # index = label
      "resolution": 64, "channels": 1, "bit_depth": 8,
      "splits": {"train": [{"path": "images/train/000000.png", "label": 0, ...}, ...],
                 "val": [...], "test": [...]},           # a split may be absent
      "counts": {"train": {"malignant": 147, "normal_benign": 399}, ...},
      "source": {...}, "preprocessing": {...},
      "content_hash": "<sha256 of every image's bytes, path and label>",
      "skipped": [{"path": ..., "reason": ...}],           # only with --skip-bad
      "masks": 200                                          # only when entries have masks
    }

Entries may carry extra keys (``patient_id``, generation provenance); readers ignore what
they do not know. ``DIR:split`` on the command line names one split of a dataset.

Masks: an entry may have ``"mask": "images/train/000000_mask.png"``, the segmentation mask of its
image, stored beside it: an 8-bit grayscale PNG of the image's resolution, 0 = background and 255 =
foreground (nothing else), never an image of its own (it is not in any split list and not in the
counts). ``PreparedDataset.has_masks``, ``load_mask(entry)`` and ``load_masks(split)`` read them; the
content hash covers their bytes. ``synthmed prepare`` writes them from ``NAME_mask.png`` files beside
``NAME.png`` or a CSV ``mask`` column (``prepare/masks.py``), and for NIfTI slices from the volume's mask.

Entry paths stay inside the dataset: ``open`` refuses absolute paths and ``..`` in an entry's text, and
reading an image or mask refuses one whose symlinks lead out of the folder (checked when the file is read,
one ``realpath`` per image, so opening a large dataset stays a JSON parse). ``open`` does not re-hash the
images (that reads every byte); ``verify_content`` does, and ``synthmed info --verify`` runs it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from synthmed.errors import BadInputError, SynthmedError
from synthmed.utils.atomic import atomic_dir, write_json
from synthmed.utils.jsonfile import read_json

FORMAT_NAME = "synthmed-prepared-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
MANIFEST = "dataset.json"


def parse_spec(spec: str | Path, default_split: str | None = None) -> tuple[Path, str | None]:
    """Split ``DIR[:split]`` into a path and a split name (``None`` when not given)."""
    text = str(spec)
    head, sep, tail = text.rpartition(":")
    if sep and tail in SPLITS and head:
        return Path(head), tail
    return Path(text), default_split


@dataclass
class PreparedDataset:
    """A prepared dataset on disk; images are read lazily."""

    root: Path
    meta: dict[str, Any]
    _real_root: Path | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def open(cls, root: str | Path) -> PreparedDataset:
        root = Path(root)
        manifest = root / MANIFEST
        if not root.is_dir():
            raise SynthmedError(f"{root}: not a folder (expected a prepared dataset made by 'synthmed prepare')")
        if not manifest.is_file():
            raise SynthmedError(f"{root}: no {MANIFEST} (not a prepared dataset; run 'synthmed prepare' first)")
        meta = read_json(manifest)
        _validate_meta(manifest, meta)
        return cls(root=root, meta=meta)

    @staticmethod
    def exists(root: str | Path) -> bool:
        """Whether ``root`` holds a prepared dataset (finished: its manifest is written last)."""
        return (Path(root) / MANIFEST).is_file()

    @classmethod
    def open_spec(cls, spec: str | Path, default_split: str = "train") -> tuple[PreparedDataset, str]:
        """Open ``DIR[:split]``; check that the split exists and is not empty."""
        path, split = parse_spec(spec, default_split)
        ds = cls.open(path)
        split = split or default_split
        if not ds.entries(split):
            raise SynthmedError(f"{path}: split '{split}' is absent or empty (has: {', '.join(ds.split_names)})")
        return ds, split

    # -- description ---------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def num_classes(self) -> int:
        return len(self.meta["classes"])

    @property
    def resolution(self) -> int:
        return int(self.meta["resolution"])

    @property
    def channels(self) -> int:
        return int(self.meta["channels"])

    @property
    def bit_depth(self) -> int:
        return int(self.meta.get("bit_depth", 8))

    @property
    def content_hash(self) -> str:
        return str(self.meta["content_hash"])

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.root.name)

    @property
    def split_names(self) -> list[str]:
        return [s for s in SPLITS if self.meta["splits"].get(s)]

    def entries(self, split: str) -> list[dict[str, Any]]:
        """A copy of the split's entries (the caller may change it)."""
        return list(self._stored(split))

    def _stored(self, split: str) -> list[dict[str, Any]]:
        """The split's entries themselves, for reading: the per-item loaders must not copy the whole list for
        every image (that made one epoch of a lazily read set O(N^2))."""
        return self.meta["splits"].get(split) or []

    def labels(self, split: str) -> np.ndarray:
        return np.array([e["label"] for e in self._stored(split)], dtype=np.int64)

    def class_counts(self, split: str) -> dict[str, int]:
        counts = Counter(int(e["label"]) for e in self._stored(split))
        return {name: counts.get(i, 0) for i, name in enumerate(self.classes)}

    @property
    def num_masks(self) -> int:
        return sum(1 for s in self.split_names for e in self.entries(s) if e.get("mask"))

    def has_masks(self, split: str) -> bool:
        """True when every entry of ``split`` (non-empty) has a mask."""
        entries = self.entries(split)
        return bool(entries) and all(e.get("mask") for e in entries)

    def split_hash(self, split: str) -> str:
        """Hash of one split's contents (dataset hash + split name), for feature caches."""
        return hashlib.sha256(f"{self.content_hash}:{split}".encode()).hexdigest()

    # -- pixels ---------------------------------------------------------------------------------
    def images_hash(self, split: str, indices: np.ndarray | list[int] | None = None) -> str:
        """sha256 of a set of images by content: each image's label, shape and pixels, in any order or folder.

        Unlike ``content_hash`` it ignores paths and order, so a subset copied into another dataset hashes the
        same as the entries it was taken from: what the leakage audit compares between stages.
        """
        entries = self.entries(split)
        idx = range(len(entries)) if indices is None else [int(i) for i in indices]
        digests = sorted(hashlib.sha256(f"{entries[i]['label']}:{image.shape}:".encode() + image.tobytes()).digest()
                         for i, image in zip(idx, self.load_images(split, list(idx)), strict=True))
        return hashlib.sha256(b"".join(digests)).hexdigest()

    def image_path(self, entry: dict[str, Any]) -> Path:
        return self._inside(entry["path"])

    def _inside(self, rel: str) -> Path:
        """``root / rel``, refused when its symlinks lead out of the dataset folder (``open`` checked the text)."""
        path = self.root / rel
        if self._real_root is None:
            self._real_root = _realpath(self.root)
        real = _realpath(path)
        if real is not None and self._real_root is not None and not real.is_relative_to(self._real_root):
            raise BadInputError(path, f"leads outside the dataset folder (to {real}); entries must stay inside "
                                      f"{self.root}")
        return path

    def verify_content(self) -> None:
        """Re-hash every image and mask and compare with ``content_hash``: one line naming the manifest on a
        mismatch (an image edited, replaced or missing since the dataset was written)."""
        manifest = self.root / MANIFEST
        for split in self.split_names:  # every file through the inside check before anything is read
            for entry in self._stored(split):
                self.image_path(entry)
                self.mask_path(entry)
        try:
            found = content_hash(self.root, self.meta["splits"])
        except OSError as exc:
            raise BadInputError(manifest, f"cannot read {exc.filename} to check the content hash "
                                          f"({exc.strerror})") from None
        if found != self.content_hash:
            raise BadInputError(manifest, f"content hash mismatch: the files hash to {found[:12]}..., the manifest "
                                          f"records {self.content_hash[:12]}... (files changed since it was written)")

    def load_image(self, entry: dict[str, Any]) -> np.ndarray:
        """One image as (H, W, C) uint8 or uint16, exactly as stored."""
        path = self.image_path(entry)
        try:
            with Image.open(path) as im:
                arr = np.asarray(im)
        except (OSError, ValueError) as exc:
            raise BadInputError(path, f"cannot read image ({exc})") from None
        if arr.ndim == 2:
            arr = arr[:, :, None]
        return arr

    def mask_path(self, entry: dict[str, Any]) -> Path | None:
        return self._inside(entry["mask"]) if entry.get("mask") else None

    def load_mask(self, entry: dict[str, Any]) -> np.ndarray | None:
        """The entry's mask as a bool (H, W) array (True = foreground), or None when it has none."""
        path = self.mask_path(entry)
        if path is None:
            return None
        try:
            with Image.open(path) as im:
                arr = np.asarray(im)
        except (OSError, ValueError) as exc:
            raise BadInputError(path, f"cannot read mask ({exc})") from None
        return (arr if arr.ndim == 2 else arr.max(axis=2)) > 0

    def load_masks(self, split: str, indices: np.ndarray | list[int] | None = None) -> np.ndarray:
        """Masks of a split as a bool (N, H, W) array, in the order of ``load_images``; every entry needs one."""
        entries = self.entries(split)
        if indices is not None:
            entries = [entries[int(i)] for i in indices]
        missing = sum(1 for e in entries if not e.get("mask"))
        if missing:
            raise SynthmedError(f"{self.root}: {missing} of {len(entries)} '{split}' entries have no mask")
        if not entries:
            return np.zeros((0, self.resolution, self.resolution), dtype=bool)
        return np.stack([self.load_mask(e) for e in entries])

    def load_images(self, split: str, indices: np.ndarray | list[int] | None = None) -> np.ndarray:
        """Images of a split as an (N, H, W, C) array in their stored dtype."""
        entries = self._stored(split)
        if indices is not None:
            entries = [entries[int(i)] for i in indices]
        if not entries:
            return np.zeros((0, self.resolution, self.resolution, self.channels), dtype=np.uint8)
        return np.stack([self.load_image(e) for e in entries])

    def load_tensor(self, split: str, indices: np.ndarray | list[int] | None = None):
        """Images as a float32 torch tensor (N, C, H, W) scaled to [-1, 1], and labels (N,)."""
        # lazy: this module's only torch; prepare, the statistics and the reader study read datasets without it
        import torch

        images = self.load_images(split, indices)
        x = to_unit_range(images, self.bit_depth) * 2.0 - 1.0
        if indices is None:
            labels = self.labels(split)
        else:
            stored = self._stored(split)
            labels = np.array([stored[int(i)]["label"] for i in indices], dtype=np.int64)
        return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels)


def check_alike(ds: PreparedDataset, reference: PreparedDataset, reference_name: str = "the real set") -> None:
    """``ds`` must have the reference's classes (same order), resolution and channels: one line naming both."""
    if ds.classes != reference.classes:
        raise SynthmedError(f"{ds.root}: classes {ds.classes} differ from {reference_name}'s {reference.classes} "
                            f"({reference.root})")
    if (ds.resolution, ds.channels) != (reference.resolution, reference.channels):
        raise SynthmedError(f"{ds.root}: images are {ds.resolution}px x{ds.channels} channel(s), {reference_name}'s "
                            f"{reference.resolution}px x{reference.channels} ({reference.root}); prepare both alike")


def to_unit_range(images: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """uint8/uint16 pixels -> float32 in [0, 1]."""
    scale = 65535.0 if bit_depth == 16 else 255.0
    return images.astype(np.float32) / scale


def _validate_meta(manifest: Path, meta: Any) -> None:
    if not isinstance(meta, dict):
        raise BadInputError(manifest, "top level must be a JSON object")
    for key in ("classes", "splits", "resolution", "channels", "content_hash"):
        if key not in meta:
            raise BadInputError(manifest, f"missing key '{key}'")
    classes = meta["classes"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise BadInputError(manifest, "'classes' must be a non-empty list of names")
    if not isinstance(meta["splits"], dict):
        raise BadInputError(manifest, "'splits' must map split names to lists of entries")
    for split, entries in meta["splits"].items():
        if split not in SPLITS:
            raise BadInputError(manifest, f"unknown split '{split}' (expected one of {', '.join(SPLITS)})")
        if not isinstance(entries, list | None):
            raise BadInputError(manifest, f"splits.{split} must be a list of entries")
        for i, entry in enumerate(entries or []):
            if not isinstance(entry, dict) or "path" not in entry or "label" not in entry:
                raise BadInputError(manifest, f"splits.{split}[{i}] needs 'path' and 'label'")
            for key in ("path", "mask"):
                if key in entry and (problem := _entry_path_problem(entry[key])):
                    raise BadInputError(manifest, f"splits.{split}[{i}].{key}: {problem}")
            label = entry["label"]
            if isinstance(label, bool) or not isinstance(label, int):
                raise BadInputError(manifest, f"splits.{split}[{i}] has label {label!r}, not a whole number")
            if not 0 <= label < len(classes):
                raise BadInputError(manifest, f"splits.{split}[{i}] has label {label} outside 0..{len(classes) - 1}")


def _entry_path_problem(rel: Any) -> str | None:
    """Why an entry's path text is not a relative path inside the dataset folder (None: it is)."""
    if not isinstance(rel, str) or not rel.strip():
        return f"{rel!r} is not a path inside the dataset"
    if not rel.isprintable():  # NUL, line breaks, other control characters: no file our writer makes
        return f"{rel!r} contains a control character"
    if rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        return f"'{rel}' is absolute; entry paths are relative to the dataset folder"
    if ".." in rel.replace("\\", "/").split("/"):
        return f"'{rel}' leaves the dataset folder (..); entry paths must stay inside it"
    return None


def _realpath(path: Path) -> Path | None:
    """``path`` with every symlink resolved; None when it cannot be (a symlink loop: the read names it)."""
    try:
        return Path(os.path.realpath(path))
    except (OSError, RuntimeError, ValueError):
        return None


@dataclass
class DatasetWriter:
    """Writes a prepared dataset into a temporary folder; ``finish`` renames it into place.

    Use as a context manager: an exception inside the block removes everything written.
    """

    out: Path
    classes: list[str]
    resolution: int
    channels: int
    bit_depth: int = 8
    overwrite: bool = False
    splits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _tmp: Path | None = None
    _ctx: Any = None

    def __enter__(self) -> DatasetWriter:
        if self.channels not in (1, 3):
            raise SynthmedError(f"channels must be 1 or 3, got {self.channels}")
        if self.bit_depth not in (8, 16):
            raise SynthmedError(f"bit depth must be 8 or 16, got {self.bit_depth}")
        if self.bit_depth == 16 and self.channels == 3:
            raise SynthmedError("16-bit output is for grayscale images only (PNG RGB16 is not supported here)")
        self._ctx = atomic_dir(self.out, overwrite=self.overwrite)
        self._tmp = self._ctx.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        return bool(self._ctx.__exit__(exc_type, exc, tb))

    def add(self, image: np.ndarray, label: int, split: str, mask: np.ndarray | None = None,
            **extra: Any) -> dict[str, Any]:
        """Save one (H, W[, C]) image already in the output dtype, resolution and channels.

        ``mask``: its (H, W) segmentation mask, saved beside it as ``<image>_mask.png``: uint8 0/255 as stored,
        or bool as ``load_mask`` returns it, so a mask read from one dataset can be written into another.
        """
        assert self._tmp is not None, "use DatasetWriter as a context manager"
        if split not in SPLITS:
            raise SynthmedError(f"unknown split '{split}'")
        if not 0 <= label < len(self.classes):
            raise SynthmedError(f"label {label} outside 0..{len(self.classes) - 1}")
        check_image_array(image, self.resolution, self.channels, self.bit_depth)
        entries = self.splits.setdefault(split, [])
        rel = f"images/{split}/{len(entries):06d}.png"
        dest = self._tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        save_png(image, dest)
        entry = {"path": rel, "label": int(label), **extra}
        if mask is not None:
            if mask.dtype == np.bool_:
                mask = mask.astype(np.uint8) * 255
            check_mask_array(mask, self.resolution)
            entry["mask"] = rel.removesuffix(".png") + "_mask.png"
            save_png(mask, self._tmp / entry["mask"])
        entries.append(entry)
        return entry

    def finish(self, source: dict[str, Any], preprocessing: dict[str, Any], **extra_meta: Any) -> dict[str, Any]:
        """Write ``dataset.json`` (with counts and content hash); the folder is renamed on exit."""
        assert self._tmp is not None
        meta: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "classes": self.classes,
            "resolution": self.resolution,
            "channels": self.channels,
            "bit_depth": self.bit_depth,
            "splits": {s: self.splits[s] for s in SPLITS if s in self.splits},
            "counts": {
                s: {name: sum(1 for e in self.splits[s] if e["label"] == i) for i, name in enumerate(self.classes)}
                for s in SPLITS
                if s in self.splits
            },
            "source": source,
            "preprocessing": preprocessing,
            **extra_meta,
        }
        masks = sum(1 for entries in self.splits.values() for e in entries if e.get("mask"))
        if masks:
            meta["masks"] = masks
        meta["content_hash"] = content_hash(self._tmp, meta["splits"])
        write_json(self._tmp / MANIFEST, meta)
        return meta


def check_image_array(image: np.ndarray, resolution: int, channels: int, bit_depth: int) -> None:
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    shape_ok = image.shape[:2] == (resolution, resolution) and (
        (image.ndim == 2 and channels == 1) or (image.ndim == 3 and image.shape[2] == channels)
    )
    if not shape_ok or image.dtype != dtype:
        raise SynthmedError(
            f"internal: image {image.shape} {image.dtype} does not match {resolution}x{resolution}x{channels} "
            f"{np.dtype(dtype).name}"
        )


def check_mask_array(mask: np.ndarray, resolution: int) -> None:
    if mask.shape != (resolution, resolution) or mask.dtype != np.uint8 or not np.isin(mask, (0, 255)).all():
        raise SynthmedError(f"internal: mask {mask.shape} {mask.dtype} is not {resolution}x{resolution} uint8 0/255")


def save_png(image: np.ndarray, dest: Path) -> None:
    """Save uint8 (gray/RGB) or uint16 (gray) pixels as PNG, with no metadata."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.dtype == np.uint16 and image.ndim != 2:
        raise SynthmedError("16-bit RGB PNG is not supported")
    # Pillow maps uint16 (H, W) to mode "I;16", which PNG stores as 16-bit grayscale.
    Image.fromarray(image).save(dest, format="PNG", optimize=False)


def content_hash(root: Path, splits: dict[str, list[dict[str, Any]]]) -> str:
    """sha256 over every entry's split, path, label and image bytes (and mask bytes), in order."""
    h = hashlib.sha256()
    for split in SPLITS:
        for entry in splits.get(split) or []:
            h.update(f"{split}\0{entry['path']}\0{entry['label']}\0".encode())
            h.update(hashlib.sha256((root / entry["path"]).read_bytes()).digest())
            if entry.get("mask"):  # entries without masks hash exactly as before masks existed
                h.update(f"mask\0{entry['mask']}\0".encode())
                h.update(hashlib.sha256((root / entry["mask"]).read_bytes()).digest())
    return h.hexdigest()
