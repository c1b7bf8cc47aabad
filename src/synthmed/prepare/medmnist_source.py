"""MedMNIST .npz source: official splits and labels, read from a data root.

The file is looked for under the root (``--root`` or ``$SYNTHMED_DATA_ROOT``); only when it
is absent do we ask the ``medmnist`` package to download it. Offline, that fails with a
one-line error naming the file we expected and where.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthmed.errors import BadInputError, SynthmedError

DATA_ROOT_ENV = "SYNTHMED_DATA_ROOT"
SIZES = (28, 64, 128, 224)
REQUIRED_KEYS = tuple(f"{s}_{k}" for s in ("train", "val", "test") for k in ("images", "labels"))


@dataclass
class ArraySource:
    """Images and labels held in memory, with official splits."""

    classes: list[str]
    splits: dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (images N,H,W[,C] uint8, labels N)
    description: dict


def default_root() -> Path | None:
    value = os.environ.get(DATA_ROOT_ENV)
    return Path(value) if value else None


def medmnist_filename(name: str, size: int) -> str:
    return f"{name}.npz" if size == 28 else f"{name}_{size}.npz"


def medmnist_info(name: str) -> dict:
    try:  # lazy: medmnist imports torch; prepare needs it only to check a name or download, and is torch-free
        from medmnist import INFO
    except ImportError as exc:  # pragma: no cover - medmnist is a dependency
        raise SynthmedError(f"the medmnist package is not installed ({exc})") from None
    if name not in INFO:
        known = ", ".join(sorted(INFO))
        raise SynthmedError(f"unknown MedMNIST dataset '{name}' (known: {known})")
    info = INFO[name]
    if info["task"].startswith("multi-label"):
        raise SynthmedError(f"MedMNIST '{name}' is multi-label; synthmed needs one label per image")
    return info


def locate_or_download(name: str, size: int, root: Path | None) -> Path:
    if size not in SIZES:
        raise SynthmedError(f"MedMNIST size must be one of {SIZES}, got {size}")
    root = root or default_root() or Path.home() / ".medmnist"
    path = root / medmnist_filename(name, size)
    if path.is_file():
        return path
    info = medmnist_info(name)
    try:  # lazy: as in medmnist_info
        import medmnist

        cls = getattr(medmnist, info["python_class"])
        root.mkdir(parents=True, exist_ok=True)
        cls(split="train", download=True, size=size, root=str(root))
    except Exception as exc:  # network errors come in many types
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = lines[0] if lines else type(exc).__name__
        raise SynthmedError(
            f"{path}: MedMNIST file not found and download failed ({reason}); "
            f"put {path.name} in {root} or pass --root / set {DATA_ROOT_ENV}"
        ) from None
    if not path.is_file():
        raise SynthmedError(f"{path}: MedMNIST file not found after download")
    return path


def _read_split(path: Path, npz, split: str, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One split's images (N, H, W[, C]) and integer labels, checked."""
    try:  # arrays are decompressed here: a corrupt member fails now
        images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
    except Exception as exc:
        raise BadInputError(path, f"cannot read {split} arrays ({_first_line(exc)})") from None
    if images.ndim not in (3, 4) or images.dtype.kind not in "uif" or labels.ndim == 0 or labels.dtype.kind not in "ui":
        raise BadInputError(path, f"{split}: expected images (N, H, W[, C]) and integer labels, got "
                                  f"{images.dtype} {images.shape} and {labels.dtype} {labels.shape}")
    if images.ndim == 4 and images.shape[3] not in (1, 3, 4):
        raise BadInputError(path, f"{split}_images has {images.shape[3]} channels; expected 1 or 3")
    if min(images.shape[1:3]) < 1:
        raise BadInputError(path, f"{split}_images are empty ({images.shape})")
    labels = labels.reshape(len(labels), -1)
    if labels.shape[1] != 1:
        raise BadInputError(path, f"{split}_labels has {labels.shape[1]} columns; expected one label per image")
    if len(images) != len(labels):
        raise BadInputError(path, f"{split}: {len(images)} images but {len(labels)} labels")
    labels = labels[:, 0].astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise BadInputError(path, f"{split}_labels outside 0..{n_classes - 1}")
    return images, labels


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def read_medmnist(path: Path, name: str) -> ArraySource:
    """Read an official MedMNIST .npz; every required key must be present and consistent."""
    info = medmnist_info(name)
    classes = [info["label"][str(i)] for i in range(len(info["label"]))]
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as exc:  # OSError, ValueError, BadZipFile, EOFError, ...: all mean a corrupt file here
        raise BadInputError(path, f"not a readable .npz file ({_first_line(exc)})") from None
    if not hasattr(npz, "files"):  # a bare .npy array, not an archive of named arrays
        raise BadInputError(path, "not a .npz archive of named arrays (a single .npy array?)")
    with npz:
        missing = [k for k in REQUIRED_KEYS if k not in npz.files]
        if missing:
            raise BadInputError(path, f"npz is missing keys {', '.join(missing)} (has {', '.join(npz.files)})")
        splits = {split: _read_split(path, npz, split, len(classes)) for split in ("train", "val", "test")}
    return ArraySource(classes=classes, splits=splits, description={"type": "medmnist", "name": name,
                                                                    "file": path.name})
