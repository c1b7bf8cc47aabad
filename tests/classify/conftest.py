"""Fixtures for the classify tests: a stand-in synthetic set made from BreastMNIST's own training images."""

from __future__ import annotations

import numpy as np
import pytest

from synthmed.dataset import DatasetWriter, PreparedDataset


@pytest.fixture(scope="session")
def breast28_standin(breast28: PreparedDataset, tmp_path_factory: pytest.TempPathFactory) -> PreparedDataset:
    """Horizontally flipped BreastMNIST training images as a 'synthetic' set (a stand-in, no GAN needed)."""
    out = tmp_path_factory.mktemp("standin") / "syn"
    images = breast28.load_images("train")
    with DatasetWriter(out, breast28.classes, breast28.resolution, breast28.channels) as writer:
        for image, label in zip(images, breast28.labels("train"), strict=True):
            writer.add(np.ascontiguousarray(image[:, ::-1, 0]), int(label), "train")
        writer.finish(source={"type": "stand-in", "from": str(breast28.root), "transform": "hflip"},
                      preprocessing={})
    return PreparedDataset.open(out)
