"""Shared fixtures: tiny prepared datasets made in the test, and the offline BreastMNIST file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from synthmed.dataset import DatasetWriter, PreparedDataset

# Tests share two cores with nothing else; one thread per op keeps timings stable.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# A stage that reads a config field its cache key misses fails the test that ran it (a user's run warns), in this
# process and in the ``synthmed run`` subprocesses the end-to-end tests start (pipeline.runner.STRICT_READS).
os.environ["SYNTHMED_STRICT_READS"] = "1"

REPO = Path(__file__).resolve().parents[1]
SHARED_MEDMNIST = REPO.parent / "shared" / "data" / "medmnist"


def medmnist_root() -> Path | None:
    env = os.environ.get("SYNTHMED_DATA_ROOT")
    for candidate in (Path(env) if env else None, SHARED_MEDMNIST):
        if candidate and (candidate / "breastmnist.npz").is_file():
            return candidate
    return None


def make_class_image(label: int, resolution: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """A toy image whose class is visible: class 0 a bright disk, class 1 a bright square, class 2 a bar."""
    yy, xx = np.mgrid[:resolution, :resolution] / resolution
    cy, cx = rng.uniform(0.35, 0.65, size=2)
    r = rng.uniform(0.15, 0.25)
    if label % 3 == 0:
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
    elif label % 3 == 1:
        mask = (np.abs(yy - cy) < r) & (np.abs(xx - cx) < r)
    else:
        mask = np.abs(xx - cx) < r / 3
    img = 0.15 + 0.65 * mask + rng.normal(0, 0.05, size=mask.shape)
    img = np.clip(img * 255, 0, 255).astype(np.uint8)
    if channels == 3:
        img = np.stack([img, (img * 0.9).astype(np.uint8), (img * 0.8).astype(np.uint8)], axis=2)
    return img


def write_toy_dataset(out: Path, counts: dict[str, list[int]], resolution: int = 32, channels: int = 1,
                      seed: int = 0, classes: list[str] | None = None) -> PreparedDataset:
    """Write a prepared dataset with ``counts[split][label]`` toy images per class."""
    n_classes = max(len(c) for c in counts.values())
    classes = classes or [f"class{i}" for i in range(n_classes)]
    rng = np.random.default_rng(seed)
    with DatasetWriter(out, classes, resolution, channels) as writer:
        for split, per_class in counts.items():
            for label, n in enumerate(per_class):
                for _ in range(n):
                    writer.add(make_class_image(label, resolution, channels, rng), label, split)
        writer.finish(source={"type": "toy", "seed": seed}, preprocessing={"resolution": resolution})
    return PreparedDataset.open(out)


@pytest.fixture
def toy_dataset(tmp_path: Path):
    """Factory: ``toy_dataset(counts={'train': [20, 10]}, resolution=32, channels=1)``."""

    def make(counts: dict[str, list[int]] | None = None, resolution: int = 32, channels: int = 1,
             seed: int = 0, name: str = "toy") -> PreparedDataset:
        counts = counts or {"train": [24, 16], "val": [8, 8], "test": [8, 8]}
        return write_toy_dataset(tmp_path / name, counts, resolution, channels, seed)

    return make


@pytest.fixture(scope="session")
def breast28(tmp_path_factory: pytest.TempPathFactory) -> PreparedDataset:
    """BreastMNIST 28x28 prepared once per session from the offline file (skipped when absent)."""
    root = medmnist_root()
    if root is None:
        pytest.skip("breastmnist.npz not found: set SYNTHMED_DATA_ROOT or put ../shared/data/medmnist beside the repo")
    from synthmed.prepare.build import build_from_arrays
    from synthmed.prepare.medmnist_source import read_medmnist
    from synthmed.prepare.preprocess import PreprocessOptions

    out = tmp_path_factory.mktemp("breast28") / "ds"
    build_from_arrays(read_medmnist(root / "breastmnist.npz", "breastmnist"), out,
                      PreprocessOptions(resolution=28), progress=False)
    return PreparedDataset.open(out)
