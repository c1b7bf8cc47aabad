"""A tiny trained checkpoint shared by the generation tests (trained once per module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from synthmed.gan.train import TrainConfig, train_gan
from tests.conftest import write_toy_dataset


def _train(root: Path, resolution: int, cond: bool = True) -> Path:
    ds = write_toy_dataset(root / "real", {"train": [12, 5, 3]}, resolution=resolution, channels=1)
    cfg = TrainConfig(data=str(ds.root), arch="dcgan", out=str(root / "runs"), kimg=0.032, batch=8, width=8,
                      z_dim=16, tick_kimg=0.016, snapshot_kimg=1.0, progress=False, cond=cond)
    return train_gan(cfg)


@pytest.fixture(scope="module")
def run28(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conditional DCGAN trained at 32x32 on 28x28 toy data with 12 / 5 / 3 images per class."""
    return _train(tmp_path_factory.mktemp("gen28"), 28)


@pytest.fixture(scope="module")
def uncond_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(tmp_path_factory.mktemp("uncond"), 32, cond=False)
