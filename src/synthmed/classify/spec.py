"""Training-set specifications: real images, synthetic images, or a mix, written as one string.

A SPEC is comma-separated ``key=value`` terms (a bare ``DIR[:split]`` means ``real=DIR[:split]``)::

    real=DIR[:split]           real images (default split: train)
    synthetic=DIR[:split]      synthetic images (default split: train)
    ratio=R                    synthetic images as R % of the real count *used* (after ``fraction``); default 100
    fraction=F                 a stratified, seeded fraction (0, 1] of the real split (low-data curves); default 1
    source=real|synthetic|mixed  default: inferred (real only, synthetic only, or both given)
    draw=STRATEGY              how the synthetic count is split among classes (``synthetic_counts``):
                               proportional (= stratified, the default) like the real subset, balanced equally,
                               top-up to the largest class first, minority only to classes below the median count
    subset_seed=S              draw the real ``fraction`` with seed S instead of the training seed (the main job
                               fixes one subset per fraction, the one its subset GAN learns from)

Examples::

    data/breast28                                   real only
    real=data/breast28,fraction=0.25                25 % of the real training set, stratified by class
    synthetic=runs/syn                              every synthetic image
    real=data/breast28,synthetic=runs/syn,ratio=50  real + synthetic images numbering 50 % of the real ones
    source=synthetic,real=data/breast28,synthetic=runs/syn
                                                    synthetic only, as many as the real set (ratio 100)

Counts are exact and reproducible: per-class quotas use the largest-remainder rule and the images of
each class are taken in the order of one seeded permutation, so for a fixed seed a smaller fraction
takes the first images of the same per-class order (a subset of a larger fraction's images).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import get_args

import numpy as np

from synthmed.classify.options import MAX_SYNTHETIC_RATIO, Draw, Source
from synthmed.dataset import PreparedDataset, check_alike
from synthmed.errors import SynthmedError
from synthmed.utils.allocation import allocate

SOURCES = get_args(Source)
DRAWS = get_args(Draw)  # "stratified" first: the older name of proportional
STRATEGIES = DRAWS[1:]
_KEYS = ("real", "synthetic", "ratio", "fraction", "source", "draw", "subset_seed")
# Salts keep the real-subset and synthetic-draw random streams independent of each other.
_REAL_SALT, _SYN_SALT = 101, 202


@dataclass(frozen=True)
class TrainSpec:
    """What a classifier is trained on (paths as given; nothing is read until ``resolve``)."""

    real: str | None = None
    synthetic: str | None = None
    ratio: float | None = None
    fraction: float = 1.0
    source: str = ""
    draw: str = "stratified"
    subset_seed: int | None = None

    def __post_init__(self) -> None:
        source = self.source or _infer_source(self.real, self.synthetic)
        object.__setattr__(self, "source", source)
        if source not in SOURCES:
            raise SynthmedError(f"training spec: source must be one of {', '.join(SOURCES)}, got '{source}'")
        if self.draw not in DRAWS:
            raise SynthmedError(f"training spec: draw must be one of {', '.join(DRAWS)}, got '{self.draw}'")
        if not 0.0 < self.fraction <= 1.0:
            raise SynthmedError(f"training spec: fraction must be in (0, 1], got {self.fraction}")
        if self.ratio is not None and not 0 <= self.ratio <= MAX_SYNTHETIC_RATIO:  # NaN fails too
            raise SynthmedError(f"training spec: ratio must be a percentage in 0..{MAX_SYNTHETIC_RATIO:g}, "
                                f"got {self.ratio}")
        if source in ("real", "mixed") and not self.real:
            raise SynthmedError(f"training spec: source '{source}' needs real=DIR")
        if source in ("synthetic", "mixed") and not self.synthetic:
            raise SynthmedError(f"training spec: source '{source}' needs synthetic=DIR")
        if source == "real" and self.synthetic:
            raise SynthmedError("training spec: source 'real' takes no synthetic=DIR (use source=mixed)")
        if source == "synthetic" and not self.real and (self.ratio is not None or self.fraction != 1.0):
            raise SynthmedError("training spec: ratio/fraction of a synthetic-only set need real=DIR to count from")

    @property
    def effective_ratio(self) -> float:
        """Synthetic images as % of the real count used (0 for real-only training)."""
        if self.source == "real":
            return 0.0
        return 100.0 if self.ratio is None else float(self.ratio)

    def to_text(self) -> str:
        terms = [f"{k}={v}" for k, v in asdict(self).items() if v is not None and v != ""]
        return ",".join(terms)


def _infer_source(real: str | None, synthetic: str | None) -> str:
    if real and synthetic:
        return "mixed"
    if synthetic:
        return "synthetic"
    if real:
        return "real"
    raise SynthmedError("training spec names no data: give real=DIR and/or synthetic=DIR")


def parse_train_spec(text: str) -> TrainSpec:
    """Parse a SPEC string (see the module docstring)."""
    values: dict[str, str] = {}
    for raw in str(text).split(","):
        term = raw.strip()
        if not term:
            continue
        key, sep, value = term.partition("=")
        if not sep:
            key, value = "real", term
        key = key.strip().lower()
        if key not in _KEYS:
            raise SynthmedError(f"training spec '{text}': unknown key '{key}' (known: {', '.join(_KEYS)})")
        if key in values:
            raise SynthmedError(f"training spec '{text}': '{key}' given twice")
        values[key] = value.strip()
    try:
        ratio = float(values["ratio"]) if "ratio" in values else None
        fraction = float(values.get("fraction", 1.0))
        subset_seed = int(values["subset_seed"]) if "subset_seed" in values else None
    except ValueError:
        raise SynthmedError(f"training spec '{text}': ratio, fraction and subset_seed must be numbers") from None
    return TrainSpec(real=values.get("real"), synthetic=values.get("synthetic"), ratio=ratio, fraction=fraction,
                     source=values.get("source", ""), draw=values.get("draw", "stratified"), subset_seed=subset_seed)


def synthetic_counts(real_counts: Sequence[int], total: int, strategy: str) -> np.ndarray:
    """Split ``total`` synthetic images among classes whose real counts are ``real_counts``.

    - ``proportional`` (or ``stratified``): like the real classes (largest remainder);
    - ``balanced``: equally;
    - ``top-up``: to the classes with the fewest images (real + synthetic so far) first, so every class rises
      towards the largest one, which it reaches when ``total`` is the sum of the gaps; beyond that, equally;
    - ``minority``: like ``top-up``, but only to the classes with fewer real images than the median count.
    E.g. real [10, 20, 60], total 30: proportional [3, 7, 20], balanced [10, 10, 10], top-up [20, 10, 0],
    minority [30, 0, 0].
    """
    c = np.asarray(real_counts, dtype=np.int64)
    if strategy in ("proportional", "stratified"):
        return allocate(total, c) if c.sum() > 0 else allocate(total, np.ones(len(c)))
    if strategy == "balanced":
        return allocate(total, np.ones(len(c)))
    if strategy == "top-up":
        return water_fill(c, total, np.ones(len(c), dtype=bool))
    if strategy == "minority":
        return water_fill(c, total, c < np.median(c))
    raise SynthmedError(f"unknown generation strategy '{strategy}' (one of {', '.join(STRATEGIES)})")


def water_fill(counts: np.ndarray, total: int, eligible: np.ndarray) -> np.ndarray:
    """Add ``total`` images to the ``eligible`` classes, always to the one with the fewest (ties: lower index).

    Closed form of that one-at-a-time rule: raise a common level L as far as ``total`` allows (the largest L
    with sum(max(0, L - c_k)) <= total), then one more image to the first classes standing at L.
    """
    add = np.zeros(len(counts), dtype=np.int64)
    if total <= 0 or not eligible.any():
        return add

    def filled(level: int) -> np.ndarray:
        return np.where(eligible, np.maximum(0, level - counts), 0)

    lo, hi = int(counts[eligible].min()), int(counts[eligible].max()) + int(total)
    while lo < hi:  # largest level whose fill fits
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if filled(mid).sum() <= total else (lo, mid - 1)
    add = filled(lo)
    at_level = np.flatnonzero(eligible & (counts + add == lo))
    add[at_level[: int(total - add.sum())]] += 1
    return add


def round_half_up(x: float) -> int:
    """Round .5 up (Python's round() rounds half to even), so counts are easy to compute by hand."""
    return math.floor(x + 0.5)


@dataclass
class Composition:
    """A resolved training set: which images of which datasets, with exact per-class counts."""

    spec: TrainSpec
    real: PreparedDataset | None
    real_split: str | None
    real_indices: np.ndarray
    synthetic: PreparedDataset | None
    synthetic_split: str | None
    synthetic_indices: np.ndarray
    classes: list[str]
    counts: dict[str, list[int]] = field(default_factory=dict)

    @property
    def n_real(self) -> int:
        return len(self.real_indices)

    @property
    def n_synthetic(self) -> int:
        return len(self.synthetic_indices)

    def real_images_hash(self) -> str | None:
        """Content hash of the real images trained on (``PreparedDataset.images_hash``): for the leakage audit."""
        return self.real.images_hash(self.real_split, self.real_indices) if self.real is not None else None

    def summary(self) -> dict:
        return {"spec": self.spec.to_text(), "source": self.spec.source, "ratio": self.spec.effective_ratio,
                "real_fraction": self.spec.fraction, "draw": self.spec.draw, "n_real": self.n_real,
                "n_synthetic": self.n_synthetic, "counts": self.counts, "real_images_hash": self.real_images_hash(),
                "real_dataset": _ds_info(self.real, self.real_split),
                "synthetic_dataset": _ds_info(self.synthetic, self.synthetic_split)}


def _ds_info(ds: PreparedDataset | None, split: str | None) -> dict | None:
    if ds is None:
        return None
    return {"path": str(ds.root), "split": split, "content_hash": ds.content_hash}


def resolve(spec: TrainSpec, seed: int) -> Composition:
    """Open the datasets and choose the exact images to train on (seeded)."""
    real, real_split = PreparedDataset.open_spec(spec.real, "train") if spec.real else (None, None)
    syn, syn_split = PreparedDataset.open_spec(spec.synthetic, "train") if spec.synthetic else (None, None)
    if real is not None and syn is not None:
        check_alike(syn, real, "the real dataset")  # same classes (in order), size and channels
    classes = (real or syn).classes  # type: ignore[union-attr]
    real_idx = np.zeros(0, dtype=np.int64)
    real_counts = np.zeros(len(classes), dtype=np.int64)
    if real is not None:
        subset_seed = seed if spec.subset_seed is None else spec.subset_seed
        real_idx, real_counts = real_subset(real.labels(real_split), spec.fraction, subset_seed, classes)
    use_real = spec.source in ("real", "mixed")
    if syn is None:
        syn_idx = np.zeros(0, dtype=np.int64)
    elif real is None:
        syn_idx = np.arange(len(syn.entries(syn_split)), dtype=np.int64)
    else:
        n_syn = round_half_up(spec.effective_ratio / 100.0 * int(real_counts.sum()))
        # Synthetic-only replaces the real set: topping up classes it does not contain means nothing.
        strategy = "proportional" if not use_real and spec.draw in ("top-up", "minority") else spec.draw
        quotas = synthetic_counts(real_counts, n_syn, strategy)
        syn_idx = draw_per_class(syn.labels(syn_split), quotas, seed, classes, syn.root)
    if not use_real:
        real_idx = np.zeros(0, dtype=np.int64)
    comp = Composition(spec, real, real_split, real_idx, syn, syn_split, syn_idx, classes)
    none = [0] * len(classes)
    comp.counts = {
        "real": _per_class(real.labels(real_split)[real_idx], len(classes)) if real is not None else none,
        "synthetic": _per_class(syn.labels(syn_split)[syn_idx], len(classes)) if syn is not None else none,
    }
    if comp.n_real + comp.n_synthetic == 0:
        raise SynthmedError(f"training spec '{spec.to_text()}' selects no images")
    return comp


def _per_class(labels: np.ndarray, k: int) -> list[int]:
    return np.bincount(labels, minlength=k).astype(int).tolist()


def real_subset(labels: np.ndarray, fraction: float, seed: int, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Stratified seeded subset: ``round(N * fraction)`` images split among classes by their counts."""
    per_class = np.bincount(labels, minlength=len(classes))
    if fraction >= 1.0:
        return np.arange(len(labels), dtype=np.int64), per_class
    quotas = allocate(round_half_up(len(labels) * fraction), per_class)
    for k, (have, take) in enumerate(zip(per_class, quotas, strict=True)):
        if have > 0 and take == 0:
            raise SynthmedError(f"real fraction {fraction} leaves class '{classes[k]}' with no images ({have} in all)")
    return _take(labels, quotas, seed, _REAL_SALT), quotas


def draw_per_class(labels: np.ndarray, quotas: np.ndarray, seed: int, classes: list[str], root) -> np.ndarray:
    """Draw ``quotas[k]`` synthetic images of class k without replacement (seeded)."""
    have = np.bincount(labels, minlength=len(classes))
    short = [f"{classes[k]} needs {q}, has {have[k]}" for k, q in enumerate(quotas) if q > have[k]]
    if short:
        raise SynthmedError(f"{root}: not enough synthetic images ({'; '.join(short)}); "
                            "generate more or lower the ratio")
    return _take(labels, quotas, seed, _SYN_SALT)


def _take(labels: np.ndarray, quotas: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """First ``quotas[k]`` images of class k in a seeded permutation; sorted indices."""
    chosen = []
    for k, q in enumerate(quotas):
        idx = np.flatnonzero(labels == k)
        rng = np.random.default_rng([int(seed), salt, k])
        chosen.append(idx[rng.permutation(len(idx))[: int(q)]])
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, dtype=np.int64)
