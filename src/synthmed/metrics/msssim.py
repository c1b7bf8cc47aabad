"""Diversity by MS-SSIM: mean multi-scale SSIM over random pairs of images of one class.

High mean MS-SSIM means similar images; a generator that collapses onto a few modes gives a
fake-set value well above the real-set value. The computation is torchmetrics'
``multiscale_structural_similarity_index_measure``; this module only draws the pairs and picks
scales that fit small images.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure as ms_ssim

DEFAULT_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def scales_for(resolution: int, kernel_size: int = 11) -> tuple[int, tuple[float, ...]]:
    """Kernel size and scale weights that fit ``resolution``.

    MS-SSIM halves the image once per extra scale; torchmetrics requires the smallest scale to be
    larger than the kernel: side > (kernel - 1) * 2^(scales - 1). For small medical thumbnails
    (28 or 64 px) we drop the coarsest scales first (renormalising the remaining weights), then
    shrink the kernel, and report what was used.
    """
    for kernel in (kernel_size, 7, 5, 3):
        for n in range(len(DEFAULT_BETAS), 0, -1):
            fits = resolution > (kernel - 1) * 2 ** (n - 1) and resolution >= 2**n
            # torchmetrics' own size check uses (n - 1)^2 as the divisor; satisfy it too.
            if fits and resolution // max(1, n - 1) ** 2 > kernel - 1:
                betas = np.array(DEFAULT_BETAS[:n])
                return kernel, tuple(float(b) for b in betas / betas.sum())
    raise ValueError(f"image side {resolution} is too small for MS-SSIM")


def random_pairs(n: int, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """``n_pairs`` index pairs (i, j) with i != j, drawn uniformly (an (P, 2) array)."""
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n  # any other index, uniformly
    return np.stack([i, j], axis=1)


def mean_pairwise_msssim(images: torch.Tensor, n_pairs: int = 200, rng: np.random.Generator | None = None,
                         batch: int = 256) -> float | None:
    """Mean MS-SSIM over random pairs of ``images`` ((N, C, H, W) in [-1, 1]); None for fewer than 2 images."""
    rng = rng if rng is not None else np.random.default_rng(0)
    pairs = random_pairs(images.shape[0], n_pairs, rng)
    if len(pairs) == 0:
        return None
    kernel, betas = scales_for(images.shape[-1])
    x = (images.float() + 1.0) / 2.0  # [0, 1], data_range 1
    values = []
    for start in range(0, len(pairs), batch):
        p = torch.from_numpy(pairs[start:start + batch])
        v = ms_ssim(x[p[:, 0]], x[p[:, 1]], data_range=1.0, kernel_size=kernel, betas=betas, reduction="none")
        values.append(v)
    return float(torch.cat(values).mean())
