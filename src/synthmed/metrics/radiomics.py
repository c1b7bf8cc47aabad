"""Fréchet Radiomics Distance (FRD v1, Konz, Osuala et al. 2026) through the ``frd-score`` package.

FRD compares distributions of ~400 handcrafted radiomic features (first order, texture, LoG and
wavelet filtered), so it needs no downloaded network. ``frd_score.compute_frd`` takes two folders
and re-extracts everything each call; synthmed instead calls its per-image extraction
(``process_image_mask_pair`` with the package's v1 extractor) on the prepared dataset's PNG files,
caches the raw features by dataset content hash, and then applies the package's own v1 pipeline
steps (drop images with NaN features, float32, z-score w.r.t. the real set, drop NaN/Inf columns,
Fréchet distance, log) so that per-class subsets cost nothing extra. Extraction takes about
0.25 s per image per core, hence the process pool and the ``max_images`` cap.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from frd_score import frd
from tqdm import tqdm

_EXTRACTOR = None


def _extractor():
    """The frd-score v1 2D radiomics extractor, built once per process, with pyradiomics kept quiet."""
    global _EXTRACTOR
    if _EXTRACTOR is None:
        frd._ensure_radiomics()
        logging.getLogger("radiomics").setLevel(logging.ERROR)
        frd.setVerbosity(60)
        _EXTRACTOR = frd.get_feature_extractor(frd_version="v1", image_dim=2)
    return _EXTRACTOR


def _features_of(path: str) -> list[float] | None:
    result = frd.process_image_mask_pair((path, None), feature_extractor=_extractor(), frd_version="v1")
    return None if result is None else result[0]


def _init_worker() -> None:
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)  # the pool already uses every core


def extract_radiomics(paths: list[Path], workers: int | None = None, progress: bool = True) -> np.ndarray:
    """(N, F) raw radiomic features of image files (NaN rows where extraction was skipped)."""
    workers = workers or max(1, min(len(os.sched_getaffinity(0)), 8))
    names = [str(p) for p in paths]
    bar = dict(total=len(names), desc="radiomics", unit="img", disable=not progress)
    if workers == 1 or len(names) < 8:
        _init_worker()
        rows = [_features_of(p) for p in tqdm(names, **bar)]
    else:
        with ProcessPoolExecutor(workers, initializer=_init_worker) as pool:
            rows = list(tqdm(pool.map(_features_of, names, chunksize=4), **bar))
    width = max((len(r) for r in rows if r is not None), default=0)
    return np.array([r if r is not None else [np.nan] * width for r in rows], dtype=np.float64)


def frd_from_features(real: np.ndarray, fake: np.ndarray) -> tuple[float, int]:
    """FRD v1 = log of the Fréchet distance between z-scored features (reference: the real set).

    Follows ``frd_score.calculate_feature_statistics`` for ``frd_version='v1'``; returns the value
    and the number of feature columns kept.
    """
    sets = []
    for feats in (real, fake):
        feats = feats[~np.isnan(feats).any(axis=1)]
        sets.append(feats.astype(np.float32))
    if min(len(s) for s in sets) < 2:
        raise ValueError("FRD needs at least 2 images with radiomic features in each set")
    normalized = [frd.z_score_normalize(s, 0.0, 1.0, replace_nan=False, handle_std_zero=False,
                                        base_distribution=sets[0]) for s in sets]
    bad = np.zeros(normalized[0].shape[1], dtype=bool)
    for nf in normalized:
        bad |= ~np.isfinite(nf).all(axis=0)
    normalized = [nf[:, ~bad].astype(np.float64) for nf in normalized]
    mu = [n.mean(axis=0) for n in normalized]
    sigma = [np.cov(n, rowvar=False) for n in normalized]
    d2 = float(frd.calculate_frechet_distance(mu[0], sigma[0], mu[1], sigma[1]))
    return (float(np.log(d2)) if d2 > 0 else float("-inf")), int((~bad).sum())
