"""Lesion masks: seeded augmentation (MONAI), drawn ellipses, placement into a lesion-free region, borders.

Masks here are (H, W) bool arrays (True = lesion), as ``PreparedDataset.load_mask`` returns them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage, signal
from skimage.draw import ellipse

from synthmed.errors import SynthmedError


@dataclass(frozen=True)
class MaskAugment:
    """Ranges of the random mask transforms; each draw is made by MONAI's transforms from one seed.

    ``rotate`` is in degrees (+-), ``scale`` a zoom range, ``elastic`` the displacement magnitude of MONAI's
    ``Rand2DElastic`` in control-grid units (0 = off).
    """

    flip: bool = True
    rotate: float = 180.0
    scale: tuple[float, float] = (0.8, 1.2)
    elastic: float = 2.0

    def to_dict(self) -> dict:
        return asdict(self)


NO_AUGMENT = MaskAugment(flip=False, rotate=0.0, scale=(1.0, 1.0), elastic=0.0)


def augment_mask(mask: np.ndarray, seed: int, aug: MaskAugment = MaskAugment()) -> np.ndarray:
    """A random flip, rotation, zoom and elastic deformation of ``mask``, the same for the same seed.

    Nearest-neighbour resampling keeps the mask binary; pixels moved in from outside are background.
    """
    # lazy: MONAI (and with it torch) only to deform masks; the reader study draws outlines with this module
    from monai.transforms import Compose, Rand2DElastic, RandFlip, RandRotate, RandZoom

    if aug == NO_AUGMENT:
        return mask.copy()
    side = mask.shape[0]
    transforms = []
    if aug.flip:
        transforms += [RandFlip(prob=0.5, spatial_axis=0), RandFlip(prob=0.5, spatial_axis=1)]
    if aug.rotate:
        transforms.append(RandRotate(range_x=math.radians(aug.rotate), prob=1.0, mode="nearest",
                                     padding_mode="zeros", keep_size=True))
    if tuple(aug.scale) != (1.0, 1.0):
        transforms.append(RandZoom(prob=1.0, min_zoom=aug.scale[0], max_zoom=aug.scale[1], mode="nearest",
                                   padding_mode="constant", keep_size=True))
    if aug.elastic:
        spacing = max(4, side // 8)
        transforms.append(Rand2DElastic(spacing=(spacing, spacing), magnitude_range=(0.0, aug.elastic), prob=1.0,
                                        mode="nearest", padding_mode="zeros"))
    chain = Compose(transforms)
    chain.set_random_state(seed=seed % 2**32)
    out = chain(mask[None].astype(np.float32))
    return np.asarray(out)[0] > 0.5


def ellipse_mask(resolution: int, ry: float, rx: float, cy: float | None = None, cx: float | None = None,
                 angle: float = 0.0) -> np.ndarray:
    """A filled ellipse with semi-axes ``ry``, ``rx`` pixels, centred (default: the image centre), rotated by
    ``angle`` degrees (scikit-image's polygon rasteriser)."""
    if min(ry, rx) < 0.5:
        raise SynthmedError(f"an ellipse needs semi-axes of at least 0.5 pixel, got {ry} x {rx}")
    c = (resolution - 1) / 2
    rr, cc = ellipse(c if cy is None else cy, c if cx is None else cx, ry, rx, shape=(resolution, resolution),
                     rotation=math.radians(angle))
    mask = np.zeros((resolution, resolution), dtype=bool)
    mask[rr, cc] = True
    return mask


def random_ellipse(resolution: int, area_fraction: float, rng: np.random.Generator,
                   aspect: tuple[float, float] = (0.6, 1.0)) -> np.ndarray:
    """A centred ellipse covering about ``area_fraction`` of the image, with a random aspect ratio and angle."""
    if not 0 < area_fraction < 0.8:
        raise SynthmedError(f"--lesion-size is a fraction of the image area in (0, 0.8), got {area_fraction}")
    ratio = rng.uniform(*aspect)
    area = area_fraction * resolution**2
    rx = math.sqrt(area / (math.pi * ratio))
    return ellipse_mask(resolution, ratio * rx, rx, angle=float(rng.uniform(0, 180)))


def place_mask(mask: np.ndarray, forbidden: np.ndarray | None, rng: np.random.Generator,
               margin: int = 2) -> np.ndarray | None:
    """Move ``mask``'s lesion to a random position where it (grown by ``margin`` pixels) touches no ``forbidden``
    pixel and stays inside the image; None when there is no such position.

    Valid positions come from one correlation of the forbidden map with the lesion's footprint (scipy), so the
    choice is uniform over all of them.
    """
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        raise SynthmedError("cannot place an empty mask")
    crop = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    grown = ndimage.binary_dilation(np.pad(crop, margin), iterations=margin) if margin else crop
    h, w = mask.shape
    gh, gw = grown.shape
    if gh > h or gw > w:
        return None
    if forbidden is None or not forbidden.any():
        free = np.ones((h - gh + 1, w - gw + 1), dtype=bool)
    else:
        hits = signal.correlate2d(forbidden.astype(np.float32), grown.astype(np.float32), mode="valid")
        free = hits < 0.5
    positions = np.argwhere(free)
    if len(positions) == 0:
        return None
    y, x = positions[rng.integers(len(positions))]
    out = np.zeros_like(mask, dtype=bool)
    out[y:y + gh, x:x + gw] = np.pad(crop, margin) if margin else crop
    return out


def border(mask: np.ndarray) -> np.ndarray:
    """The lesion's inner boundary: its pixels with a 4-neighbour outside it."""
    return mask & ~ndimage.binary_erosion(mask, border_value=0)
