"""``compute_metrics``: every metric family, overall and per class, for a real and a synthetic set.

Reads both prepared datasets, then runs each registered metric family (``@family``): a function that
takes one :class:`MetricContext` (both image sets, the scopes, the result table, the feature store
and the options) and fills in its metrics on the whole sets and on each class's subset. Features come
from the :class:`~synthmed.metrics.store.FeatureStore` (one extraction per dataset split and extractor,
shared with ``synthmed filter``). A metric that cannot be computed is ``None`` with its reason in ``notes``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthmed.dataset import PreparedDataset, check_alike
from synthmed.errors import SynthmedError
from synthmed.metrics import features as feat_mod
from synthmed.metrics import frechet, kid, memorization, msssim, prdc
from synthmed.metrics.cache import FeatureCache, default_cache_dir
from synthmed.metrics.store import FeatureStore
from synthmed.utils.hashing import sha256_json

METRIC_KEYS = ("frd", "fid_domain", "kid_domain", "precision", "recall", "density", "coverage", "ms_ssim_real",
               "ms_ssim_fake", "memorized_fraction", "fid_inception", "kid_inception", "inception_score")
PRDC_K = 3


@dataclass
class ImageSet:
    """One side of the comparison: a dataset split, the indices used, pixels and labels."""

    ds: PreparedDataset
    split: str
    indices: np.ndarray
    images: torch.Tensor   # (N, C, H, W) in [-1, 1]
    labels: np.ndarray
    features: dict[str, Any] = field(default_factory=dict)
    train_set: ImageSet | None = None  # the dataset's train split, loaded once (for the real side)

    def cache_key(self, kind: str, extra: Any = None) -> dict:
        return {"data": self.ds.split_hash(self.split), "idx": sha256_json(self.indices.tolist()), "kind": kind,
                "extra": extra}


class Result:
    """Collects values and notes for ``overall`` and each class."""

    def __init__(self, classes: list[str]) -> None:
        self.values: dict[str, dict[str, Any]] = {"overall": dict.fromkeys(METRIC_KEYS)}
        self.values.update({c: dict.fromkeys(METRIC_KEYS) for c in classes})
        self.notes: dict[str, dict[str, str]] = {k: {} for k in self.values}

    def set(self, scope: str, key: str, value: float | None, note: str | None = None) -> None:
        self.values[scope][key] = None if value is None or not np.isfinite(value) else float(value)
        if note:
            self.notes[scope][key] = note

    def note(self, scope: str, key: str, note: str) -> None:
        self.notes[scope][key] = note


def _sample(n: int, max_images: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_images is None or n <= max_images:
        return np.arange(n)
    return np.sort(rng.choice(n, max_images, replace=False))


def _open_set(spec: str, max_images: int | None, rng: np.random.Generator) -> ImageSet:
    ds, split = PreparedDataset.open_spec(spec, "train")
    idx = _sample(len(ds.entries(split)), max_images, rng)
    images, labels = ds.load_tensor(split, idx)
    return ImageSet(ds, split, idx, images, labels.numpy())


@dataclass
class MetricContext:
    """Everything a metric family reads and writes: one object, so adding a family adds a function only."""

    real: ImageSet
    fake: ImageSet
    scopes: list[tuple[str, int | None]]   # ("overall", None), then (class name, label) per class
    res: Result
    info: dict[str, Any]
    store: FeatureStore
    seed: int = 0
    progress: bool = True
    features: str | Path | None = None      # a user's extractor; None: the domain CNN
    out_dir: Path | None = None
    kid_subsets: int = 100
    msssim_pairs: int = 200
    frd_max_images: int | None = 300
    workers: int | None = None
    inception_weights: str | Path | None = None
    allow_download: bool = True
    extractor: Any = None                   # the domain feature extractor, built once per context

    @property
    def cache(self) -> FeatureCache:
        return self.store.cache

    def domain_extractor(self):
        if self.extractor is None:
            self.extractor = feat_mod.user_features(self.features) if self.features else feat_mod.domain_extractor(
                self.real.ds, self.store.root, feat_mod.DomainCNNConfig(seed=self.seed), self.progress)
        return self.extractor


@dataclass(frozen=True)
class Family:
    name: str
    keys: tuple[str, ...]
    fn: Callable[[MetricContext], None]
    reference: bool        # also computed for the real-train-vs-real-val reference row
    skippable: bool        # may be left out with ``skip``


FAMILIES: dict[str, Family] = {}


def family(name: str, keys: tuple[str, ...], reference: bool = False, skippable: bool = False):
    """Register a metric family (run in registration order)."""

    def register(fn: Callable[[MetricContext], None]) -> Callable[[MetricContext], None]:
        FAMILIES[name] = Family(name, keys, fn, reference, skippable)
        return fn

    return register


def compute_metrics(real_spec: str | Path, fake_spec: str | Path, per_class: bool = True,
                    features: str | Path | None = None, inception_weights: str | Path | None = None,
                    out_dir: str | Path | None = None, seed: int = 0, max_images: int | None = None, *,
                    cache_dir: str | Path | None = "default", frd_max_images: int | None = 300,
                    allow_download: bool = True, progress: bool = True, workers: int | None = None,
                    msssim_pairs: int = 200, kid_subsets: int = 100, skip: tuple[str, ...] = ()) -> dict:
    """All metrics of ``fake_spec`` against ``real_spec`` (``DIR[:split]``, default split train).

    ``skip`` may name families to leave out (``frd``, ``inception``); they are then null with a note.
    With ``per_class``, a reference row (the real train split against the real val split, per class)
    shows what real data achieves on the same metrics.
    """
    bad = [s for s in skip if s not in FAMILIES or not FAMILIES[s].skippable]
    if bad:
        raise SynthmedError(f"--skip takes {' or '.join(n for n, f in FAMILIES.items() if f.skippable)}, got "
                            f"{', '.join(bad)}")
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    store = FeatureStore(default_cache_dir() if cache_dir == "default" else cache_dir)
    real = _open_set(str(real_spec), max_images, rng)
    fake = _open_set(str(fake_spec), max_images, rng)
    check_alike(fake.ds, real.ds)
    classes = real.ds.classes
    res = Result(classes)
    info: dict[str, Any] = {"timings_s": {}, "n_real": len(real.labels), "n_fake": len(fake.labels),
                            "n_real_per_class": _counts(real.labels, classes),
                            "n_fake_per_class": _counts(fake.labels, classes)}
    scopes = [("overall", None)] + ([(c, i) for i, c in enumerate(classes)] if per_class else [])
    ctx = MetricContext(real, fake, scopes, res, info, store, seed=seed, progress=progress, features=features,
                        out_dir=Path(out_dir) if out_dir is not None else None, kid_subsets=kid_subsets,
                        msssim_pairs=msssim_pairs, frd_max_images=frd_max_images, workers=workers,
                        inception_weights=inception_weights, allow_download=allow_download)
    timed = _Timer(info["timings_s"])
    for fam in FAMILIES.values():
        if fam.name in skip:
            _null_all(res, scopes, fam.keys, f"skipped (--skip {fam.name})")
            continue
        with timed(fam.name):
            fam.fn(ctx)
    reference = None
    if per_class:
        with timed("reference"):
            reference = _reference_row(ctx, max_images, rng)
    info["timings_s"]["total"] = round(time.perf_counter() - t_start, 2)

    notes: dict[str, Any] = dict(res.notes["overall"])
    if per_class:
        notes["per_class"] = {c: res.notes[c] for c in classes if res.notes[c]}
    return {
        "real": {"path": str(real.ds.root), "split": real.split, "content_hash": real.ds.content_hash},
        "fake": {"path": str(fake.ds.root), "split": fake.split, "content_hash": fake.ds.content_hash},
        "overall": res.values["overall"],
        "per_class": {c: res.values[c] for c in classes} if per_class else {},
        "reference": reference,
        "notes": notes,
        "info": info,
        "config": {"per_class": per_class, "features": str(features) if features else "domain-cnn",
                   "inception_weights": str(inception_weights) if inception_weights else None, "seed": seed,
                   "max_images": max_images, "frd_max_images": frd_max_images, "msssim_pairs": msssim_pairs,
                   "kid_subsets": kid_subsets, "prdc_k": PRDC_K,
                   "memorization_percentile": memorization.PERCENTILE, "skip": list(skip)},
    }


def _reference_row(ctx: MetricContext, max_images: int | None, rng: np.random.Generator) -> dict | None:
    """The real train split against the real val split, with the families that describe a set's realism.

    Each class's synthetic metrics beside what real held-out images of that class score.
    None when the real dataset has no val split.
    """
    ds = ctx.real.ds
    if "val" not in ds.split_names or not ds.entries("val"):
        return None
    train = ctx.real if ctx.real.split == "train" else _train_set(ctx.real)
    val = ImageSet(ds, "val", idx := _sample(len(ds.entries("val")), max_images, rng),
                   ds.load_tensor("val", idx)[0], ds.labels("val")[idx])
    res = Result(ds.classes)
    sub = MetricContext(train, val, ctx.scopes, res, {}, ctx.store, seed=ctx.seed, progress=ctx.progress,
                        features=ctx.features, kid_subsets=ctx.kid_subsets, msssim_pairs=ctx.msssim_pairs,
                        extractor=ctx.extractor)
    done = []
    for fam in FAMILIES.values():
        if fam.reference and fam.name in ctx.info["timings_s"]:  # computed for the synthetic set too
            fam.fn(sub)
            done += list(fam.keys)
    keys = [k for k in done if k != "ms_ssim_real"]
    return {"real": f"{ds.root}:{train.split}", "against": f"{ds.root}:val", "n_val": len(val.labels),
            "n_val_per_class": _counts(val.labels, ds.classes), "keys": keys,
            "overall": {k: res.values["overall"][k] for k in keys},
            "per_class": {c: {k: res.values[c][k] for k in keys} for c, _ in ctx.scopes[1:]}}


class _Timer:
    def __init__(self, sink: dict[str, float]) -> None:
        self.sink = sink

    def __call__(self, name: str):
        @contextlib.contextmanager
        def block():
            t = time.perf_counter()
            yield
            self.sink[name] = round(time.perf_counter() - t, 2)

        return block()


def _counts(labels: np.ndarray, classes: list[str]) -> dict[str, int]:
    return {c: int((labels == i).sum()) for i, c in enumerate(classes)}


def _mask(labels: np.ndarray, label: int | None) -> np.ndarray:
    return np.ones(len(labels), dtype=bool) if label is None else labels == label


def _null_all(res: Result, scopes, keys, note: str) -> None:
    for scope, _ in scopes:
        for key in keys:
            res.set(scope, key, None, note)


def _train_set(real: ImageSet) -> ImageSet:
    """The real dataset's training split (what the generator learnt from)."""
    if real.train_set is not None:
        return real.train_set
    ds = real.ds
    split = "train" if ds.entries("train") else real.split
    if split == real.split:
        real.train_set = real
    else:
        images, labels = ds.load_tensor(split)
        real.train_set = ImageSet(ds, split, np.arange(len(labels)), images, labels.numpy())
    return real.train_set


