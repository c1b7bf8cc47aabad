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


def tile(images: np.ndarray, cols: int | None = None, pad: int = 2, min_side: int = 64) -> np.ndarray:
    """(N, H, W, C) uint8 -> one grid image, each image enlarged (nearest) to at least ``min_side`` pixels."""
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    scale = max(1, math.ceil(min_side / max(h, w)))
    big = images.repeat(scale, axis=1).repeat(scale, axis=2)
    hh, ww = h * scale, w * scale
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
    """One row per class: real and synthetic grids side by side (either side may be missing)."""
    classes = (real or synthetic).classes if (real or synthetic) else []
    rows = []
    for label, name in enumerate(classes):
        row = {"label": label, "name": name, "real": None, "synthetic": None, "n_real": 0, "n_synthetic": 0}
        for side, ds in (("real", real), ("synthetic", synthetic)):
            if ds is None:
                continue
            images, count = class_samples(ds, "train", label, n, seed)
            row[f"n_{side}"] = count
            if len(images):
                row[side] = data_uri(png_bytes(tile(images)))
        rows.append(row)
    return rows
