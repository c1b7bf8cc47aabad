"""GAN-stage fixtures."""

from __future__ import annotations

import pytest

from synthmed.dataset import PreparedDataset


@pytest.fixture
def toy32(toy_dataset) -> PreparedDataset:
    return toy_dataset(counts={"train": [12, 8]}, resolution=32, channels=1)
