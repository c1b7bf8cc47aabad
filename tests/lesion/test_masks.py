"""Mask augmentation, ellipses, placement and borders."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from synthmed.errors import SynthmedError
from synthmed.lesion.masks import (
    NO_AUGMENT,
    MaskAugment,
    augment_mask,
    border,
    ellipse_mask,
    place_mask,
    random_ellipse,
)


def test_augmentation_is_seeded_binary_and_changes_the_mask() -> None:
    m = ellipse_mask(64, 8, 14, cy=30, cx=34, angle=20)
    a, b, c = augment_mask(m, 1), augment_mask(m, 1), augment_mask(m, 2)
    assert a.dtype == bool and a.shape == m.shape
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(a, m)
    assert 0.5 < a.sum() / m.sum() < 2  # zoom 0.8-1.2: area within 0.64-1.44, plus elastic wobble
    assert np.array_equal(augment_mask(m, 5, NO_AUGMENT), m)


def test_a_flip_only_augmentation_is_one_of_the_four_flips() -> None:
    m = ellipse_mask(32, 4, 9, cy=10, cx=12, angle=30)
    flips = [m, m[::-1], m[:, ::-1], m[::-1, ::-1]]
    aug = MaskAugment(flip=True, rotate=0, scale=(1.0, 1.0), elastic=0)
    seen = {next(i for i, f in enumerate(flips) if np.array_equal(augment_mask(m, s, aug), f)) for s in range(12)}
    assert len(seen) > 1


def test_ellipse_area_and_centre() -> None:
    m = ellipse_mask(101, 10, 20)
    assert m.sum() == pytest.approx(math.pi * 10 * 20, rel=0.03)
    ys, xs = np.nonzero(m)
    assert (ys.mean(), xs.mean()) == pytest.approx((50, 50), abs=0.01)
    assert (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) == (19, 39)
    r = random_ellipse(64, 0.1, np.random.default_rng(0))
    assert r.mean() == pytest.approx(0.1, rel=0.1)
    with pytest.raises(SynthmedError, match="lesion-size"):
        random_ellipse(64, 0.9, np.random.default_rng(0))


def test_placement_avoids_the_forbidden_region_and_keeps_the_shape() -> None:
    m = ellipse_mask(64, 5, 7, cy=20, cx=20, angle=15)
    forbidden = np.zeros((64, 64), bool)
    forbidden[10:50, 5:45] = True  # an existing lesion
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = place_mask(m, forbidden, rng, margin=2)
        assert p.sum() == m.sum()
        assert not (ndimage.binary_dilation(p, iterations=2) & forbidden).any()
        ys, xs = np.nonzero(p)
        my, mx = np.nonzero(m)
        assert np.array_equal(ys - ys.min(), my - my.min()) and np.array_equal(xs - xs.min(), mx - mx.min())
    forbidden[:] = True
    forbidden[0, 0] = False
    assert place_mask(m, forbidden, rng) is None


def test_border_of_a_square() -> None:
    m = np.zeros((7, 7), bool)
    m[2:5, 2:5] = True
    b = border(m)
    assert b.sum() == 8 and not b[3, 3]
    m[:, :] = True  # touching the image edge counts as a border
    assert border(m).sum() == 24
