"""Fréchet distance between two Gaussians fitted to feature sets (the "F" of FID and FRD).

Why hand-written rather than ``torchmetrics.image.FrechetInceptionDistance``: synthmed computes
features once, caches them on disk by dataset content hash, and then needs the distance for many
subsets (overall and per class) without re-running an extractor over images. This function works
on any cached (N, D) arrays, in float64 with SciPy's ``sqrtm`` (the pytorch-fid formulation).
``tests/metrics/test_frechet_kid.py`` checks it against torchmetrics with the same extractor.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, N-1) covariance of an (N, D) feature array, in float64."""
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise ValueError(f"need an (N>=2, D) feature array, got shape {feats.shape}")
    return feats.mean(axis=0), np.atleast_2d(np.cov(feats, rowvar=False))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """d² = |mu1 - mu2|² + Tr(S1 + S2 - 2 (S1 S2)^½).

    A singular product (fewer samples than dimensions) gets ``eps`` on the diagonals, as in
    pytorch-fid; the small imaginary part that ``sqrtm`` leaves from rounding is dropped.
    """
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on near-singular input; we check finiteness ourselves
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
    return max(value, 0.0)  # rounding can give -1e-12 for identical sets


def frechet_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between the Gaussians of two (N, D) feature arrays."""
    mu1, s1 = feature_stats(real)
    mu2, s2 = feature_stats(fake)
    return frechet_distance(mu1, s1, mu2, s2)


def stability_note(n_real: int, n_fake: int, dim: int) -> str | None:
    """A note when the sample count is too small for a well-conditioned covariance (n < 2·dim)."""
    n = min(n_real, n_fake)
    if n < 2 * dim:
        return (f"only {n} images for {dim}-d features (fewer than 2x the dimension): the Fréchet distance is "
                f"unstable and biased upwards; compare KID, which is unbiased at small n")
    return None
