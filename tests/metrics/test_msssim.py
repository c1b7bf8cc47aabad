"""MS-SSIM diversity: scales for small images, agreement with MONAI, a hand-computed mean, collapse shows high."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthmed.metrics.msssim import mean_pairwise_msssim, random_pairs, scales_for


def test_scales_fit_small_images() -> None:
    assert scales_for(256) == (11, pytest.approx((0.0448, 0.2856, 0.3001, 0.2363, 0.1333), rel=1e-3))
    kernel, betas = scales_for(64)
    assert (kernel - 1) * 2 ** (len(betas) - 1) < 64
    assert sum(betas) == pytest.approx(1.0)


def test_pairs_never_pair_an_image_with_itself() -> None:
    pairs = random_pairs(5, 500, np.random.default_rng(0))
    assert (pairs[:, 0] != pairs[:, 1]).all() and pairs.max() < 5


def test_mean_pairwise_msssim_agrees_with_monai() -> None:
    """Our pairs, scales, [-1, 1] -> [0, 1] mapping and batching against MONAI's MS-SSIM on the same pairs."""
    from monai.metrics import MultiScaleSSIMMetric

    gen = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    shared = torch.exp(-4 * (xx**2 + yy**2))  # one structure, each image with its own noise: similar, not equal
    images = (0.9 * shared + 0.1 * torch.rand(6, 1, 64, 64, generator=gen)).clamp(0, 1) * 2 - 1
    ours = mean_pairwise_msssim(images, 40, np.random.default_rng(3), batch=7)  # batches of 7: a partial last one
    pairs = torch.from_numpy(random_pairs(6, 40, np.random.default_rng(3)))
    kernel, betas = scales_for(64)
    x = (images + 1) / 2
    monai = MultiScaleSSIMMetric(spatial_dims=2, data_range=1.0, kernel_size=kernel, weights=betas,
                                 reduction="none")(x[pairs[:, 0]], x[pairs[:, 1]]).flatten()
    # torchmetrics reflect-pads before filtering, MONAI filters the valid region only: borders differ slightly
    assert ours == pytest.approx(float(monai.mean()), abs=5e-3)


def test_collapse_scores_higher_than_diverse_set() -> None:
    gen = torch.Generator().manual_seed(0)
    diverse = torch.rand(20, 1, 32, 32, generator=gen) * 2 - 1
    collapsed = diverse[:1].repeat(20, 1, 1, 1) + 0.01 * torch.randn(20, 1, 32, 32, generator=gen)
    assert mean_pairwise_msssim(collapsed, 50) > 0.95 > mean_pairwise_msssim(diverse, 50)
    assert mean_pairwise_msssim(diverse[:1], 50) is None


def test_mean_pairwise_msssim_hand_computed() -> None:
    """Two flat images (grey 0.5 and 0.25 on [0, 1]): variances and covariance are 0, so every contrast-structure
    term is (0 + C2) / (0 + C2) = 1 and MS-SSIM is the coarsest scale's luminance term to its weight:
    l = (2 * 0.5 * 0.25 + C1) / (0.5^2 + 0.25^2 + C1) with C1 = (0.01 * 1)^2. Every pair is (0, 1) or (1, 0)."""
    images = torch.stack([torch.full((1, 32, 32), 0.0), torch.full((1, 32, 32), -0.5)])  # [-1, 1] scale
    _, betas = scales_for(32)
    c1 = (0.01 * 1.0) ** 2
    luminance = (2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1)
    assert mean_pairwise_msssim(images, 10, np.random.default_rng(0)) == pytest.approx(luminance ** betas[-1],
                                                                                         abs=1e-4)
    one = torch.zeros(1, 1, 32, 32).uniform_(-1, 1, generator=torch.Generator().manual_seed(0))
    assert mean_pairwise_msssim(one.repeat(4, 1, 1, 1), 10) == pytest.approx(1.0, abs=1e-5)  # identical images
