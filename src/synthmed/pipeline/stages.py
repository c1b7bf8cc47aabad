"""The main job's stages, in order: what each reads, which options go into its cache key, and the call.

prepare -> gan -> generate -> metrics -> filter -> classify (grid of train + evaluate) -> stats -> report.
Each ``run_*`` calls the stage package's public Python API and writes into ``ctx.work``.

A stage's cache key takes its own config sections whole (``key_options``; only fields marked ``NOT_IN_KEY``
are left out), plus the single fields of other sections it also reads, so an option added to a section is in
its stage's key without an edit here. The runner checks each run's reads against its key
(``runner.RecordingConfig``): a field a ``run_*`` reads outside it fails the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from synthmed.classify.experiment import capped_epoch_steps, run_experiment
from synthmed.classify.spec import real_subset, round_half_up, synthetic_counts
from synthmed.classify.train import batches_per_pass
from synthmed.dataset import DatasetWriter, PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.filter.filtering import filter_synthetic, merge_filtered
from synthmed.filter.result import FilterResult
from synthmed.filter.top_up import Sampler, admit_best, top_up_classes
from synthmed.gan.options import TrainConfig
from synthmed.gan.run import GanRun
from synthmed.gan.train import train_gan
from synthmed.generate.generate import generate_dataset
from synthmed.metrics.compute import compute_metrics
from synthmed.metrics.result import MetricsResult
from synthmed.pipeline.config import ExperimentConfig, classify_resolution, gan_resolution, key_fields
from synthmed.pipeline.runner import WHOLE_CONFIG, Stage, StageContext
from synthmed.pipeline.summaries import SUMMARIES
from synthmed.prepare.resize import resized_view
from synthmed.prepare.run import prepare_dataset, source_content
from synthmed.stats.compare import compare_results
from synthmed.stats.result import StatsResult
from synthmed.utils.device import pick_device
from synthmed.utils.hashing import sha256_json
from synthmed.utils.options import given


def resolve_device(device: str) -> str:
    return device if device != "auto" else pick_device(device).type


def key_options(cfg: ExperimentConfig, sections: tuple[str, ...], reads: tuple[str, ...] = (), **extra) -> dict:
    """A stage's cache-key options: its config ``sections`` whole, the dotted ``reads`` of other sections and of
    the run (``seed``, ``classify.ratios``), and ``extra`` values (the source's content, the scope)."""
    key: dict = {section: key_fields(getattr(cfg, section)) for section in sections}
    for path in reads:
        value = cfg
        for part in path.split("."):
            value = getattr(value, part)
        key[path] = value
    return {**key, **extra}


# -- prepare ------------------------------------------------------------------------------------------------
def prepare_options(cfg: ExperimentConfig) -> dict:
    """The cache key covers the source's content, not its path: moving the data changes nothing, editing it does."""
    return key_options(cfg, ("data",), content=source_content(cfg.data))


def run_prepare(ctx: StageContext) -> dict:
    d = ctx.config.data
    out = ctx.work / "dataset"
    meta = prepare_dataset(d, out, progress=False)
    _require_splits(PreparedDataset.open(out), d.source_path or d.medmnist)
    # The GAN's and the classifiers' resolutions are in their own summaries: they follow gan.resolution and
    # classify.resolution, which are not in this stage's key.
    return {"dataset": "dataset", "counts": meta["counts"], "classes": meta["classes"],
            "content_hash": meta["content_hash"], "source": d.source, "resolution": int(meta["resolution"]),
            "channels": meta["channels"], "masks": meta.get("masks", 0),
            "train_hash": PreparedDataset.open(out).images_hash("train")}


def _require_splits(ds: PreparedDataset, source: str | None) -> None:
    """The main job trains on train, chooses on val and reports on test: each must hold every class."""
    for split in ("train", "val", "test"):
        counts = ds.class_counts(split)
        empty = [name for name, n in counts.items() if n == 0]
        if not ds.entries(split) or empty:
            what = "is missing" if not ds.entries(split) else f"has no images of {', '.join(empty)}"
            raise SynthmedError(f"{source}: the '{split}' split {what}; synthmed run needs train, val and test "
                                "with every class (give a split column, or leave the split to prepare)")


def real_dataset(ctx: StageContext, resolution: int | None = None) -> PreparedDataset:
    """The prepared real dataset, at ``resolution`` when given (resized once with data.resize_filter, cached in
    OUT/views/ by content and size, shared by the stages that need that size)."""
    real = PreparedDataset.open(ctx.input("prepare") / "dataset")
    if resolution is None:
        return real
    return resized_view(real, ctx.run_dir / "views", resolution, ctx.config.data.resize_filter)


def at_resolution(ctx: StageContext, ds: PreparedDataset, resolution: int) -> PreparedDataset:
    """Any dataset of the run (e.g. the synthetic one) at ``resolution``, the same way as ``real_dataset``."""
    return resized_view(ds, ctx.run_dir / "views", resolution, ctx.config.data.resize_filter)


# -- GAN scopes -----------------------------------------------------------------------------------------------
# A low-data cell must not get synthetic images from a GAN that saw more real images than its classifier.
# So every real fraction f < 1 of the grid gets its own chain subset-f -> gan-f -> generate-f -> metrics-f ->
# filter-f, trained on exactly the fraction's real subset; the whole train split's chain keeps the plain names.
# One fixed, nested subset per fraction (drawn with the run's seed, the same for every classifier seed), not one
# per classifier seed: a GAN per (fraction, seed) would triple the GAN time of the cpu profile, and with one
# subset the real-only and mixed runs of a fraction share exactly the same real images, so their difference is
# the synthetic data's. The price: the low-data curve's intervals do not include the variation between subset
# draws. With classify.oracle_gan the low fractions use the whole train split's GAN instead, reported as an
# "oracle GAN (upper bound)".
@dataclass(frozen=True)
class Scope:
    """The real training images one GAN, its generated set, its metrics reference and its filter learn from."""

    fraction: float

    @property
    def suffix(self) -> str:
        return "" if self.fraction >= 1 else f"-f{self.fraction:g}"

    def stage(self, name: str) -> str:
        return f"{name}{self.suffix}"

    @property
    def data_stage(self) -> str:
        return "prepare" if self.fraction >= 1 else f"subset{self.suffix}"

    @staticmethod
    def parse(name: str) -> tuple[str, Scope] | None:
        """(chain step, scope) of a GAN chain's stage name (``gan``, ``filter-f0.25``, ``subset-f0.1``);
        None for every other stage."""
        step, _, fraction = name.partition("-f")
        if step not in CHAIN:
            return None
        if not fraction:
            return None if step == "subset" else (step, Scope(1.0))
        try:
            scope = Scope(float(fraction))
        except ValueError:
            return None
        return (step, scope) if 0 < scope.fraction < 1 and scope.stage(step) == name else None


CHAIN = ("subset", "gan", "generate", "metrics", "filter")  # the stages of one GAN scope, in order


def gan_scopes(cfg: ExperimentConfig) -> list[Scope]:
    """The whole train split's scope when a cell uses it (fraction 1, or every fraction with the oracle GAN),
    then one scope per real fraction below 1 (largest first)."""
    fractions = cfg.classify.real_fractions
    low = [f for f in fractions if f < 1]
    full = 1.0 in fractions or (cfg.classify.oracle_gan and low) or not low
    return ([Scope(1.0)] if full else []) + ([] if cfg.classify.oracle_gan else [Scope(f) for f in low])


def scope_of_fraction(cfg: ExperimentConfig, fraction: float) -> Scope:
    """Whose synthetic images the grid cells of a real fraction get."""
    return Scope(1.0) if fraction >= 1 or cfg.classify.oracle_gan else Scope(fraction)


def subset_options(cfg: ExperimentConfig, scope: Scope) -> dict:
    return key_options(cfg, (), ("seed",), fraction=scope.fraction)


def run_subset(ctx: StageContext, scope: Scope) -> dict:
    """The fraction's real subset as a prepared dataset with a train split only: nothing else can leak from it."""
    cfg: ExperimentConfig = ctx.config
    real = PreparedDataset.open(ctx.input("prepare") / "dataset")
    idx, _ = real_subset(real.labels("train"), scope.fraction, cfg.seed, real.classes)
    entries = real.entries("train")
    with DatasetWriter(ctx.work / "dataset", real.classes, real.resolution, real.channels,
                       bit_depth=real.bit_depth) as writer:
        for i, image in zip(idx, real.load_images("train", idx), strict=True):
            writer.add(image, int(entries[i]["label"]), "train", mask=real.load_mask(entries[i]), source_index=int(i))
        writer.finish(source={"type": "real subset", "of": real.content_hash, "split": "train",
                              "fraction": scope.fraction, "seed": cfg.seed},
                      preprocessing=real.meta.get("preprocessing") or {})
    subset = PreparedDataset.open(ctx.work / "dataset")
    images_hash = subset.images_hash("train")
    if subset.split_names != ["train"] or images_hash != real.images_hash("train", idx):
        raise SynthmedError(f"{subset.root}: the subset is not exactly the chosen train images (leakage guard)")
    return {"dataset": "dataset", "fraction": scope.fraction, "n": len(idx), "counts": subset.class_counts("train"),
            "images_hash": images_hash}


def scope_dataset(ctx: StageContext, scope: Scope) -> PreparedDataset:
    """The scope's real images, checked against the hash its data stage recorded (the audit's guarantee)."""
    ds = PreparedDataset.open(ctx.input(scope.data_stage) / "dataset")
    expected = ctx.summaries.get(scope.data_stage, {}).get("images_hash" if scope.fraction < 1 else "train_hash")
    if expected and ds.images_hash("train") != expected:
        raise SynthmedError(f"{ds.root}: train images differ from those recorded by stage {scope.data_stage}")
    return ds


# -- GAN ----------------------------------------------------------------------------------------------------
def scope_kimg(cfg: ExperimentConfig, scope: Scope) -> float:
    """A subset GAN trains for kimg * fraction ** gan.subset_kimg_power (0.5: a quarter of the images, half the
    kimg: still 4x the epochs of the full GAN, and it keeps the cpu profile within its 15 minutes)."""
    return round(cfg.gan.kimg * scope.fraction ** cfg.gan.subset_kimg_power, 3)


def gan_options(cfg: ExperimentConfig, scope: Scope = Scope(1.0)) -> dict:
    # profile: its resolution cap (gan_resolution); the prepared resolution is in the prepare key.
    return key_options(cfg, ("gan",), ("seed", "profile"), fraction=scope.fraction)


def run_gan(ctx: StageContext, scope: Scope = Scope(1.0)) -> dict:
    cfg: ExperimentConfig = ctx.config
    real = scope_dataset(ctx, scope)
    data = at_resolution(ctx, real, gan_resolution(cfg, real.resolution))  # the GAN learns and makes this size
    kimg = scope_kimg(cfg, scope)
    runs = ctx.work / "runs"
    previous = GanRun.latest_resumable(runs)  # a run killed mid-training: continue from its last checkpoint
    options = {"snapshot_kimg": max(0.5, min(5.0, kimg / 4)), **given(cfg.gan.options)}
    train_cfg = TrainConfig(data=str(data.root), arch=cfg.gan.arch, out=str(runs),
                            kimg=kimg, batch=cfg.gan.batch, aug=cfg.gan.aug, seed=cfg.seed,
                            device=resolve_device(cfg.device), resume=str(previous.path) if previous else None,
                            **options)
    run_dir = Path(train_gan(train_cfg))
    return {"run": str(run_dir.relative_to(ctx.work)), "resumed": bool(previous), "kimg": kimg,
            "fraction": scope.fraction, "real": _saw(real), "resolution": data.resolution}


def _saw(ds: PreparedDataset) -> dict:
    """What a stage learnt from, for the leakage audit: always a train split (or a subset of it)."""
    return {"split": "train", "n": len(ds.entries("train")), "images_hash": ds.images_hash("train")}


# -- generate -----------------------------------------------------------------------------------------------
def generate_options(cfg: ExperimentConfig, scope: Scope = Scope(1.0)) -> dict:
    # The grid's shape and the filter's switch size the pool (auto_per_class).
    return key_options(cfg, ("generate",), ("seed", "classify.ratios", "classify.synthetic_only", "filter.enabled"))


def oversample_factor(cfg: ExperimentConfig) -> float:
    """Headroom for the filter: on BreastMNIST it kept 14-50 % of one class's images from a short CPU-trained GAN."""
    return cfg.generate.oversample if cfg.filter.enabled else 1.25


def auto_per_class(cfg: ExperimentConfig, real_counts: list[int]) -> list[int]:
    """Per class: the largest class need of any grid cell (``generate.strategy``), times the headroom, for
    every class some cell needs; 0 for the others (the largest class under top-up or minority).

    The same count for every needed class, not each class's own need times the headroom: the filter keeps
    different shares of different classes (14-50 % on BreastMNIST), so a small class needs the large headroom
    too; with the proportional strategy this is the pool the grid has always had.
    """
    need = np.zeros(len(real_counts), dtype=np.int64)
    for ratio, strategy in cell_draws(cfg):
        need = np.maximum(need, synthetic_counts(real_counts, round_half_up(ratio / 100 * sum(real_counts)), strategy))
    pool = max(16, math.ceil(oversample_factor(cfg) * int(need.max(initial=0))))
    return [pool if n > 0 else 0 for n in need]


def cell_draws(cfg: ExperimentConfig) -> list[tuple[float, str]]:
    """(ratio, strategy) of every synthetic draw of the grid: mixed cells by ``generate.strategy``; synthetic-only
    (ratio 100) proportionally, or balanced under that strategy (it replaces the real set, nothing to top up)."""
    strategy = cfg.generate.strategy
    draws = [(float(r), strategy) for r in cfg.classify.ratios if r > 0]
    if cfg.classify.synthetic_only:
        draws.append((100.0, "balanced" if strategy == "balanced" else "proportional"))
    return draws


def run_generate(ctx: StageContext, scope: Scope = Scope(1.0)) -> dict:
    cfg: ExperimentConfig = ctx.config
    gan = scope.stage("gan")
    run_dir = ctx.input(gan) / ctx.summaries[gan]["run"]
    # Every scope's pool is sized from the whole train split: a GAN on a small subset is weaker, so its filter
    # drops more (with a 2 kimg subset GAN on BreastMNIST it kept 7 malignant images of 250), and generating and
    # filtering a larger pool costs seconds.
    real = PreparedDataset.open(ctx.input("prepare") / "dataset")
    per_class = cfg.generate.per_class or auto_per_class(cfg, list(real.class_counts("train").values()))
    meta = generate_dataset(run_dir, ctx.work / "dataset", per_class=per_class,
                            trunc=cfg.generate.trunc, seed=cfg.seed, batch=cfg.generate.batch,
                            device=resolve_device(cfg.device), steps=cfg.generate.steps,
                            guidance=cfg.generate.guidance)
    return {"dataset": "dataset", "per_class": per_class, "counts": meta.get("counts")}


# -- metrics ------------------------------------------------------------------------------------------------
def metrics_options(cfg: ExperimentConfig, scope: Scope = Scope(1.0)) -> dict:
    return key_options(cfg, ("metrics",), ("seed",))


def run_metrics(ctx: StageContext, scope: Scope = Scope(1.0)) -> dict:
    cfg: ExperimentConfig = ctx.config
    reference = scope_dataset(ctx, scope)  # the GAN's own training images, never val/test
    synthetic = PreparedDataset.open(ctx.input(scope.stage("generate")) / "dataset")
    compared = at_resolution(ctx, reference, synthetic.resolution)  # at the GAN's resolution
    result = compute_metrics(f"{compared.root}:train", f"{synthetic.root}:train",
                             per_class=cfg.metrics.per_class, features=cfg.metrics.features, out_dir=ctx.work,
                             seed=cfg.seed, max_images=cfg.metrics.max_images,
                             frd_max_images=cfg.metrics.frd_max_images or None, skip=tuple(cfg.metrics.skip),
                             **given(cfg.metrics.options))
    MetricsResult.model_validate(result).write(ctx.work)
    return {"real": _saw(reference)}


# -- filter -------------------------------------------------------------------------------------------------
def filter_options(cfg: ExperimentConfig, scope: Scope = Scope(1.0)) -> dict:
    # The top-up sizes each class's need from the grid (class_need, feeds_grid) and generates like generate.
    return key_options(cfg, ("filter",), ("seed", "classify.ratios", "classify.synthetic_only",
                                          "classify.real_fractions", "classify.use_filtered", "classify.oracle_gan",
                                          "generate.strategy", "generate.trunc", "generate.batch",
                                          "generate.steps", "generate.guidance"))


def run_filter(ctx: StageContext, scope: Scope = Scope(1.0)) -> dict:
    cfg: ExperimentConfig = ctx.config
    reference = scope_dataset(ctx, scope)  # its classifier and copy check learn from the GAN's images only
    generated = PreparedDataset.open(ctx.input(scope.stage("generate")) / "dataset")
    compared = at_resolution(ctx, reference, generated.resolution)  # at the GAN's resolution
    full = PreparedDataset.open(ctx.input("prepare") / "dataset")
    calibrated = cfg.filter.calibrated
    calibration = at_resolution(ctx, full, generated.resolution) if calibrated else None

    def run(synthetic: Path, out: Path) -> dict:
        # The thresholds are calibrated on the real val images (scores only, nothing learns from them).
        return filter_synthetic(synthetic, compared.root, out, seed=cfg.seed,
                                calibration=f"{calibration.root}:val" if calibration else None,
                                **cfg.filter.rule_kwargs())

    parts, summaries = [ctx.work / "pass-0"], [run(generated.root, ctx.work / "pass-0")]
    # Each class's need: what the grid's cells fed by this scope draw (nothing when the grid never sees the set).
    fractions = [f for f in cfg.classify.real_fractions if scope_of_fraction(cfg, f) == scope]
    feeds_grid = grid_sources(cfg) != ("real",) and cfg.classify.use_filtered
    need = class_need(cfg, full, fractions) if feeds_grid else np.zeros(full.num_classes, dtype=np.int64)
    gan = scope.stage("gan")
    sampler = Sampler(ctx.input(gan) / ctx.summaries[gan]["run"], cfg.generate.trunc, cfg.seed, cfg.generate.batch,
                      resolve_device(cfg.device), cfg.generate.steps, cfg.generate.guidance)
    top_up = top_up_classes(ctx.work, generated, need, cfg.filter.top_up_factor, sampler, parts, summaries, run)
    relaxed = admit_best(ctx.work, parts, top_up) if cfg.filter.when_short == "best" else None
    if len(parts) == 1 and relaxed is None:
        parts[0].rename(ctx.work / "dataset")
        result = summaries[0]
    else:
        result = merge_filtered(parts, summaries, ctx.work / "dataset", relaxed=relaxed)
    FilterResult.model_validate({**result, "top_up": top_up}).write(ctx.work)
    for note in top_up["notes"]:
        print(f"filter: {note}")
    return {"kept": result["kept"], "removed": result["removed"], "real": _saw(reference),
            "calibrated_on": _split_seen(full, "val") if calibrated else None, "top_up": top_up}


def class_need(cfg: ExperimentConfig, real: PreparedDataset, fractions: list[float]) -> np.ndarray:
    """Synthetic images of each class that the grid's largest draw from one synthetic set needs (as
    ``feasible_grid`` counts them: every cell's draw under ``generate.strategy``, per real fraction)."""
    need = np.zeros(real.num_classes, dtype=np.int64)
    for fraction in fractions:
        _, quotas = real_subset(real.labels("train"), fraction, cfg.seed, real.classes)
        for ratio, strategy in cell_draws(cfg):
            need = np.maximum(need, synthetic_counts(quotas, round_half_up(ratio / 100 * int(quotas.sum())),
                                                     strategy))
    return need


# -- classifier grid ----------------------------------------------------------------------------------------
def classify_options(cfg: ExperimentConfig) -> dict:
    # seed: the real subsets; profile: the resolution cap; filter.enabled: which synthetic sets the grid gets.
    return key_options(cfg, ("classify",), ("seed", "profile", "generate.strategy", "filter.enabled"))


def synthetic_stage(cfg: ExperimentConfig, scope: Scope = Scope(1.0)) -> str:
    """The stage whose dataset the grid's cells of ``scope`` get: its filter, or its generate stage when the
    filter is off or not used."""
    return scope.stage("filter") if cfg.classify.use_filtered and cfg.filter.enabled else scope.stage("generate")


def synthetic_dataset(ctx: StageContext, scope: Scope = Scope(1.0)) -> Path:
    return ctx.input(synthetic_stage(ctx.config, scope)) / "dataset"


def grid_sources(cfg: ExperimentConfig) -> tuple[str, ...]:
    c = cfg.classify
    return ("real",) + (("mixed",) if any(r > 0 for r in c.ratios) else ()) + (("synthetic",) if c.synthetic_only
                                                                               else ())


def feasible_grid(cfg: ExperimentConfig, real: PreparedDataset, synthetic: dict[float, PreparedDataset] | None,
                  ) -> tuple[list[int], bool, list[str]]:
    """The ratios (and synthetic-only) the synthetic sets have enough images of every class for, and why not.

    The classifier grid draws ``ratio`` % of the real images used, split among classes like the real ones;
    after filtering a class may be short. Those cells are left out with a reason (shown in the report)
    instead of stopping the whole grid. ``synthetic``: each real fraction's synthetic set.
    """
    c = cfg.classify
    labels = real.labels("train")
    notes: list[str] = []

    def short(ratio: float, strategy: str = cfg.generate.strategy) -> str | None:
        for fraction in c.real_fractions:
            have = np.bincount(synthetic[fraction].labels("train"), minlength=real.num_classes)
            _, quotas = real_subset(labels, fraction, cfg.seed, real.classes)
            need = synthetic_counts(quotas, round_half_up(ratio / 100 * int(quotas.sum())), strategy)
            lacking = [f"{real.classes[k]} needs {n}, has {have[k]}" for k, n in enumerate(need) if n > have[k]]
            if lacking:
                return f"real fraction {fraction:g}: {'; '.join(lacking)}"
        return None

    ratios = [0]
    for r in (r for r in c.ratios if r > 0):
        why = short(r) if synthetic else "no synthetic set"
        if why:
            notes.append(f"ratio {r} % left out: not enough synthetic images ({why})")
        else:
            ratios.append(r)
    synthetic_only = c.synthetic_only and bool(synthetic)
    if synthetic_only and (why := short(*cell_draws(cfg)[-1])):
        synthetic_only = False
        notes.append(f"synthetic-only left out: not enough synthetic images ({why})")
    return ratios, synthetic_only, notes


def run_classify(ctx: StageContext) -> dict:
    cfg: ExperimentConfig = ctx.config
    c = cfg.classify
    real = PreparedDataset.open(ctx.input("prepare") / "dataset")
    wants_synthetic = grid_sources(cfg) != ("real",)
    paths = {f: synthetic_dataset(ctx, scope_of_fraction(cfg, f)) for f in c.real_fractions} if wants_synthetic \
        else {}
    # Classifiers train and test at their own resolution; synthetic images (made at the GAN's) are resized the same way.
    resolution = classify_resolution(cfg, real.resolution)
    syn = {f: at_resolution(ctx, PreparedDataset.open(p), resolution) for f, p in paths.items()} or None
    ratios, synthetic_only, notes = feasible_grid(cfg, real, syn)
    notes += budget_notes(cfg, real)
    for note in notes:
        print(f"classify: {note}")
    sources = ("real",) + (("mixed",) if len(ratios) > 1 else ()) + (("synthetic",) if synthetic_only else ())
    synthetic = {f: str(d.root) for f, d in syn.items()} if syn is not None and sources != ("real",) else None
    subsets = _check_subsets(ctx, real, at_resolution(ctx, real, resolution))
    # The experiment skips runs it already finished, so a killed grid resumes in its work folder.
    rows = run_experiment(str(at_resolution(ctx, real, resolution).root), synthetic, ctx.work / "experiment",
                          ratios=ratios, real_fractions=c.real_fractions, sources=sources, augments=c.augment,
                          seeds=c.seeds, arch=c.arch, epochs=c.epochs, batch_size=c.batch, lr=c.lr,
                          budget=c.budget, subset_seed=cfg.seed, draw=cfg.generate.strategy,
                          device=resolve_device(cfg.device), workers=None if c.workers == "auto" else c.workers,
                          threads=c.threads, ray_address=c.ray_address, images_per_run=c.images_per_run,
                          **given(c.options))
    return {"experiment": "experiment", "runs": len(rows), "ratios": ratios, "synthetic_only": synthetic_only,
            "notes": notes, "real_subsets": subsets, "oracle_gan": c.oracle_gan,
            "gan_of_fraction": {f"{f:g}": scope_of_fraction(cfg, f).fraction for f in c.real_fractions},
            "val": _split_seen(real, "val"), "test": _split_seen(real, "test"), "resolution": resolution}


def budget_notes(cfg: ExperimentConfig, real: PreparedDataset) -> list[str]:
    """What the compute budget (classify.images_per_run) cut, per real fraction, for the report (nothing if nothing)."""
    c = cfg.classify
    if c.images_per_run is None:
        return []
    capped = capped_epoch_steps(c.images_per_run, c.epochs, c.batch)
    notes = []
    for fraction in c.real_fractions:
        _, quotas = real_subset(real.labels("train"), fraction, cfg.seed, real.classes)
        n_real = int(quotas.sum())
        full = batches_per_pass(n_real, c.batch)
        if capped < full:
            notes.append(f"compute budget (classify.images_per_run {c.images_per_run:,}): at real fraction "
                         f"{fraction:g} ({n_real:,} images) each classifier run trains {c.epochs} epochs of {capped} "
                         f"batches of {c.batch} instead of {full} (one pass): {capped / full:.0%} of the "
                         f"{c.epochs} passes the config asks for")
    return notes


def _check_subsets(ctx: StageContext, real: PreparedDataset, trained: PreparedDataset) -> dict[str, dict]:
    """Each fraction's classifier subset; where a subset GAN exists, it must have learnt from exactly these images.

    ``trained``: the real set at the classifiers' resolution (the same entries, resized); its subset's hash is
    the one the grid's rows record (``trained_hash``).
    """
    cfg: ExperimentConfig = ctx.config
    out = {}
    for f in cfg.classify.real_fractions:
        idx, _ = real_subset(real.labels("train"), f, cfg.seed, real.classes)
        seen = {"split": "train", "n": len(idx), "images_hash": real.images_hash("train", idx)}
        seen["trained_hash"] = seen["images_hash"] if trained is real else trained.images_hash("train", idx)
        scope = scope_of_fraction(cfg, f)
        if scope.fraction == f and f < 1:
            gan_saw = ctx.summaries[scope.data_stage]["images_hash"]
            if gan_saw != seen["images_hash"]:
                raise SynthmedError(f"real fraction {f:g}: the subset GAN learnt from other images than the "
                                    "classifiers get (subset hashes differ)")
        out[f"{f:g}"] = seen
    return out


def _split_seen(real: PreparedDataset, split: str) -> dict:
    return {"split": split, "n": len(real.entries(split)), "images_hash": real.images_hash(split)}


# -- statistics ---------------------------------------------------------------------------------------------
def stats_options(cfg: ExperimentConfig) -> dict:
    return key_options(cfg, ("stats",), ("seed",))


def run_stats(ctx: StageContext) -> dict:
    cfg: ExperimentConfig = ctx.config
    classify = ctx.input("classify") / ctx.summaries["classify"]["experiment"]
    result = StatsResult.model_validate(compare_results(classify, baseline=cfg.stats.baseline, seed=cfg.seed))
    result.write(ctx.work)
    return {"verdicts": [c.sentence for c in result.comparisons]}


# -- report -------------------------------------------------------------------------------------------------
def report_options(cfg: ExperimentConfig) -> dict:
    """The whole config (results.json carries it), as its hash: the dry run prints the config itself above."""
    return {WHOLE_CONFIG: sha256_json(cfg.model_dump())}


def run_report(ctx: StageContext) -> dict:
    # Here, not at the top: the report reads stage names through this module's Scope.
    from synthmed.report.build import build_report, failed_line, publish, sources_from_context

    result = build_report(sources_from_context(ctx), ctx.work)
    if result["failed"]:
        # Publish what was built, then fail the stage: it is not cached, so a re-run builds it again.
        page = publish(ctx.work, ctx.run_dir)
        raise SynthmedError(f"{failed_line(result)}; every other section is in {page}")
    return {"sections": result.get("sections_rendered", [])}


def _disabled(section: str):
    def reason(cfg: ExperimentConfig) -> str | None:
        return None if getattr(cfg, section).enabled else f"disabled in the config ({section}.enabled: false)"

    return reason


def summary_model(stage: str) -> type[BaseModel]:
    """The model of a stage's summary (``pipeline.summaries``), by its name (``filter-f0.25``: a filter's)."""
    parsed = Scope.parse(stage)
    return SUMMARIES[parsed[0] if parsed else stage]


def stages_for(cfg: ExperimentConfig) -> list[Stage]:
    """The stages of a config: prepare, one GAN chain per scope (see ``Scope``), the grid, statistics, report.

    ``code``: the packages whose source is in each stage's key (``runner.code_fingerprint``).
    """
    chains: list[Stage] = []
    for scope in gan_scopes(cfg):
        if scope.fraction < 1:
            chains.append(Stage(scope.data_stage, ("prepare",), partial(subset_options, scope=scope),
                                partial(run_subset, scope=scope), code=("classify.spec", "dataset")))
        data = (scope.data_stage,) if scope.fraction < 1 else ("prepare",)
        gan, gen, met, fil = (scope.stage(n) for n in ("gan", "generate", "metrics", "filter"))
        chains += [
            Stage(gan, data, partial(gan_options, scope=scope), partial(run_gan, scope=scope), resumable=True,
                  code=("gan",)),
            Stage(gen, tuple(dict.fromkeys(("prepare", *data, gan))), partial(generate_options, scope=scope),
                  partial(run_generate, scope=scope), code=("generate", "gan")),
            Stage(met, (*data, gen), partial(metrics_options, scope=scope), partial(run_metrics, scope=scope),
                  skip=_disabled("metrics"), code=("metrics",)),
            # The filter calibrates on the full dataset's val split (scores only) and tops classes up from the GAN.
            Stage(fil, tuple(dict.fromkeys(("prepare", *data, gan, gen))), partial(filter_options, scope=scope),
                  partial(run_filter, scope=scope), skip=_disabled("filter"), code=("filter", "generate", "gan")),
        ]
    synthetic = tuple(s.name for s in chains if (p := Scope.parse(s.name)) and p[0] in ("subset", "generate", "filter"))
    classify = Stage("classify", ("prepare", *synthetic), classify_options, run_classify, resumable=True,
                     code=("classify",))
    every = ("prepare", *(s.name for s in chains), "classify", "stats")
    stages = [Stage("prepare", (), prepare_options, run_prepare, code=("prepare", "dataset")), *chains, classify,
              Stage("stats", ("classify",), stats_options, run_stats, code=("stats",)),
              Stage("report", every, report_options, run_report, code=("report",))]
    for stage in stages:
        stage.summary = summary_model(stage.name)
    return stages


# The default config's stages (a config with other real fractions has others: use ``stages_for``).
STAGES: list[Stage] = stages_for(ExperimentConfig())
