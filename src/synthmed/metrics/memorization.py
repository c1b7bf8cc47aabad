"""Memorization audit: is a synthetic image a near copy of a training image, as a person would judge?

A generator that learnt a patient's image may emit it flipped, moved or turned a little, zoomed, noisier,
brighter, with more or less contrast, or softer: still a privacy leak. The audit compares images in pixel
space after removing what such edits change:
- every image is resized to 32 px and low-pass filtered (Gaussian, sigma 1 px): shifts, turns and zooms are
  then fractions of the image whatever its resolution, and pixel noise, mostly high-frequency, shrinks;
- each compared crop has its mean removed and is divided by its contrast (gain and offset cancel);
- a synthetic image is compared with a training image in its four flips, at every whole-pixel shift up to a
  tenth of the side, then registered to the best few pairs (rotation up to 12 degrees, zoom up to 12 %,
  sub-pixel shift, by gradient descent); the distance is the RMS difference of the best alignment. Only the
  16 training images nearest at 16 px get the full comparison, which keeps the cost near linear.
The threshold is calibrated on real images that were not trained on: the same distance from real
held-out images to the training set (or, when only the training split is given, from each training
image to the others), and its ``percentile``-th percentile over the reference images that are new to the
training set (``calibrate``: a reference set may hold copies of training images itself; BreastMNIST's does).
A synthetic image at or below it is flagged. The same test on those new reference images gives the rate
expected for genuinely new images (``chance_rate``); the share of reference images that are themselves
copies is reported (``reference_copies``).

Why one pixel-space rule and not "close in pixels *and* in features" (an earlier rule): the feature space
sees a flipped or shifted copy as a new image, and requiring both spaces let those through. The nearest
training image in feature space is still reported, for reading. ``benchmarks/memorization_audit.py``
measures what is found, per kind of edit at random strengths.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from sklearn.mixture import GaussianMixture

from synthmed.utils.atomic import atomic_path

WORK_SIDE = 32          # every image is compared at this side (antialiased bilinear resize)
LOWPASS_SIGMA = 1.0     # px at the working side
SHIFT_FRACTION = 0.1    # shifts up to this fraction of the side: 3 px at 32 (2.8 px of a 28-px image, 6 of a 64)
MAX_ANGLE = 12.0        # degrees of rotation the registration may use
MAX_ZOOM = 0.12         # and of zoom (0.88..1.12)
CONTRAST_FLOOR = 0.02   # contrast (std on [0, 1]) below which a crop is not scaled up: flat images stay flat
COARSE_SIDE = 16        # the first pass compares at this side ...
CANDIDATES = 16         # ... and keeps this many training images per query for the shift search ...
REGISTERED = 3          # ... of which the best (image, flip) pairs are registered (rotation, zoom, sub-pixel shift)
REGISTER_STEPS = 25     # gradient steps of that registration
PERCENTILE = 2.0        # of the real reference distances
MIXTURE_MIN = 30        # reference images needed to look for copies among them (see calibrate)
MODE_SEPARATION = 2.0   # copies' mode and new images' mode: means this many (summed) standard deviations apart
AUDIT_VERSION = 4


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
    """(N, C, H, W) in [-1, 1] -> float32 in [0, 1] at ``WORK_SIDE`` px, low-pass filtered.

    One working side for every dataset: shifts, rotations and zooms are then fractions of the image, the same
    edit in the image's own pixels whatever its resolution, and the cost does not grow with the resolution.
    """
    x = (images.float() + 1.0) / 2.0
    if x.shape[-1] != WORK_SIDE or x.shape[-2] != WORK_SIDE:
        x = F.interpolate(x, size=(WORK_SIDE, WORK_SIDE), mode="bilinear", antialias=True, align_corners=False)
    return _gaussian_blur(x, LOWPASS_SIGMA)


def _normalised(v: torch.Tensor) -> torch.Tensor:
    """Crops flattened to (..., D), minus their mean and divided by their contrast (at least the floor).

    Removing mean and contrast cancels a brightness offset and a gain change; the floor keeps a nearly flat
    crop from having its noise magnified into a pattern.
    """
    v = v.flatten(start_dim=-3)
    v = v - v.mean(dim=-1, keepdim=True)
    return v / v.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(CONTRAST_FLOOR)


def _flips(c: torch.Tensor) -> torch.Tensor:
    """(N, 4, C, h, w): as is, left-right, up-down and both."""
    return torch.stack([c, c.flip(-1), c.flip(-2), c.flip(-1).flip(-2)], dim=1)


def _central(x: torch.Tensor, s: int) -> torch.Tensor:
    return x[..., s:x.shape[-2] - s, s:x.shape[-1] - s]


def _shifted(x: torch.Tensor, s: int) -> torch.Tensor:
    """(N, (2s+1)^2 * V, ...) from (N, V, C, H, W): each view's crops moved by -s..s px in y and x."""
    w = x.shape[-1] - 2 * s
    return torch.cat([x[..., s + dy:s + dy + w, s + dx:s + dx + w] for dy in range(-s, s + 1)
                      for dx in range(-s, s + 1)], dim=1)


