"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial kernel.

Why hand-written rather than ``torchmetrics.image.KernelInceptionDistance``: it runs on cached
feature arrays (overall and per-class subsets) without re-running an extractor, it takes an
explicit ``numpy.random.Generator`` so that the subset draws are reproducible, and it accepts
sets of different sizes. With one subset that holds every image, the estimate does not depend on
the draw, and ``tests/metrics/test_frechet_kid.py`` checks it against torchmetrics there.
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef: float = 1.0) -> np.ndarray:
    """k(x, y) = (x·y / d + coef)^degree, the KID kernel."""
    return (x @ y.T / x.shape[1] + coef) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² between samples x (m, D) and y (n, D) under the polynomial kernel."""
    m, n = x.shape[0], y.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(term_xx + term_yy - 2.0 * k_xy.mean())


def kid_from_features(real: np.ndarray, fake: np.ndarray, subsets: int = 100, subset_size: int = 1000,
                      rng: np.random.Generator | None = None) -> tuple[float, float, int]:
    """KID mean and standard deviation over random subsets; returns (mean, std, subset size used).

    Each subset draws ``subset_size`` images without replacement from each set (capped at the
    smaller set), as torchmetrics and torch-fidelity do.
    """
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    size = min(subset_size, real.shape[0], fake.shape[0])
    if size < 2:
        raise ValueError("KID needs at least 2 images in each set")
    rng = rng if rng is not None else np.random.default_rng(0)
    values = np.empty(subsets)
    for i in range(subsets):
        xr = real[rng.choice(real.shape[0], size, replace=False)]
        xf = fake[rng.choice(fake.shape[0], size, replace=False)]
        values[i] = mmd2_unbiased(xr, xf)
    return float(values.mean()), float(values.std()), size
