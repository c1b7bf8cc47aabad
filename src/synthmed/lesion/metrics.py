"""Metrics restricted to the lesion: FID / FRD on lesion crops and a boundary score.

Whole-image metrics barely see a lesion that covers a tenth of an injected image whose other nine tenths are real
pixels. Here every image is cut to a square around its lesion (its mask's bounding box plus a quarter of its side,
the local discriminator's view), resampled to ``crop`` pixels, and compared with the real lesions' crops:

* domain FID on the crops: the metrics stage's domain CNN (``metrics.features``) trained on the *real* lesion crops
  and their classes, its 64-d embedding, the Fréchet distance (``metrics.frechet``);
* FRD on the crops: frd-score's radiomic features of the crops (``metrics.radiomics``), log Fréchet distance;
* boundary score: the mean gradient magnitude (Sobel, grey levels in [0, 1]) along each mask's border. Pasted or
  badly blended lesions show a seam (a higher score than real lesions), over-smoothed ones a lower one; reported
  per set with the ratio and a two-sided Mann-Whitney U test between the sets (SciPy).
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy import ndimage, stats

from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.gan.networks.pix2pix import crop_boxes, lesion_boxes
from synthmed.lesion.masks import border
from synthmed.metrics import radiomics
from synthmed.metrics.features import DomainCNNConfig, extract, train_domain_cnn
from synthmed.metrics.frechet import frechet_from_features, stability_note


@dataclass
class LesionSet:
    """Images (N, C, R, R) in [-1, 1], their masks (N, R, R) bool and labels (N,), from ``DIR:split``."""

    spec: str
    images: torch.Tensor
    masks: np.ndarray
    labels: np.ndarray

    @classmethod
    def open(cls, spec: str, default_split: str = "train") -> LesionSet:
        ds, split = PreparedDataset.open_spec(spec, default_split)
        if not ds.has_masks(split):
            raise SynthmedError(f"{ds.root}: split '{split}' has images without masks; lesion metrics need a mask "
                                "for every image")
        images, labels = ds.load_tensor(split)
        return cls(spec, images, ds.load_masks(split), labels.numpy())


def lesion_crops(images: torch.Tensor, masks: np.ndarray, crop: int) -> torch.Tensor:
    """Square crops around each lesion (``networks.pix2pix.lesion_boxes``), resampled to ``crop`` pixels."""
    m = torch.from_numpy(masks[:, None].astype(np.float32))
    return crop_boxes(images.float(), lesion_boxes(m), crop)


def boundary_scores(images: torch.Tensor, masks: np.ndarray) -> np.ndarray:
    """Per image: mean Sobel gradient magnitude of the grey image (in [0, 1]) over the mask's border pixels."""
    grey = ((images.float().mean(1) + 1) / 2).numpy()
    out = np.full(len(grey), np.nan)
    for i, (g, m) in enumerate(zip(grey, masks, strict=True)):
        edge = border(m)
        if edge.any():
            # Sobel weights sum to 4 on each side; /8 gives the per-pixel intensity difference scale.
            mag = np.hypot(ndimage.sobel(g, axis=0), ndimage.sobel(g, axis=1)) / 8
            out[i] = float(mag[edge].mean())
    return out


@dataclass
class LesionMetrics:
    n_real: int
    n_fake: int
    crop: int
    fid_domain_lesion: float | None
    frd_lesion: float | None
    boundary_real: float
    boundary_fake: float
    boundary_ratio: float
    boundary_p: float
    notes: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lesion_metrics(real_spec: str, fake_spec: str, crop: int = 64, frd: bool = True, seed: int = 0,
                   cnn_epochs: int = 20, progress: bool = False) -> LesionMetrics:
    real, fake = LesionSet.open(real_spec), LesionSet.open(fake_spec)
    if real.images.shape[1] != fake.images.shape[1]:
        raise SynthmedError(f"{fake_spec}: {fake.images.shape[1]} channel(s), the real set has "
                            f"{real.images.shape[1]}")
    crops_r, crops_f = lesion_crops(real.images, real.masks, crop), lesion_crops(fake.images, fake.masks, crop)
    notes: dict[str, str] = {}
    fid = _domain_fid(crops_r, real.labels, crops_f, seed, cnn_epochs, progress, notes)
    frd_value = _frd(crops_r, crops_f, notes, progress) if frd else None
    if not frd:
        notes["frd_lesion"] = "not computed (frd=False)"
    br, bf = boundary_scores(real.images, real.masks), boundary_scores(fake.images, fake.masks)
    br, bf = br[np.isfinite(br)], bf[np.isfinite(bf)]
    p = float(stats.mannwhitneyu(bf, br, alternative="two-sided").pvalue)
    return LesionMetrics(len(real.labels), len(fake.labels), crop, fid, frd_value, float(br.mean()), float(bf.mean()),
                         float(bf.mean() / br.mean()), p, notes)


def _domain_fid(crops_r, labels_r, crops_f, seed, epochs, progress, notes) -> float | None:
    k = int(labels_r.max()) + 1
    if len(np.unique(labels_r)) < 2:
        notes["fid_domain_lesion"] = "the real crops have one class; the domain CNN needs two"
        return None
    cfg = DomainCNNConfig(epochs=epochs, seed=seed)
    model = train_domain_cnn(crops_r, torch.from_numpy(labels_r).long(), k, cfg, progress)
    fr, ff = extract(model, crops_r), extract(model, crops_f)
    note = stability_note(len(fr), len(ff), fr.shape[1])
    if note:
        notes["fid_domain_lesion"] = note
    return float(frechet_from_features(fr, ff))


def _frd(crops_r: torch.Tensor, crops_f: torch.Tensor, notes: dict[str, str], progress: bool) -> float | None:
    feats = []
    with tempfile.TemporaryDirectory(prefix="synthmed-lesion-frd-") as tmp:
        for name, crops in (("real", crops_r), ("fake", crops_f)):
            arr = ((crops.permute(0, 2, 3, 1).numpy() + 1) * 127.5).clip(0, 255).round().astype(np.uint8)
            paths = []
            for i, a in enumerate(arr):
                paths.append(Path(tmp) / f"{name}-{i:05d}.png")
                Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a).save(paths[-1])
            feats.append(radiomics.extract_radiomics(paths, workers=1, progress=progress))
    try:
        value, _ = radiomics.frd_from_features(*feats)
    except ValueError as exc:
        notes["frd_lesion"] = str(exc)
        return None
    return value