# -- domain features: FID, KID, precision/recall/density/coverage --------------------------------------
@family("domain", ("fid_domain", "kid_domain", "precision", "recall", "density", "coverage"), reference=True)
def _domain_family(ctx: MetricContext) -> None:
    extractor = ctx.domain_extractor()
    ctx.info["domain_extractor"] = extractor.id
    for s in (ctx.real, ctx.fake):
        if "domain" not in s.features:
            s.features["domain"] = ctx.store.features(s.ds, s.split, extractor)[s.indices]
    real, fake = ctx.real.features["domain"], ctx.fake.features["domain"]
    ctx.info["domain_dim"] = int(real.shape[1])
    for scope, label in ctx.scopes:
        fr, ff = real[_mask(ctx.real.labels, label)], fake[_mask(ctx.fake.labels, label)]
        _distances(ctx.res, scope, "domain", fr, ff, ctx.seed, ctx.kid_subsets)
        if min(len(fr), len(ff)) > PRDC_K:
            for key, value in prdc.prdc(fr, ff, PRDC_K).items():
                ctx.res.set(scope, key, value)
        else:
            for key in ("precision", "recall", "density", "coverage"):
                ctx.res.set(scope, key, None, f"needs more than k={PRDC_K} images per set (have {len(fr)}/"
                            f"{len(ff)})")


