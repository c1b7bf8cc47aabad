"""Helpers for metric tests: small datasets built from given images, a fixed random feature network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

from synthmed.dataset import DatasetWriter, PreparedDataset


def write_images(out: Path, images: np.ndarray, labels: np.ndarray, classes: list[str],
                 split: str = "train") -> PreparedDataset:
    """A prepared dataset holding exactly ``images`` ((N, H, W) uint8) with ``labels``."""
    with DatasetWriter(out, classes, images.shape[1], 1) as writer:
        for img, label in zip(images, labels, strict=True):
            writer.add(img, int(label), split)
        writer.finish(source={"type": "test"}, preprocessing={})
    return PreparedDataset.open(out)


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of (N, H, W) uint8 images."""
    return np.stack([ndimage.gaussian_filter(im.astype(np.float64), sigma) for im in images]).round().astype(np.uint8)


def add_noise(images: np.ndarray, std: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(images + rng.normal(0, std, images.shape), 0, 255).round().astype(np.uint8)


class RandomFeatures(nn.Module):
    """A fixed, randomly initialised conv net: any deterministic extractor will do for agreement tests."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.Tanh(), nn.AvgPool2d(4), nn.Conv2d(8, dim, 3),
                                 nn.Tanh(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.float())


@pytest.fixture
def random_features() -> RandomFeatures:
    return RandomFeatures().eval()
