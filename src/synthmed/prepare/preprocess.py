"""Pixel preprocessing shared by every source: intensity to 8/16 bit, channels, square, resize.

Resizing uses Pillow. The default filter is Lanczos (windowed sinc, antialiased when
downsampling), which keeps fine ultrasound speckle and edges better than bilinear; ``area``
(box filter) is the exact average for integer downscales; ``nearest`` is for label-like images.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from PIL import Image

from synthmed.errors import SynthmedError

ResizeFilter = Literal["lanczos", "bicubic", "bilinear", "area", "nearest"]
SquareMode = Literal["pad", "crop"]

_PIL_FILTERS = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "area": Image.Resampling.BOX,
    "nearest": Image.Resampling.NEAREST,
}


AUTO_RESOLUTION_MAX = 256


def auto_resolution(shapes: list[tuple[int, int]], square: SquareMode) -> int:
    """The most common side after squaring (ties: the larger), within 8..AUTO_RESOLUTION_MAX.

    Why capped: a prepared dataset at a scanner's 2000 px would make every later stage slow for no gain; the
    GAN and the classifiers train at 64 (cpu profile) or up to 256 (gpu profile) anyway.
    """
    sides = Counter(max(h, w) if square == "pad" else min(h, w) for h, w in shapes)
    if not sides:
        return 64
    side = max(sides.items(), key=lambda kv: (kv[1], kv[0]))[0]
    return int(min(max(side, 8), AUTO_RESOLUTION_MAX))


@dataclass(frozen=True)
class PreprocessOptions:
    resolution: int | None  # None (file sources): the source's most common side, at most AUTO_RESOLUTION_MAX
    channels: int | None = None  # None: keep the source's (majority) channel count
    bit_depth: int = 8
    square: SquareMode = "pad"
    resize_filter: ResizeFilter = "lanczos"

    def to_dict(self) -> dict:
        return asdict(self)


def to_float01(image: np.ndarray) -> np.ndarray:
    """Any integer/float image -> float32 in [0, 1] (integers by dtype range, floats by min-max)."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    if image.dtype == bool:
        return image.astype(np.float32)
    arr = image.astype(np.float32)
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if not np.isfinite(lo) or not np.isfinite(hi):
        raise SynthmedError("image contains no finite pixel values")
    if hi <= lo:
        return np.zeros_like(arr)
    return (arr - lo) / (hi - lo)


def to_channels(image01: np.ndarray, channels: int) -> np.ndarray:
    """(H, W[, C]) float image -> (H, W, channels). RGB->gray uses ITU-R 601 luma weights."""
    img = image01 if image01.ndim == 3 else image01[:, :, None]
    if img.shape[2] == 4:  # drop alpha
        img = img[:, :, :3]
    if img.shape[2] == 2:  # gray + alpha
        img = img[:, :, :1]
    if img.shape[2] == channels:
        return img
    if channels == 1:
        return (img[:, :, :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[:, :, None]
    return np.repeat(img[:, :, :1], 3, axis=2)


def make_square(img: np.ndarray, mode: SquareMode) -> np.ndarray:
    """Zero-pad (centred) or centre-crop an (H, W, C) image to a square."""
    h, w = img.shape[:2]
    if h == w:
        return img
    if mode == "crop":
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        return img[top : top + s, left : left + s]
    s = max(h, w)
    out = np.zeros((s, s, img.shape[2]), dtype=img.dtype)
    top, left = (s - h) // 2, (s - w) // 2
    out[top : top + h, left : left + w] = img
    return out


def resize(img: np.ndarray, resolution: int, filt: ResizeFilter) -> np.ndarray:
    """Resize a square (H, H, C) float image per channel with Pillow's float ('F') mode."""
    if img.shape[0] == resolution:
        return img
    channels = [
        np.asarray(Image.fromarray(img[:, :, c]).resize((resolution, resolution), _PIL_FILTERS[filt]))
        for c in range(img.shape[2])
    ]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0)


def quantize(img01: np.ndarray, bit_depth: int) -> np.ndarray:
    if bit_depth == 16:
        return np.round(img01 * 65535.0).astype(np.uint16)
    return np.round(img01 * 255.0).astype(np.uint8)


def preprocess(image: np.ndarray, opts: PreprocessOptions, channels: int) -> np.ndarray:
    """Source pixels -> output pixels: [0,1] float, channels, square, resize, quantize."""
    return preprocess_unit(to_float01(image), opts, channels)


def preprocess_unit(image01: np.ndarray, opts: PreprocessOptions, channels: int) -> np.ndarray:
    """Like ``preprocess`` for pixels already scaled to [0, 1] (what the file readers return)."""
    img = to_channels(image01.astype(np.float32, copy=False), channels)
    img = make_square(img, opts.square)
    assert opts.resolution is not None, "resolve the automatic resolution first (auto_resolution)"
    img = resize(img, opts.resolution, opts.resize_filter)
    out = quantize(img, opts.bit_depth)
    return out[:, :, 0] if channels == 1 else out