def _distances(res: Result, scope: str, family: str, fr: np.ndarray, ff: np.ndarray, seed: int,
               kid_subsets: int = 100) -> None:
    """FID and KID in one feature space, with the small-sample notes the issue asks for."""
    fid_key, kid_key = f"fid_{family}", f"kid_{family}"
    if min(len(fr), len(ff)) < 2:
        res.set(scope, fid_key, None, f"needs at least 2 images per set (have {len(fr)} real, {len(ff)} fake)")
        res.set(scope, kid_key, None, f"needs at least 2 images per set (have {len(fr)} real, {len(ff)} fake)")
        return
    res.set(scope, fid_key, frechet.frechet_from_features(fr, ff), frechet.stability_note(len(fr), len(ff),
                                                                                           fr.shape[1]))
    mean, std, size = kid.kid_from_features(fr, ff, subsets=kid_subsets, rng=np.random.default_rng(seed))
    res.set(scope, kid_key, mean, f"std {std:.3g} over {kid_subsets} subsets of {size}")


# -- MS-SSIM diversity ------------------------------------------------------------------------------
@family("ms_ssim", ("ms_ssim_real", "ms_ssim_fake"), reference=True)
def _msssim_family(ctx: MetricContext) -> None:
    kernel, betas = msssim.scales_for(ctx.real.ds.resolution)
    ctx.info["ms_ssim"] = {"pairs_per_class": ctx.msssim_pairs, "kernel_size": kernel, "scales": len(betas)}
    for name, s in (("ms_ssim_real", ctx.real), ("ms_ssim_fake", ctx.fake)):
        values = {}
        for i, c in enumerate(ctx.real.ds.classes):
            imgs = s.images[torch.from_numpy(s.labels == i)]
            values[c] = msssim.mean_pairwise_msssim(imgs, ctx.msssim_pairs, np.random.default_rng(ctx.seed + i))
        present = [v for v in values.values() if v is not None]
        # overall: the unweighted mean of the class means (diversity *within* classes)
        ctx.res.set("overall", name, float(np.mean(present)) if present else None,
                    None if present else "no class has 2 or more images")
        for scope, _ in ctx.scopes[1:]:
            v = values[scope]
            ctx.res.set(scope, name, v, None if v is not None else "fewer than 2 images in this class")


