"""Lesion metrics: boundary score by hand, lesion-crop FID/FRD on toy lesions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from synthmed.errors import SynthmedError
from synthmed.lesion.metrics import boundary_scores, lesion_crops, lesion_metrics
from tests.lesion.helpers import write_lesion_dataset


def test_boundary_score_of_a_step_edge_by_hand() -> None:
    mask = np.zeros((1, 8, 8), bool)
    mask[0, 2:6, 2:6] = True
    img = torch.where(torch.from_numpy(mask)[:, None], 1.0, -1.0)  # grey 1 inside, 0 outside
    # 8 edge pixels: Sobel (1+2+1) * 1 / 8 = 0.5; 4 corners: (3/8) * sqrt(2) each.
    expected = (8 * 0.5 + 4 * 3 / 8 * math.sqrt(2)) / 12
    assert boundary_scores(img, mask)[0] == pytest.approx(expected)
    assert boundary_scores(torch.zeros(1, 3, 8, 8), mask)[0] == 0.0
    assert np.isnan(boundary_scores(img, np.zeros_like(mask))[0])


def test_crops_follow_the_lesion() -> None:
    mask = np.zeros((1, 32, 32), bool)
    mask[0, 4:12, 20:28] = True
    img = torch.where(torch.from_numpy(mask)[:, None], 1.0, -1.0).expand(1, 3, 32, 32)
    crop = lesion_crops(img, mask, 10)  # side 8 * 1.25 = 10: the crop is the lesion with a 1-pixel rim
    assert crop.shape == (1, 3, 10, 10)
    assert crop[0, 0, 1:-1, 1:-1].eq(1).all() and crop[0, 0, 0].eq(-1).all()


def test_lesion_metrics_tell_a_pasted_lesion_from_a_real_one(tmp_path) -> None:
    write_lesion_dataset(tmp_path / "real", {"train": [10, 10]}, resolution=32, seed=0)
    write_lesion_dataset(tmp_path / "same", {"train": [10, 10]}, resolution=32, seed=1)
    write_lesion_dataset(tmp_path / "odd", {"train": [10, 10]}, resolution=32, seed=2, lesion_value=0.8)
    same = lesion_metrics(str(tmp_path / "real"), str(tmp_path / "same"), crop=16, frd=True, cnn_epochs=3)
    odd = lesion_metrics(str(tmp_path / "real"), str(tmp_path / "odd"), crop=16, frd=True, cnn_epochs=3)
    assert (same.n_real, same.n_fake) == (20, 20)
    assert same.fid_domain_lesion < odd.fid_domain_lesion
    assert same.frd_lesion < odd.frd_lesion
    assert 0.7 < same.boundary_ratio < 1.3 and same.boundary_p > 0.05
    assert odd.boundary_ratio < 0.5 and odd.boundary_p < 0.001  # a lesion close to the skin's grey: no edge


def test_lesion_metrics_need_masks(tmp_path) -> None:
    from tests.conftest import write_toy_dataset

    write_toy_dataset(tmp_path / "plain", {"train": [3, 3]})
    with pytest.raises(SynthmedError, match="without masks"):
        lesion_metrics(str(tmp_path / "plain"), str(tmp_path / "plain"))
