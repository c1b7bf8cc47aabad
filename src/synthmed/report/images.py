"""Pictures for the report: sample grids per class and PNG files, as base64 data URIs (the HTML opens offline)."""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import numpy as np
from PIL import Image

from synthmed.dataset import PreparedDataset


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def file_uri(path: Path) -> str:
    return data_uri(Path(path).read_bytes())


def enlarged_uri(path: Path, min_width: int = 560) -> str:
    """A small PNG (a grid of 32-px images) enlarged by an integer factor (nearest), so pixels stay sharp."""
    with Image.open(path) as im:
        im.load()
        factor = max(1, math.ceil(min_width / max(1, im.width)))
        if factor == 1:
            return file_uri(path)
        big = im.resize((im.width * factor, im.height * factor), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    return data_uri(buf.getvalue())


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def to_uint8(images: np.ndarray) -> np.ndarray:
    """uint16 images are shown at 8 bits (the report is for eyes, not for measurement)."""
    if images.dtype == np.uint16:
        return (images // 257).astype(np.uint8)
    return images.astype(np.uint8)


def shown_side(side: int, min_side: int = 64) -> int:
    """The side an image of ``side`` pixels is shown at: enlarged by an integer factor to at least ``min_side``."""
    return side * max(1, math.ceil(min_side / max(1, side)))


def tile(images: np.ndarray, cols: int | None = None, pad: int = 2, min_side: int = 64,
         side: int | None = None) -> np.ndarray:
    """(N, H, W, C) uint8 -> one grid image, each image enlarged (nearest) to at least ``min_side`` pixels, or to
    exactly ``side`` (nearest: pixels stay blocks, even at a non-integer factor)."""
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    if side is None:
        scale = max(1, math.ceil(min_side / max(h, w)))
        big = images.repeat(scale, axis=1).repeat(scale, axis=2)
    else:
        big = np.stack([np.asarray(Image.fromarray(im[:, :, 0] if c == 1 else im).resize(
            (side, side), Image.Resampling.NEAREST)).reshape(side, side, c) for im in images])
    hh, ww = big.shape[1:3]
    grid = np.full((rows * (hh + pad) + pad, cols * (ww + pad) + pad, c), 255, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        y, x = pad + r * (hh + pad), pad + col * (ww + pad)
        grid[y:y + hh, x:x + ww] = big[i]
    return grid[:, :, 0] if c == 1 else grid


def class_samples(ds: PreparedDataset, split: str, label: int, n: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """Up to ``n`` images of class ``label`` (a seeded choice) and how many the class has."""
    idx = np.flatnonzero(ds.labels(split) == label)
    if len(idx) == 0:
        return np.zeros((0, ds.resolution, ds.resolution, ds.channels), dtype=np.uint8), 0
    chosen = np.sort(np.random.default_rng([seed, label]).choice(idx, size=min(n, len(idx)), replace=False))
    return to_uint8(ds.load_images(split, chosen)), len(idx)


def sample_grids(real: PreparedDataset | None, synthetic: PreparedDataset | None, n: int, seed: int = 0) -> list[dict]:
    """One row per class: real and synthetic grids side by side (either side may be missing), their images shown
    at one size: real RBC crops (48 px) beside 32-px synthetic ones looked a third larger, i.e. sharper."""
    classes = (real or synthetic).classes if (real or synthetic) else []
    side = max((shown_side(ds.resolution) for ds in (real, synthetic) if ds is not None), default=None)
    rows = []
    for label, name in enumerate(classes):
        row = {"label": label, "name": name, "real": None, "synthetic": None, "n_real": 0, "n_synthetic": 0}
        for which, ds in (("real", real), ("synthetic", synthetic)):
            if ds is None:
                continue
            images, count = class_samples(ds, "train", label, n, seed)
            row[f"n_{which}"] = count
            if len(images):
                row[which] = data_uri(png_bytes(tile(images, side=side)))
        rows.append(row)
    return rows
