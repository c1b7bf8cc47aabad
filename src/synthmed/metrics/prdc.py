"""Improved precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et al. 2020), realism score.

All four come from the same k-nearest-neighbour balls around real samples, so they are computed
together from one distance matrix. Why hand-written: the ``prdc`` package is not a dependency,
torch-fidelity only exposes precision/recall, and the realism score (used by ``synthmed filter``)
needs the per-image ball test that neither returns. ``tests/metrics/test_prdc.py`` checks precision
and recall against torch-fidelity's ``calculate_precision_recall_full`` and density/coverage against
hand-computed answers.
"""

from __future__ import annotations

import numpy as np
import torch


def _cdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return torch.cdist(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)).numpy()


def knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each sample to its k-th nearest neighbour in the same set (itself excluded)."""
    d = _cdist(features, features)
    return np.sort(d, axis=1)[:, k]  # column 0 is the sample itself (distance 0)


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    """precision, recall, density and coverage of ``fake`` against ``real`` with k-NN balls."""
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall need more than k={k} images in each set")
    real_radii = knn_radii(real, k)
    fake_radii = knn_radii(fake, k)
    d_rf = _cdist(real, fake)  # (n_real, n_fake)
    inside_real_ball = d_rf <= real_radii[:, None]  # fake j inside the ball of real i
    return {
        "precision": float(inside_real_ball.any(axis=0).mean()),
        "recall": float((d_rf <= fake_radii[None, :]).any(axis=1).mean()),
        "density": float(inside_real_ball.sum() / (k * fake.shape[0])),
        "coverage": float((d_rf.min(axis=1) <= real_radii).mean()),
    }


def realism_scores(real: np.ndarray, fake: np.ndarray, k: int = 3) -> np.ndarray:
    """Realism score of each fake sample: max over real i of radius_i / d(fake, real_i).

    As in Kynkäänniemi et al. (2019, section 5), only the real samples whose k-NN radius is at or
    below the median are used, so that outliers with huge balls do not make everything look
    realistic. Scores >= 1 mean the sample lies inside the estimated real manifold.
    """
    radii = knn_radii(real, k)
    keep = radii <= np.median(radii)
    d = _cdist(fake, real[keep])
    return (radii[keep][None, :] / np.maximum(d, 1e-12)).max(axis=1)
