"""Memorization audit: each kind of near copy a person would call a copy is flagged; a new image is not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from synthmed.metrics.memorization import aligned_nearest, calibrate, check_memorization, prepare_pixels


def _smooth_fields(n: int, side: int, seed: int) -> np.ndarray:
    """(n, side, side) uint8 images of smooth random texture (every one clearly different from the others)."""
    rng = np.random.default_rng(seed)
    fields = [ndimage.gaussian_filter(rng.normal(size=(side, side)), 2.0) for _ in range(n)]
    return np.stack([np.clip(128 + 60 * f / f.std(), 0, 255).round() for f in fields]).astype(np.uint8)


def _tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images[:, None].astype(np.float32) / 127.5 - 1.0)


def _planted(train: np.ndarray) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    x = train[:12].astype(np.float64)
    centre = (np.array(x[0].shape) - 1) / 2
    kinds = {
        "exact": x[0],
        "noise_10_255": x[1] + rng.normal(0, 10, x[1].shape),
        "flip_left_right": x[2][:, ::-1],
        "flip_up_down": x[3][::-1, :],
        "shift_3px": ndimage.shift(x[4], (3, -2), order=0, mode="nearest"),
        "brightness_plus_20": x[5] + 20,
        "contrast_0.8": (x[6] - 128) * 0.8 + 128,
        "rotate_9_degrees": ndimage.rotate(x[7], 9, reshape=False, order=1, mode="nearest"),
        "zoom_1.1": ndimage.affine_transform(x[8], np.eye(2) / 1.1, offset=centre - centre / 1.1, order=1,
                                             mode="nearest"),
        "blur_1px": ndimage.gaussian_filter(x[9], 1.0),
        "shift_contrast_noise": ndimage.shift(x[10], (-2, 0), order=0, mode="nearest") * 1.1 - 10
        + rng.normal(0, 5, x[10].shape),
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


def test_aligned_distance_ignores_flip_gain_and_offset_and_registers_small_turns() -> None:
    """A flipped copy with another gain and offset is at distance ~0 (8-bit rounding only); a turned and moved
    copy is registered to a small fraction of the distance between two different images (about sqrt(2): the
    RMS difference of two independent patterns of unit contrast)."""
    img = (_smooth_fields(1, 32, seed=3) // 2 + 40).astype(np.uint8)  # 40..167: no clipping
    other = _smooth_fields(1, 32, seed=4)
    copy = np.round(img[:, :, ::-1] * 0.8 + 30).astype(np.uint8)
    turned = np.stack([ndimage.shift(ndimage.rotate(img[0].astype(float), 7, reshape=False, order=1,
                                                    mode="nearest"), (1, -2), order=1, mode="nearest")])
    refs = prepare_pixels(_tensor(np.concatenate([other, img])))
    d, idx = aligned_nearest(prepare_pixels(_tensor(copy)), refs)
    assert idx[0] == 1 and d[0] < 0.02
    d_turned, idx = aligned_nearest(prepare_pixels(_tensor(turned.round().astype(np.uint8))), refs)
    d_other, _ = aligned_nearest(prepare_pixels(_tensor(other)), prepare_pixels(_tensor(img)))
    assert idx[0] == 1 and d_turned[0] < 0.1 < 0.5 < d_other[0]


def test_registration_refines_the_whole_pixel_search(monkeypatch) -> None:
    """The gradient registration only ever lowers the distance the shift search found, and for a turned and
    zoomed copy by a lot (a grid over whole pixels leaves it misaligned by up to a pixel at the edges)."""
    from synthmed.metrics import memorization

    img = _smooth_fields(1, 32, seed=5)
    centre = (np.array(img[0].shape) - 1) / 2
    turned = ndimage.rotate(img[0].astype(float), -8, reshape=False, order=1, mode="nearest")
    zoomed = ndimage.affine_transform(turned, np.eye(2) / 1.08, offset=centre - centre / 1.08, order=1,
                                      mode="nearest")
    q, r = prepare_pixels(_tensor(zoomed[None].round().astype(np.uint8))), prepare_pixels(_tensor(img))
    registered, _ = aligned_nearest(q, r)
    monkeypatch.setattr(memorization, "REGISTER_STEPS", 0)
    searched, _ = aligned_nearest(q, r)
    assert registered[0] < 0.5 * searched[0]


def test_calibration_leaves_out_reference_images_that_are_copies() -> None:
    """A reference set where 30 % are copies of training images (a low mode of distances): the threshold is the
    percentile of the other 70 %; a reference set of new images only is taken as it is."""
    rng = np.random.default_rng(0)
    new = np.exp(rng.normal(np.log(0.35), 0.15, 350))
    copies = np.exp(rng.normal(np.log(0.01), 0.5, 150))
    threshold, is_copy = calibrate(np.concatenate([copies, new]), 2.0)
    assert is_copy[:150].mean() > 0.95 and not is_copy[150:].any()
    assert threshold == pytest.approx(np.percentile(new, 2.0))
    for unimodal in (new, rng.gamma(3, 0.1, 500), rng.weibull(2, 500)):
        threshold, is_copy = calibrate(unimodal, 2.0)
        assert not is_copy.any() and threshold == pytest.approx(np.percentile(unimodal, 2.0))
