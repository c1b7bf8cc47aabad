"""Fréchet distance and KID: hand-computed answers, identical sets, agreement with torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthmed.metrics.frechet import frechet_distance, frechet_from_features, stability_note
from synthmed.metrics.kid import kid_from_features, mmd2_unbiased


def test_frechet_hand_computed_1d() -> None:
    # N(0, 1) vs N(1, 4): (0-1)^2 + 1 + 4 - 2*sqrt(1*4) = 2
    assert frechet_distance(np.array([0.0]), np.array([[1.0]]), np.array([1.0]), np.array([[4.0]])) == \
        pytest.approx(2.0)


def test_identical_sets_score_zero() -> None:
    feats = np.random.default_rng(0).normal(size=(1000, 8))
    other = np.random.default_rng(1).normal(loc=0.5, size=(1000, 8))
    assert frechet_from_features(feats, feats) == pytest.approx(0.0, abs=1e-8)
    kid_same, _, _ = kid_from_features(feats, feats, subsets=1, subset_size=1000)
    kid_other, _, _ = kid_from_features(feats, other, subsets=1, subset_size=1000)
    # the unbiased estimator is slightly negative for identical sets (O(1/n)), like torchmetrics'
    assert abs(kid_same) < 0.03 * kid_other


def test_mmd_hand_computed() -> None:
    # 1-d features, kernel (xy + 1)^3: x = {0, 1}, y = {0, 2}
    x, y = np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])
    k_xx_off = 1.0  # k(0,1) = 1, twice, / (2*1)
    k_yy_off = 1.0  # k(0,2) = 1
    k_xy_mean = (1 + 1 + 1 + 27) / 4  # k(0,0), k(0,2), k(1,0), k(1,2) = 3^3
    assert mmd2_unbiased(x, y) == pytest.approx(k_xx_off + k_yy_off - 2 * k_xy_mean)


def test_kid_reproducible_with_explicit_generator() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(120, 4)), rng.normal(0.3, size=(100, 4))
    first = kid_from_features(a, b, subsets=10, subset_size=50, rng=np.random.default_rng(7))
    again = kid_from_features(a, b, subsets=10, subset_size=50, rng=np.random.default_rng(7))
    assert first == again
    assert first[2] == 50


def test_small_sample_note() -> None:
    assert stability_note(10, 300, 64) is not None
    assert stability_note(200, 300, 64) is None


def _images(seed: int, n: int = 48, shift: float = 0.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 24, 24, generator=gen) * 0.8 + shift).clamp(0, 1)


def test_fid_agrees_with_torchmetrics(random_features) -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance

    real, fake = _images(0), _images(1, shift=0.1)
    tm = FrechetInceptionDistance(feature=random_features, normalize=True)
    tm.update(real, real=True)
    tm.update(fake, real=False)
    with torch.no_grad():
        ours = frechet_from_features(random_features(real).double().numpy(), random_features(fake).double().numpy())
    assert ours == pytest.approx(float(tm.compute()), rel=1e-3)
    assert ours > 0


def test_kid_agrees_with_torchmetrics(random_features) -> None:
    from torchmetrics.image.kid import KernelInceptionDistance

    real, fake = _images(0), _images(1, shift=0.1)
    # one subset holding every image: the estimate no longer depends on the random draw
    tm = KernelInceptionDistance(feature=random_features, subsets=1, subset_size=48, normalize=True)
    tm.update(real, real=True)
    tm.update(fake, real=False)
    tm_mean, _ = tm.compute()
    with torch.no_grad():
        ours, _, _ = kid_from_features(random_features(real).double().numpy(),
                                       random_features(fake).double().numpy(), subsets=1, subset_size=48)
    assert ours == pytest.approx(float(tm_mean), rel=1e-3)
