"""Tiny lesion datasets: a textured skin-like background with one elliptical lesion per image and its mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from synthmed.dataset import DatasetWriter, PreparedDataset
from synthmed.lesion.masks import ellipse_mask


def lesion_image(label: int, resolution: int, rng: np.random.Generator, channels: int = 3,
                 lesion_value: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image uint8 (R, R, C), mask uint8 0/255): class 0 a light lesion, class 1 a dark one, smooth edges."""
    r = resolution
    mask = ellipse_mask(r, rng.uniform(0.12, 0.22) * r, rng.uniform(0.12, 0.22) * r,
                        cy=rng.uniform(0.35, 0.65) * r, cx=rng.uniform(0.35, 0.65) * r, angle=rng.uniform(0, 180))
    value = lesion_value if lesion_value is not None else (0.45 if label == 0 else 0.2)
    img = 0.75 + rng.normal(0, 0.03, (r, r))
    img[mask] = value + rng.normal(0, 0.03, int(mask.sum()))
    img = np.clip(img, 0, 1)
    rgb = np.stack([img, img * 0.85, img * 0.7], axis=2)[:, :, :channels]
    return (rgb * 255).round().astype(np.uint8), (mask * 255).astype(np.uint8)


def write_lesion_dataset(out: Path, counts: dict[str, list[int]], resolution: int = 32, channels: int = 3,
                         seed: int = 0, lesion_value: float | None = None) -> PreparedDataset:
    rng = np.random.default_rng(seed)
    with DatasetWriter(out, ["light", "dark"], resolution, channels) as writer:
        for split, per_class in counts.items():
            for label, n in enumerate(per_class):
                for _ in range(n):
                    img, mask = lesion_image(label, resolution, rng, channels, lesion_value)
                    writer.add(img if channels == 3 else img[:, :, 0], label, split, mask=mask)
        writer.finish(source={"type": "toy-lesions", "seed": seed}, preprocessing={"resolution": resolution})
    return PreparedDataset.open(out)
