"""Memorization audit: each kind of near copy a person would call a copy is flagged; a new image is not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from synthmed.metrics.memorization import aligned_nearest, check_memorization, prepare_pixels


def _smooth_fields(n: int, side: int, seed: int) -> np.ndarray:
    """(n, side, side) uint8 images of smooth random texture (every one clearly different from the others)."""
    rng = np.random.default_rng(seed)
    fields = [ndimage.gaussian_filter(rng.normal(size=(side, side)), 2.0) for _ in range(n)]
    return np.stack([np.clip(128 + 60 * f / f.std(), 0, 255).round() for f in fields]).astype(np.uint8)


def _tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images[:, None].astype(np.float32) / 127.5 - 1.0)


def _planted(train: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    x = train[:6].astype(np.float64)
    kinds = {
        "exact": x[0],
        "noise_4_255": x[1] + rng.normal(0, 4, x[1].shape),
        "flip_left_right": x[2][:, ::-1],
        "flip_up_down": x[3][::-1, :],
        "shift_2px": ndimage.shift(x[4], (2, -2), order=0, mode="nearest"),
        "brightness_plus_10": x[5] + 10,
    }
    return {k: np.clip(np.round(v), 0, 255).astype(np.uint8) for k, v in kinds.items()}


@pytest.fixture(scope="module")
def audit():
    train = _smooth_fields(40, 32, seed=0)
    held_out = _smooth_fields(20, 32, seed=1)
    planted = _planted(train)
    new = _smooth_fields(10, 32, seed=2)  # real images neither trained on nor used to calibrate
    fakes = np.stack([*planted.values(), *new])
    result = check_memorization(_tensor(fakes), _tensor(train), _tensor(held_out))
    return result, list(planted)


def test_each_planted_kind_is_flagged(audit) -> None:
    result, kinds = audit
    for i, kind in enumerate(kinds):
        assert result.flagged[i], (kind, result.dist_pixel[i], result.threshold_pixel)
        assert result.nn_pixel[i] == i  # found the training image it copies


def test_real_new_image_not_flagged(audit) -> None:
    result, kinds = audit
    assert not result.flagged[len(kinds):].any()
    # calibrated on the held-out real images: the 2nd percentile of their distances, so few of them pass
    assert result.chance_rate <= 0.05


def test_aligned_distance_is_rms_after_flip_shift_and_offset() -> None:
    """Hand-checkable: a flipped, brightened copy is at distance 0; a constant difference of 0.1 on half the image
    (after removing the mean: +-0.05 everywhere) is at RMS 0.05 before the low-pass (which keeps the step)."""
    img = (_smooth_fields(1, 32, seed=3) // 2 + 40).astype(np.uint8)  # 40..167: no clipping below
    copy = img[:, :, ::-1] + np.uint8(20)
    flat = np.zeros((1, 32, 32), dtype=np.uint8)
    half = flat.copy()
    half[:, :, 16:] = round(0.1 * 255)
    d, idx = aligned_nearest(prepare_pixels(_tensor(copy)), prepare_pixels(_tensor(img)))
    assert idx[0] == 0 and d[0] == pytest.approx(0.0, abs=1e-6)
    d, _ = aligned_nearest(prepare_pixels(_tensor(half)), prepare_pixels(_tensor(flat)))
    assert 0.035 < d[0] <= 0.05 + 1e-3  # shifting the step by 2 px can hide a little of it, never add