# -- memorization ------------------------------------------------------------------------------------
@family("memorization", ("memorized_fraction",))
def _memorization_family(ctx: MetricContext) -> None:
    """The audit of the *whole* synthetic split (not the sample), shared with ``synthmed filter``."""
    real, fake = ctx.real, ctx.fake
    train = _train_set(real)
    loo = train is real or real.split == train.split
    extractor = ctx.domain_extractor()
    result = memorization.audit_sets(ctx.store, fake.ds, fake.split, real.ds, None if loo else real.split,
                                     extractor)
    labels = fake.ds.labels(fake.split)
    ctx.info["memorization"] = {
        "reference": "leave-one-out within the training split" if loo else f"real '{real.split}' split vs train",
        "rule": f"aligned pixel distance (flips, shifts up to {memorization.SHIFT_FRACTION:.0%} of the side, "
                f"rotation up to {memorization.MAX_ANGLE:g} degrees, zoom up to {memorization.MAX_ZOOM:.0%}, gain "
                f"and offset, low-pass) <= percentile {result.percentile:g} of the distances of real reference "
                f"images new to the training set",
        "threshold_pixel_rms": result.threshold_pixel, "n_audited": len(labels),
        "n_flagged": int(result.flagged.sum()), "chance_rate": result.chance_rate,
        "reference_copies": result.reference_copies,
        "flagged_fake_indices": [int(i) for i in np.flatnonzero(result.flagged)],
    }
    for scope, label in ctx.scopes:
        m = _mask(labels, label)
        ctx.res.set(scope, "memorized_fraction", float(result.flagged[m].mean()) if m.any() else None,
                    None if m.any() else "no synthetic images in this class")
    if result.fraction > 0:
        ctx.res.note("overall", "memorized_fraction",
                     privacy_message(result.fraction, int(result.flagged.sum()), result.chance_rate))
    if ctx.out_dir is not None and len(labels):
        fake_x, _ = fake.ds.load_tensor(fake.split)  # the audit covers whole splits, not the metrics' sample
        train_x, _ = train.ds.load_tensor(train.split)
        png = memorization.save_pairs_png(result, _display(fake_x), _display(train_x),
                                          ctx.out_dir / "memorization_pairs.png")
        ctx.info["memorization"]["pairs_png"] = str(png)


def privacy_message(fraction: float, n: int, chance: float) -> str:
    return (f"{n} synthetic image(s) ({fraction:.1%}) are near copies of a training image (up to a flip, a small "
            f"shift, turn or zoom, noise, blur, a brightness or contrast change: closer than "
            f"{100 - memorization.PERCENTILE:g}% of new real images are; new real images pass this test at "
            f"{chance:.1%}): possible copies of "
            f"patients' images, a privacy leak if released; inspect memorization_pairs.png; 'synthmed filter' "
            f"drops them")


