"""BAGAN's class-conditional latent model: one Gaussian per class, fitted to the autoencoder's encodings.

BAGAN (Mariani et al. 2018) draws a class's latent vectors from ``N(mu_c, Sigma_c)``, the mean and covariance of
the encodings of that class's training images; the generator (the trained decoder) turns them into images, so a
rare class inherits the decoder everything was trained on and differs only in where its latents lie.

Full covariance, not diagonal: the encoder's dimensions are correlated (a diagonal model would draw combinations
of features no real image of the class has), and BAGAN fits full ones. But a full covariance from ``n_c`` images
in ``d`` dimensions is singular when ``n_c <= d`` (teardrop cells: about 100 training images for a 128-d latent)
and noisy when ``n_c`` is not much larger. So each class's covariance is shrunk towards a scaled identity with
Ledoit & Wolf's (2004) estimator (scikit-learn's ``ledoit_wolf``): ``(1 - s) S + s tr(S)/d I`` with the
intensity ``s`` estimated from the class's own encodings, which is large for a class with few images and small
for one with many. Sampling uses the covariance's symmetric square root (``ClassGaussians.factors``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.covariance import ledoit_wolf

from synthmed.errors import SynthmedError


@dataclass
class ClassGaussians:
    """Per class ``c``: ``means[c]`` (d,), ``covs[c]`` (d, d) after shrinkage, ``shrinkage[c]`` in [0, 1]."""

    means: np.ndarray      # (C, d)
    covs: np.ndarray       # (C, d, d)
    shrinkage: np.ndarray  # (C,)
    counts: np.ndarray     # (C,) images per class the fit used

    def factors(self) -> np.ndarray:
        """``A_c`` with ``A_c A_c^T = covs[c]``: a draw is ``means[c] + A_c eps``, eps ~ N(0, I).

        The symmetric square root (from ``eigh``) rather than a Cholesky factor: Ledoit-Wolf's intensity is 0 in
        degenerate cases (codes on a line with equal spread), where the covariance is singular and Cholesky
        fails, while the square root of a positive semi-definite matrix always exists.
        """
        values, vectors = np.linalg.eigh(self.covs)
        return vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]


def empirical_moments(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and maximum-likelihood covariance (divided by n, as Ledoit-Wolf's target is built from)."""
    x = np.asarray(codes, dtype=np.float64)
    mean = x.mean(axis=0)
    centred = x - mean
    return mean, centred.T @ centred / len(x)


def shrunk_covariance(codes: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf covariance of ``codes`` (n, d) and its shrinkage intensity."""
    x = np.asarray(codes, dtype=np.float64)
    cov, s = ledoit_wolf(x)
    return cov, float(s)


def class_gaussians(codes: np.ndarray, labels: np.ndarray, num_classes: int) -> ClassGaussians:
    """Fit one shrunk Gaussian per class; ``num_classes`` 0 (unconditional) fits one to all codes."""
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.zeros(len(codes), dtype=np.int64) if num_classes == 0 else np.asarray(labels)
    n_fit = max(1, num_classes)
    d = codes.shape[1]
    means, covs = np.zeros((n_fit, d)), np.zeros((n_fit, d, d))
    shrinkage, counts = np.zeros(n_fit), np.zeros(n_fit, dtype=np.int64)
    for c in range(n_fit):
        x = codes[labels == c]
        if len(x) < 2:
            raise SynthmedError(f"bagan-gp: class {c} has {len(x)} training image(s); its latent Gaussian needs 2")
        means[c] = x.mean(axis=0)
        covs[c], shrinkage[c] = shrunk_covariance(x)
        counts[c] = len(x)
    return ClassGaussians(means, covs, shrinkage, counts)