def _sq_dists(q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of every row of q (B, V, D) with every row of r (B, R, D): (B, V, R)."""
    qq = (q * q).sum(-1, keepdim=True)
    rr = (r * r).sum(-1).unsqueeze(1)
    return (qq + rr - 2 * torch.bmm(q, r.transpose(1, 2))).clamp_min(0) / q.shape[-1]


def _candidates(queries: torch.Tensor, refs: torch.Tensor, exclude_self: bool, chunk: int) -> torch.Tensor:
    """(N_q, k): the training images nearest each query at ``COARSE_SIDE`` (flips, shifts of 1 px)."""
    pool = WORK_SIDE // COARSE_SIDE
    ref = _normalised(_flips(_central(F.avg_pool2d(refs, pool), 1)))  # (N_ref, 4, D)
    ref = ref.reshape(1, -1, ref.shape[-1])
    k = min(CANDIDATES, refs.shape[0] - int(exclude_self))
    out = []
    for start in range(0, queries.shape[0], chunk):
        q = _normalised(_shifted(F.avg_pool2d(queries[start:start + chunk], pool).unsqueeze(1), 1))
        d = _sq_dists(q.reshape(1, -1, q.shape[-1]), ref).view(q.shape[0], q.shape[1], -1, 4).amin(dim=(1, 3))
        if exclude_self:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = float("inf")
        out.append(d.topk(k, dim=1, largest=False).indices)
    return torch.cat(out) if out else torch.zeros(0, k, dtype=torch.long)


def _similarity(turn: torch.Tensor, shift: torch.Tensor, side: int) -> torch.Tensor:
    """(P, 2, 3) affine maps for ``affine_grid`` from (P, 2) (angle, zoom) logits and (P, 2) (dy, dx) in px."""
    a = turn[:, 0].tanh() * np.deg2rad(MAX_ANGLE)
    z = (turn[:, 1].tanh() * np.log1p(MAX_ZOOM)).exp()
    cos, sin = a.cos() / z, a.sin() / z
    t = shift * 2 / side  # one pixel is 2 / side in affine_grid's coordinates
    return torch.stack([torch.stack([cos, -sin, t[:, 1]], dim=1), torch.stack([sin, cos, t[:, 0]], dim=1)], dim=1)


def _register(q: torch.Tensor, r: torch.Tensor, shift: torch.Tensor, s: int) -> torch.Tensor:
    """Mean squared difference of each query q[i] (P, C, H, W), best rotated, zoomed and moved (sub-pixel),
    with the normalised reference crop r[i] (P, D); ``shift``: (P, 2) the best whole-pixel (dy, dx) to start.

    A small image registration (Adam on a similarity transform, the crop compared after normalisation):
    searching a grid of rotations and zooms at every shift costs about 700 comparisons per pair, and still
    leaves a misalignment of a third of a pixel that, on images this small, counts as much as a real difference.
    """
    side = q.shape[-1]
    # Only the central crop is compared, so only its pixel centres are sampled (affine_grid's coordinates).
    centres = (2 * torch.arange(s, side - s, dtype=q.dtype) + 1) / side - 1
    yy, xx = torch.meshgrid(centres, centres, indexing="ij")
    points = torch.stack([xx, yy, torch.ones_like(xx)], dim=-1).reshape(-1, 3)  # (h * w, 3)
    turn = torch.zeros(q.shape[0], 2, requires_grad=True)
    move = shift.float().clone().requires_grad_(True)
    opt = torch.optim.Adam([{"params": [turn], "lr": 0.08}, {"params": [move], "lr": 0.1}])
    best = torch.full((q.shape[0],), float("inf"))
    for _ in range(REGISTER_STEPS + 1):
        grid = (points @ _similarity(turn, move, side).transpose(1, 2)).view(q.shape[0], side - 2 * s, side - 2 * s, 2)
        warped = F.grid_sample(q, grid, mode="bilinear", padding_mode="border", align_corners=False)
        loss = ((_normalised(warped) - r) ** 2).mean(dim=-1)
        best = torch.minimum(best, loss.detach())
        opt.zero_grad()
        loss.sum().backward()
        opt.step()
    return best


def aligned_nearest(queries: torch.Tensor, refs: torch.Tensor, exclude_self: bool = False,
                    chunk: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Each query's smallest aligned distance to a reference and that reference's index.

    Both inputs come from ``prepare_pixels``; ``exclude_self``: queries and refs are one set (leave one out).
    The distance is the RMS difference of the normalised central crops after the best flip of the reference
    and the best rotation, zoom and shift of the query. Three passes keep it affordable: the ``CANDIDATES``
    references nearest at ``COARSE_SIDE``; every whole-pixel shift against those, in their four flips; the
    ``REGISTERED`` best (reference, flip) pairs registered.
    """
    n_q = queries.shape[0]
    dists, idxs = np.full(n_q, np.inf), np.zeros(n_q, dtype=np.int64)
    if n_q == 0 or refs.shape[0] - int(exclude_self) <= 0:
        return dists, idxs
    s = max(1, round(SHIFT_FRACTION * WORK_SIDE))
    ref = _normalised(_flips(_central(refs, s)))  # (N_ref, 4, D)
    cand = _candidates(queries, refs, exclude_self, chunk)
    offsets = torch.tensor([(dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1)])
    for start in range(0, n_q, chunk):
        x = queries[start:start + chunk]
        c = cand[start:start + chunk]  # (B, k)
        b, k = c.shape
        with torch.no_grad():
            q = _normalised(_shifted(x.unsqueeze(1), s))  # (B, V, D)
            d = _sq_dists(q, ref[c].reshape(b, k * 4, -1))  # (B, V, k * 4)
            shift_d, shift_i = d.min(dim=1)  # best whole-pixel shift per (reference, flip)
            m = min(REGISTERED, k * 4)
            top_d, top = shift_d.topk(m, dim=1, largest=False)  # (B, m)
        rows = torch.arange(b).repeat_interleave(m)
        pair = top.reshape(-1)
        reg = _register(x[rows], ref[c[rows, pair // 4], pair % 4], offsets[shift_i[rows, pair]], s)
        total = torch.minimum(reg.view(b, m), top_d)
        best = total.min(dim=1)
        dists[start:start + b] = best.values.double().sqrt().numpy()
        idxs[start:start + b] = c.gather(1, top.gather(1, best.indices[:, None]) // 4)[:, 0].numpy()
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
    reference_copies: float = 0.0  # fraction of the real reference images that are copies of training images

    @property
    def fraction(self) -> float:
        return float(self.flagged.mean()) if len(self.flagged) else 0.0

    def closeness(self) -> np.ndarray:
        """Aligned distance relative to the threshold (<= 1 means flagged)."""
        return self.dist_pixel / max(self.threshold_pixel, 1e-12)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"nn_pixel": self.nn_pixel, "dist_pixel": self.dist_pixel, "flagged": self.flagged,
                "nn_feature": self.nn_feature, "dist_feature": self.dist_feature,
                "scalars": np.array([self.threshold_pixel, self.chance_rate, self.percentile, self.reference_copies])}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> MemorizationResult:
        thr, chance, pct, copies = (float(v) for v in a["scalars"])
        return cls(a["nn_pixel"], a["dist_pixel"], thr, a["flagged"].astype(bool), chance, a["nn_feature"],
                   a["dist_feature"], pct, copies)


def check_memorization(fake_images: torch.Tensor, train_images: torch.Tensor, ref_images: torch.Tensor | None,
                       fake_feat: np.ndarray | None = None, train_feat: np.ndarray | None = None,
                       percentile: float = PERCENTILE) -> MemorizationResult:
    """The audit of ``fake_images`` against ``train_images``; ``ref_images`` None = leave-one-out on train."""
    train = prepare_pixels(train_images)
    loo = ref_images is None
    base, _ = aligned_nearest(train if loo else prepare_pixels(ref_images), train, exclude_self=loo)
    threshold, copies = calibrate(base, percentile)
    dist, idx = aligned_nearest(prepare_pixels(fake_images), train)
    if fake_feat is not None and train_feat is not None and len(fake_feat):
        d_f, i_f = nearest(fake_feat, train_feat)
    else:
        d_f, i_f = np.full(len(dist), np.nan), np.full(len(dist), -1, dtype=np.int64)
    new = base[~copies]
    chance = float((new <= threshold).mean()) if len(new) else 0.0
    # "<=" so that exact copies are flagged even when the threshold is 0.
    return MemorizationResult(idx, dist, threshold, dist <= threshold, chance, i_f, d_f, percentile,
                              float(copies.mean()) if len(copies) else 0.0)


def calibrate(base: np.ndarray, percentile: float) -> tuple[float, np.ndarray]:
    """The threshold (the ``percentile`` of the distances of real reference images that are new to the
    training set) and which reference images are instead copies of a training image themselves.

    A real reference set can hold copies of training images: about a third of BreastMNIST's test images are
    the same pictures as training ones, a little resized or re-encoded. Their distances form a separate low
    mode of the log distances; a percentile taken over both modes lands among those copies, so that any copy
    edited more than the dataset's own duplicates are passes as new. A two-component Gaussian mixture
    (scikit-learn) finds that mode when the data has one: kept only when BIC prefers two components and they are
    well apart; the reference images in the low mode (and below the high mode's mean) are left out.
    """
    copies = np.zeros(len(base), dtype=bool)
    if not np.isfinite(base).any():  # no reference (a training split of one image): only exact copies count
        return 0.0, copies
    logd = np.log10(np.maximum(base, 1e-4))[:, None]
    if len(base) >= MIXTURE_MIN:
        with warnings.catch_warnings():  # e.g. convergence notes on nearly constant distances: not the user's
            warnings.simplefilter("ignore")
            one = GaussianMixture(1, random_state=0).fit(logd)
            two = GaussianMixture(2, random_state=0, n_init=3).fit(logd)
        lo, hi = np.argsort(two.means_[:, 0])
        sd = np.sqrt(two.covariances_.reshape(-1))
        apart = two.means_[hi, 0] - two.means_[lo, 0] > MODE_SEPARATION * (sd[lo] + sd[hi])
        if two.bic(logd) < one.bic(logd) and apart:
            copies = (two.predict_proba(logd)[:, lo] > 0.5) & (logd[:, 0] < two.means_[hi, 0])
    return float(np.percentile(base[~copies], percentile)), copies


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
    """PNG of the ``n`` synthetic images closest to a training image, each beside that training image.

    A bare ``Figure`` (no pyplot): it draws with Agg whatever backend the caller's matplotlib uses.
    """
    closeness = result.closeness()
    order = np.argsort(closeness)[:n]
    cols = 4
    rows = max(1, int(np.ceil(len(order) / cols)))
    fig = Figure(figsize=(2 * cols * 1.3, rows * 1.5))
    axes = fig.subplots(rows, 2 * cols, squeeze=False)
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
    return out
