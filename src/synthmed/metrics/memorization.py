"""Memorization audit: is a synthetic image a near copy of a training image, as a person would judge?

A generator that learnt a patient's image may emit it flipped, moved by a pixel or two, a little noisier,
brighter or softer: still a privacy leak. The audit compares images in pixel space after removing what
such edits change:
- both images are brought to at most 64 px (area average) and low-pass filtered (Gaussian, sigma 1 px):
  pixel noise is mostly high-frequency, so i.i.d. noise of 4/255 shrinks to about a quarter while the
  structure that tells two patients apart stays;
- each crop has its mean removed (a brightness offset is no difference);
- a synthetic image is compared with every training image and its left-right, up-down and both flips,
  over every shift of up to 2 px (the central crop of the training image against the synthetic image's
  crops moved by -2..2 px in x and y); the distance is the RMS difference of the best alignment, on [0, 1].
The threshold is calibrated on real images that were not trained on: the same distance from real
held-out images to the training set (or, when only the training split is given, from each training
image to the others), and its ``percentile``-th percentile. A synthetic image at or below it is flagged.
The same test on the real reference images gives the rate expected for genuinely new images.

Why one pixel-space rule and not "close in pixels *and* in features" (the rule before): the feature
space sees a flipped or shifted copy as a new image, and requiring both spaces let those through
(``benchmarks/memorization_audit.py``: 9 of 25 planted copies found before, all 25 now, with fewer real
images flagged). The nearest training image in feature space is still reported, for reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

WORK_SIDE = 64        # images are compared at this side at most (area-averaged down)
LOWPASS_SIGMA = 1.0   # px at the working side
MAX_SHIFT = 2         # px at the working side
PERCENTILE = 2.0      # of the real reference distances (BreastMNIST 64: real flag rate 4.5 %, was 5.5 %)
AUDIT_VERSION = 3


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


# -- aligned pixel distance -------------------------------------------------------------------------------
def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, C, H, W), edges repeated."""
    radius = max(1, round(3 * sigma))
    k = torch.arange(-radius, radius + 1, dtype=x.dtype)
    g = torch.exp(-k**2 / (2 * sigma**2))
    g = (g / g.sum()).to(x.device)
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), g.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
                 groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), g.view(1, 1, -1, 1).repeat(c, 1, 1, 1),
                    groups=c)


