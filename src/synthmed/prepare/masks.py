"""Segmentation masks beside their images: naming, pairing, reading and resizing.

Naming contract (the breast-ultrasound BUSI release and PH2 use it): in a class folder, ``NAME_mask.png``
and ``NAME_mask_N.png`` (N a number: a second or third lesion) are masks of the image ``NAME.<ext>`` in
the same folder; they are never images. A CSV gives masks in its ``mask`` column instead. Several masks of
one image are merged (union). A mask is binary: any non-zero pixel (in any channel) is foreground.

Masks are resized with nearest-neighbour (a label never becomes a blend of two labels), made square the
same way as their image (zero padding or the same centre crop), and stored as 8-bit 0/255 grayscale PNGs
beside their image in the prepared dataset (``dataset.py`` documents the ``mask`` entry key).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synthmed.errors import BadInputError
from synthmed.prepare.preprocess import PreprocessOptions, make_square, resize
from synthmed.prepare.readers import DEFAULT_MAX_PIXELS, RASTER_SUFFIXES, raster_size, read_raster

# NAME_mask.png, NAME_mask_1.png (case-insensitive "_mask"); the image is NAME.<any raster suffix>.
_MASK_NAME = re.compile(r"^(?P<stem>.+)_mask(?:_(?P<n>\d+))?$", re.IGNORECASE)


def raster_mask_stem(path: Path) -> str | None:
    """``NAME`` when ``path`` is a raster mask ``NAME_mask[_N].<ext>``, else None."""
    if not path.name.lower().endswith(RASTER_SUFFIXES):
        return None
    match = _MASK_NAME.match(path.stem)
    return match.group("stem") if match else None


def pair_masks(files: Sequence[Path]) -> tuple[list[Path], dict[Path, tuple[Path, ...]]]:
    """Split one folder tree's files into images and masks; map each image to its masks (sorted).

    A mask whose image is not beside it is an error naming the mask: it is never taken as an image.
    """
    images: list[Path] = []
    masks: list[tuple[Path, str]] = []
    for path in files:
        stem = raster_mask_stem(path)
        if stem is None:
            images.append(path)
        else:
            masks.append((path, stem))
    by_stem: dict[tuple[Path, str], list[Path]] = {}
    for image in images:
        by_stem.setdefault((image.parent, image.stem), []).append(image)
    paired: dict[Path, list[Path]] = {}
    for mask, stem in masks:
        owners = by_stem.get((mask.parent, stem), [])
        if not owners:
            raise BadInputError(mask, f"mask without its image (no {stem}.png/.jpg/... beside it)")
        if len(owners) > 1:
            names = ", ".join(p.name for p in owners)
            raise BadInputError(mask, f"mask of {stem}, but several images have that name ({names})")
        paired.setdefault(owners[0], []).append(mask)
    return images, {image: tuple(sorted(ms)) for image, ms in paired.items()}


def check_mask_sizes(image: Path, masks: Sequence[Path], max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
    """Header check: every mask has its image's width and height."""
    size = raster_size(image, max_pixels)
    for mask in masks:
        mask_size = raster_size(mask, max_pixels)
        if mask_size != size:
            raise BadInputError(mask, f"mask is {mask_size[0]}x{mask_size[1]} but its image {image.name} is "
                                      f"{size[0]}x{size[1]} (a mask must have its image's size)")


def read_mask(image: Path, masks: Sequence[Path], shape: tuple[int, int],
              max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The union of ``masks`` as a bool (H, W) array; ``shape`` is the image's decoded (H, W)."""
    merged = np.zeros(shape, dtype=bool)
    for mask in masks:
        pixels = read_raster(mask, max_pixels)
        plane = pixels if pixels.ndim == 2 else pixels.max(axis=2)
        if plane.shape != shape:
            raise BadInputError(mask, f"mask is {plane.shape[1]}x{plane.shape[0]} but its image {image.name} is "
                                      f"{shape[1]}x{shape[0]} (a mask must have its image's size)")
        merged |= plane > 0
    return merged


def preprocess_mask(mask: np.ndarray, opts: PreprocessOptions) -> np.ndarray:
    """Bool (H, W) mask -> uint8 (R, R) 0/255: squared like its image, resized nearest-neighbour."""
    square = make_square(mask.astype(np.float32)[:, :, None], opts.square)
    resized = resize(square, opts.resolution, "nearest")[:, :, 0]
    return np.where(resized > 0.5, 255, 0).astype(np.uint8)
