"""Reader studies of lesion images: the optional outline, drawn on real and synthetic images alike."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from synthmed.errors import SynthmedError
from synthmed.reader_study.create import create_study, draw_outline
from tests.lesion.helpers import write_lesion_dataset


def test_outline_is_the_mask_border_in_green() -> None:
    image = np.full((6, 6, 3), 100, np.uint8)
    mask = np.zeros((6, 6), bool)
    mask[1:4, 1:4] = True
    out = draw_outline(image, mask)
    green = (out == [0, 255, 0]).all(axis=2)
    assert green.sum() == 8 and not green[2, 2] and (out[~green] == 100).all()
    assert draw_outline(np.zeros((6, 6, 1), np.uint16), mask)[1, 1, 0] == 65535


def test_study_with_outlines_of_injected_and_real_lesions(tmp_path) -> None:
    real = write_lesion_dataset(tmp_path / "real", {"test": [3, 3]}, resolution=32, seed=0)
    injected = write_lesion_dataset(tmp_path / "inj", {"train": [3, 3]}, resolution=32, seed=1)
    made = create_study(f"{real.root}:test", str(injected.root), 3, 3, tmp_path / "study", outline=True)
    assert made.meta["config"]["outline"] is True
    for png in (made.out / "images").glob("*.png"):
        with Image.open(png) as im:
            assert (np.asarray(im) == [0, 255, 0]).all(axis=2).sum() > 10  # every image, either truth
    plain = create_study(f"{real.root}:test", str(injected.root), 3, 3, tmp_path / "plain")
    assert plain.meta["config"]["outline"] is False


def test_outline_needs_masks(toy_dataset, tmp_path) -> None:
    real = write_lesion_dataset(tmp_path / "real", {"test": [3, 3]}, resolution=32, channels=1)
    plain = toy_dataset(counts={"train": [3, 3]}, resolution=32, channels=1)
    with pytest.raises(SynthmedError, match="--outline needs a mask"):
        create_study(f"{real.root}:test", str(plain.root), 2, 2, tmp_path / "s", outline=True)