def prepare_pixels(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> float32 in [0, 1], at most ``WORK_SIDE`` px, low-pass filtered."""
    x = (images.float() + 1.0) / 2.0
    if x.shape[-1] > WORK_SIDE:
        x = F.adaptive_avg_pool2d(x, (WORK_SIDE, WORK_SIDE))
    return _gaussian_blur(x, LOWPASS_SIGMA)


def _centred(v: torch.Tensor) -> torch.Tensor:
    """Rows minus their mean, scaled so that the Euclidean distance is an RMS difference."""
    v = v.flatten(start_dim=-3)
    return (v - v.mean(dim=-1, keepdim=True)) / np.sqrt(v.shape[-1])


def _reference_views(x: torch.Tensor, s: int) -> torch.Tensor:
    """(N * 4, D): the central crop of each image, as is and flipped left-right, up-down and both."""
    h = x.shape[-1]
    c = x[..., s:h - s, s:h - s]
    views = torch.stack([c, c.flip(-1), c.flip(-2), c.flip(-1).flip(-2)], dim=1)  # (N, 4, C, h', w')
    return _centred(views).reshape(-1, views[0, 0].numel())


def _query_views(x: torch.Tensor, s: int) -> torch.Tensor:
    """(N, (2s+1)^2, D): each image's crops moved by -s..s px in y and x."""
    h = x.shape[-1]
    w = h - 2 * s
    views = torch.stack([x[..., s + dy:s + dy + w, s + dx:s + dx + w] for dy in range(-s, s + 1)
                         for dx in range(-s, s + 1)], dim=1)
    return _centred(views)


def aligned_nearest(queries: torch.Tensor, refs: torch.Tensor, exclude_self: bool = False,
                    chunk: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Each query's smallest aligned distance to a reference and that reference's index.

    Both inputs come from ``prepare_pixels``; ``exclude_self``: queries and refs are one set (leave one out).
    """
    s = MAX_SHIFT if queries.shape[-1] > 4 * MAX_SHIFT + 2 else 0
    ref = _reference_views(refs, s)
    n_ref = refs.shape[0]
    dists = np.zeros(queries.shape[0])
    idxs = np.zeros(queries.shape[0], dtype=np.int64)
    for start in range(0, queries.shape[0], chunk):
        q = _query_views(queries[start:start + chunk], s)
        d = torch.cdist(q.reshape(-1, q.shape[-1]), ref).reshape(q.shape[0], q.shape[1], n_ref, 4)
        d = d.amin(dim=(1, 3))  # best shift, best flip
        if exclude_self:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = float("inf")
        best = d.min(dim=1)
        dists[start:start + len(d)] = best.values.double().numpy()
        idxs[start:start + len(d)] = best.indices.numpy()
    return dists, idxs


# -- the audit --------------------------------------------------------------------------------------------
@dataclass
class MemorizationResult:
    nn_pixel: np.ndarray          # nearest training image (aligned pixel distance), per synthetic image
    dist_pixel: np.ndarray
    threshold_pixel: float
    flagged: np.ndarray           # bool per synthetic image
    chance_rate: float            # the same test on the real reference images
    nn_feature: np.ndarray        # nearest training image in feature space (for reading; -1 without features)
    dist_feature: np.ndarray
    percentile: float = PERCENTILE

    @property
    def fraction(self) -> float:
        return float(self.flagged.mean()) if len(self.flagged) else 0.0

    def closeness(self) -> np.ndarray:
        """Aligned distance relative to the threshold (<= 1 means flagged)."""
        return self.dist_pixel / max(self.threshold_pixel, 1e-12)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"nn_pixel": self.nn_pixel, "dist_pixel": self.dist_pixel, "flagged": self.flagged,
                "nn_feature": self.nn_feature, "dist_feature": self.dist_feature,
                "scalars": np.array([self.threshold_pixel, self.chance_rate, self.percentile])}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> MemorizationResult:
        thr, chance, pct = (float(v) for v in a["scalars"])
        return cls(a["nn_pixel"], a["dist_pixel"], thr, a["flagged"].astype(bool), chance, a["nn_feature"],
                   a["dist_feature"], pct)


def check_memorization(fake_images: torch.Tensor, train_images: torch.Tensor, ref_images: torch.Tensor | None,
                       fake_feat: np.ndarray | None = None, train_feat: np.ndarray | None = None,
                       percentile: float = PERCENTILE) -> MemorizationResult:
    """The audit of ``fake_images`` against ``train_images``; ``ref_images`` None = leave-one-out on train."""
    train = prepare_pixels(train_images)
    loo = ref_images is None
    base, _ = aligned_nearest(train if loo else prepare_pixels(ref_images), train, exclude_self=loo)
    # "<=" so that exact copies are flagged even when the real set itself holds duplicates (threshold 0).
    threshold = float(np.percentile(base, percentile)) if len(base) else 0.0
    dist, idx = aligned_nearest(prepare_pixels(fake_images), train)
    if fake_feat is not None and train_feat is not None and len(fake_feat):
        d_f, i_f = nearest(fake_feat, train_feat)
    else:
        d_f, i_f = np.full(len(dist), np.nan), np.full(len(dist), -1, dtype=np.int64)
    chance = float((base <= threshold).mean()) if len(base) else 0.0
    return MemorizationResult(idx, dist, threshold, dist <= threshold, chance, i_f, d_f, percentile)


def audit_sets(store, fake_ds, fake_split: str, real_ds, ref_split: str | None, extractor=None,
               percentile: float = PERCENTILE) -> MemorizationResult:
    """The audit of a whole synthetic split against ``real_ds``'s train split, cached in the feature store.

    ``ref_split``: the real held-out split that calibrates the threshold; None or ``train``: leave-one-out.
    ``metrics`` and ``filter`` call this with the same arguments and so share one result.
    """
    train_split = "train" if real_ds.entries("train") else real_ds.split_names[0]
    loo = ref_split in (None, train_split)
    key = {"fake": fake_ds.split_hash(fake_split), "train": real_ds.split_hash(train_split),
           "ref": None if loo else real_ds.split_hash(ref_split), "features": extractor.id if extractor else None,
           "percentile": percentile, "v": AUDIT_VERSION}

    def compute() -> dict[str, np.ndarray]:
        fake_x, _ = fake_ds.load_tensor(fake_split)
        train_x, _ = real_ds.load_tensor(train_split)
        ref_x = None if loo else real_ds.load_tensor(ref_split)[0]
        feats = (store.features(fake_ds, fake_split, extractor), store.features(real_ds, train_split, extractor)) \
            if extractor is not None and extractor.has_features else (None, None)
        return check_memorization(fake_x, train_x, ref_x, *feats, percentile=percentile).to_arrays()

    return MemorizationResult.from_arrays(store.memo("memorization", key, compute, n=None))


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
    fig.suptitle("closest synthetic/training pairs (aligned distance / real-image threshold; flips and shifts "
                 "allowed)",
                 fontsize=8)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return out
