"""The report's sample grids: real and synthetic images shown at one size, whatever their resolutions."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from tests.conftest import write_toy_dataset

from synthmed.dataset import PreparedDataset
from synthmed.report.images import sample_grids, shown_side, tile


def test_shown_side_enlarges_by_an_integer_factor_to_at_least_64() -> None:
    assert [shown_side(s) for s in (28, 32, 48, 64, 100)] == [84, 64, 96, 64, 100]


def test_tile_to_a_given_side_keeps_pixels_as_blocks() -> None:
    images = np.arange(2 * 2 * 2, dtype=np.uint8).reshape(2, 2, 2, 1) * 30
    grid = tile(images, cols=2, pad=0, side=6)  # factor 3
    assert grid.shape == (6, 12)
    assert (grid[:3, :3] == 0).all() and (grid[3:6, 3:6] == 90).all() and (grid[:3, 6:9] == 120).all()
    odd = tile(images, cols=2, pad=0, side=5)  # no integer factor: nearest resize, still only the four values
    assert odd.shape == (5, 10) and set(np.unique(odd[:, :5])) == {0, 30, 60, 90}


def _side_of(uri: str, cols: int = 2, pad: int = 2) -> int:
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
        return (im.width - pad) // cols - pad


def test_real_and_synthetic_grids_show_their_images_at_the_same_size(tmp_path) -> None:
    classes = ["a", "b"]
    write_toy_dataset(tmp_path / "real", {"train": [4, 4]}, resolution=48, classes=classes)
    write_toy_dataset(tmp_path / "synthetic", {"train": [4, 4]}, resolution=32, classes=classes)
    rows = sample_grids(PreparedDataset.open(tmp_path / "real"), PreparedDataset.open(tmp_path / "synthetic"), 4)
    # 48 px shown at 96 (x2); the 32-px synthetic images at 96 too (x3), not at 64
    assert {_side_of(r["real"]) for r in rows} == {_side_of(r["synthetic"]) for r in rows} == {96}