def _display(images: torch.Tensor) -> np.ndarray:
    return ((images.permute(0, 2, 3, 1).numpy() + 1.0) * 127.5).clip(0, 255).astype(np.uint8)


# -- FRD ---------------------------------------------------------------------------------------------
@family("frd", ("frd",), skippable=True)
def _frd_family(ctx: MetricContext) -> None:
    # lazy: frd-score (pyradiomics, SimpleITK) loads only when this skippable family runs
    from synthmed.metrics import radiomics

    real, fake, scopes, res, info, cache = ctx.real, ctx.fake, ctx.scopes, ctx.res, ctx.info, ctx.cache
    frd_max_images, seed, workers, progress = ctx.frd_max_images, ctx.seed, ctx.workers, ctx.progress
    rng = np.random.default_rng(seed + 1)
    feats, labels = [], []
    for s in (real, fake):
        sub = _sample(len(s.labels), frd_max_images, rng)
        key = {"data": s.ds.split_hash(s.split), "idx": sha256_json(s.indices[sub].tolist()), "frd": "v1"}
        f = cache.load("radiomics", key)
        if f is None or f.shape[0] != len(sub):
            entries = s.ds.entries(s.split)
            paths = [s.ds.image_path(entries[int(s.indices[i])]) for i in sub]
            f = radiomics.extract_radiomics(paths, workers, progress)
            cache.save("radiomics", key, f)
        feats.append(f)
        labels.append(s.labels[sub])
    info["frd"] = {"n_real": len(labels[0]), "n_fake": len(labels[1]), "version": "v1 (frd-score)",
                   "n_radiomic_features": int(feats[0].shape[1])}
    for scope, label in scopes:
        fr, ff = feats[0][_mask(labels[0], label)], feats[1][_mask(labels[1], label)]
        try:
            value, kept = radiomics.frd_from_features(fr, ff)
        except ValueError as exc:
            res.set(scope, "frd", None, str(exc))
            continue
        capped = frd_max_images is not None and max(len(real.labels), len(fake.labels)) > frd_max_images
        note = frechet.stability_note(len(fr), len(ff), kept)
        if value == float("-inf"):
            note = "identical radiomic statistics (Fréchet distance 0, its log undefined)"
        if capped and scope == "overall":
            note = f"radiomics on a random {frd_max_images} images per set (--frd-max-images); " + (note or "")
        res.set(scope, "frd", value, note)


# -- Inception ---------------------------------------------------------------------------------------
@family("inception", ("fid_inception", "kid_inception", "inception_score"), skippable=True)
def _inception_family(ctx: MetricContext) -> None:
    from synthmed.metrics import inception  # lazy: torch-fidelity loads only when this skippable family runs

    real, fake, scopes, res, info, cache = ctx.real, ctx.fake, ctx.scopes, ctx.res, ctx.info, ctx.cache
    weights, allow_download, seed, kid_subsets = ctx.inception_weights, ctx.allow_download, ctx.seed, ctx.kid_subsets
    keys = ("fid_inception", "kid_inception", "inception_score")
    try:
        model = inception.load_inception(weights, allow_download)
    except inception.InceptionUnavailable as exc:
        info["inception"] = str(exc)
        for scope, _ in scopes:
            for key in keys:
                note = str(exc) if scope == "overall" else "Inception weights unavailable (see notes)"
                res.set(scope, key, None, note)
        return
    info["inception"] = "torch-fidelity InceptionV3 (FID weights), uint8, gray->RGB, TF1 bilinear resize to 299"
    both = []
    for s in (real, fake):
        key = s.cache_key("inception", "pt_inception-2015-12-05")
        f = cache.load("inception", key)
        if f is None or f.shape[0] != len(s.labels):
            pool, logits = inception.inception_features(model, s.images)
            f = np.concatenate([pool, logits], axis=1)
            cache.save("inception", key, f)
        both.append(f)
    for scope, label in scopes:
        fr = both[0][_mask(real.labels, label), :2048]
        ff_all = both[1][_mask(fake.labels, label)]
        _distances(res, scope, "inception", fr, ff_all[:, :2048], seed, kid_subsets)
        if len(ff_all) >= 2:
            mean, std = inception.inception_score(ff_all[:, 2048:])
            res.set(scope, "inception_score", mean, f"std {std:.3g} over 10 splits")
        else:
            res.set(scope, "inception_score", None, "needs at least 2 synthetic images")
