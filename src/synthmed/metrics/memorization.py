"""Memorization check: is a synthetic image closer to some training image than real new images are?

For every synthetic image we find its nearest training image in feature space and in pixel space
(RMS pixel difference). The reference is how close *real* images that were not trained on get:
held-out real images against the training set (or, when only the training split is given, each
training image against the others). A synthetic image closer than the 5th percentile of those
real nearest-neighbour distances in *both* spaces is flagged as a possible near copy (a copy is
close in pixels, and then also in any continuous feature space; requiring both keeps look-alikes
that are merely similar in features from being flagged). The same test applied to the real
reference images themselves gives the rate expected by chance for genuinely new images (at most
5%); a synthetic rate well above it means the generator copies patients' images, a privacy leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


def nearest(queries: np.ndarray, refs: np.ndarray, exclude_self: bool = False,
            chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Distance to and index of each query's nearest reference (Euclidean); ``exclude_self`` for one set."""
    q = torch.as_tensor(queries, dtype=torch.float64)
    r = torch.as_tensor(refs, dtype=torch.float64)
    dists, idxs = [], []
    for start in range(0, q.shape[0], chunk):
        d = torch.cdist(q[start:start + chunk], r)
        if exclude_self:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = float("inf")
        best = d.min(dim=1)
        dists.append(best.values)
        idxs.append(best.indices)
    if not dists:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return torch.cat(dists).numpy(), torch.cat(idxs).numpy()


def pixel_vectors(images: torch.Tensor) -> np.ndarray:
    """Flattened pixels scaled so that the Euclidean distance is the RMS difference on [0, 1]."""
    x = (images.double() + 1.0) / 2.0
    return (x.reshape(x.shape[0], -1) / np.sqrt(x[0].numel())).numpy()


@dataclass
class MemorizationResult:
    nn_feature: np.ndarray        # index into the training set, per synthetic image
    dist_feature: np.ndarray
    nn_pixel: np.ndarray
    dist_pixel: np.ndarray
    threshold_feature: float
    threshold_pixel: float
    flagged: np.ndarray           # bool per synthetic image (both spaces)
    chance_rate: float            # the same test on the real reference images

    @property
    def fraction(self) -> float:
        return float(self.flagged.mean()) if len(self.flagged) else 0.0

    def closeness(self) -> np.ndarray:
        """Distance relative to the threshold, the larger of the two spaces (<= 1 means flagged)."""
        return np.maximum(self.dist_feature / max(self.threshold_feature, 1e-12),
                          self.dist_pixel / max(self.threshold_pixel, 1e-12))


def check_memorization(fake_feat: np.ndarray, train_feat: np.ndarray, fake_pix: np.ndarray, train_pix: np.ndarray,
                       ref_feat: np.ndarray | None, ref_pix: np.ndarray | None, percentile: float = 5.0
                       ) -> MemorizationResult:
    """Nearest training images of each synthetic image and the flag; ``ref_*`` None = leave-one-out on train."""
    loo = ref_feat is None
    base_f, _ = nearest(train_feat if loo else ref_feat, train_feat, exclude_self=loo)
    base_p, _ = nearest(train_pix if loo else ref_pix, train_pix, exclude_self=loo)
    thr_f = float(np.percentile(base_f, percentile))
    thr_p = float(np.percentile(base_p, percentile))
    d_f, i_f = nearest(fake_feat, train_feat)
    d_p, i_p = nearest(fake_pix, train_pix)
    # "<=" so that exact copies are flagged even when the real set itself holds duplicates (threshold 0).
    flagged = (d_f <= thr_f) & (d_p <= thr_p)
    chance = float(((base_f <= thr_f) & (base_p <= thr_p)).mean())
    return MemorizationResult(i_f, d_f, i_p, d_p, thr_f, thr_p, flagged, chance)


def save_pairs_png(result: MemorizationResult, fake_images: np.ndarray, train_images: np.ndarray, out: Path,
                   n: int = 16) -> Path:
    """PNG of the ``n`` synthetic images closest to a training image, each beside that training image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from synthmed.utils.atomic import atomic_path

    closeness = result.closeness()
    order = np.argsort(closeness)[:n]
    cols = 4
    rows = max(1, int(np.ceil(len(order) / cols)))
    fig, axes = plt.subplots(rows, 2 * cols, figsize=(2 * cols * 1.3, rows * 1.5), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for k, i in enumerate(order):
        j = result.nn_pixel[i]  # the training image it resembles pixel for pixel
        ax_f, ax_t = axes[k // cols, 2 * (k % cols)], axes[k // cols, 2 * (k % cols) + 1]
        for ax, img in ((ax_f, fake_images[i]), (ax_t, train_images[j])):
            ax.imshow(img.squeeze(), cmap="gray" if img.shape[-1] == 1 else None, vmin=0, vmax=img.max() or 1)
        flag = " COPY?" if result.flagged[i] else ""
        ax_f.set_title(f"fake {i}{flag}", fontsize=7, color="red" if flag else "black")
        ax_t.set_title(f"train {j} ({closeness[i]:.2f})", fontsize=7)
    fig.suptitle("closest synthetic/training pairs (distance / 5th-percentile real distance, worse space)",
                 fontsize=8)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return out
