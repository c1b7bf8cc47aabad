"""GAN-stage test helpers: tiny configs that train in a second or two on CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from synthmed.dataset import DatasetWriter, PreparedDataset
from synthmed.gan.train import TrainConfig

# Networks small enough that a few hundred images train in seconds on one CPU thread.
TINY_NETS: dict[str, dict[str, Any]] = {
    "dcgan": {"width": 8, "z_dim": 16},
    "wgan-gp": {"width": 8, "z_dim": 16},
    "bagan-gp": {"width": 8, "z_dim": 16},
    "stylegan2": {"width": 8, "max_width": 16, "z_dim": 16, "mapping_layers": 2},
}


def tiny_config(data: Path | None, out: Path, arch: str = "dcgan", **overrides: Any) -> TrainConfig:
    base: dict[str, Any] = {"data": str(data) if data else None, "arch": arch, "out": str(out), "kimg": 0.064,
                            "batch": 8, "tick_kimg": 0.032, "snapshot_kimg": 0.032, "progress": False,
                            **TINY_NETS[arch]}
    base.update(overrides)
    return TrainConfig(**base)


def write_brightness_dataset(out: Path, n: int = 64, resolution: int = 32) -> PreparedDataset:
    """Two classes that differ only in brightness (dark ~0.2, bright ~0.8): a conditional G must learn it."""
    rng = np.random.default_rng(0)
    with DatasetWriter(out, ["dark", "bright"], resolution, 1) as writer:
        for i in range(n):
            label = i % 2
            img = 0.2 + 0.6 * label + rng.normal(0, 0.05, (resolution, resolution))
            writer.add(np.clip(img * 255, 0, 255).astype(np.uint8), label, "train")
        writer.finish(source={"type": "toy-brightness"}, preprocessing={})
    return PreparedDataset.open(out)


