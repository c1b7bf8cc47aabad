"""The main job's stages, in order: what each reads, which options go into its cache key, and the call.

prepare -> gan -> generate -> metrics -> filter -> classify (grid of train + evaluate) -> stats -> report.
Each ``run_*`` calls the stage package's public Python API and writes into ``ctx.work``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.pipeline.config import ExperimentConfig
from synthmed.pipeline.runner import Stage, StageContext
from synthmed.utils.atomic import write_bytes, write_json


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# -- prepare ------------------------------------------------------------------------------------------------
def _data_root(cfg: ExperimentConfig) -> Path | None:
    from synthmed.prepare.medmnist_source import default_root

    return Path(cfg.data.root) if cfg.data.root else default_root()


def prepare_options(cfg: ExperimentConfig) -> dict:
    from synthmed.prepare.medmnist_source import medmnist_filename
    from synthmed.utils.hashing import sha256_file

    # The source file's hash, not its path, goes into the key: moving the data root changes nothing.
    root = _data_root(cfg) or Path.home() / ".medmnist"
    path = root / medmnist_filename(cfg.data.medmnist, cfg.data.size)
    source = sha256_file(path) if path.is_file() else "not downloaded yet"
    return {"medmnist": cfg.data.medmnist, "size": cfg.data.size, "resolution": cfg.data.resolution,
            "channels": cfg.data.channels, "source_sha256": source}


def run_prepare(ctx: StageContext) -> dict:
    from synthmed.prepare.build import build_from_arrays
    from synthmed.prepare.medmnist_source import locate_or_download, read_medmnist
    from synthmed.prepare.preprocess import PreprocessOptions

    cfg: ExperimentConfig = ctx.config
    path = locate_or_download(cfg.data.medmnist, cfg.data.size, _data_root(cfg))
    opts = PreprocessOptions(resolution=cfg.data.resolution, channels=cfg.data.channels)
    meta = build_from_arrays(read_medmnist(path, cfg.data.medmnist), ctx.work / "dataset", opts)
    return {"dataset": "dataset", "counts": meta["counts"], "classes": meta["classes"],
            "content_hash": meta["content_hash"]}


# -- GAN ----------------------------------------------------------------------------------------------------
def gan_options(cfg: ExperimentConfig) -> dict:
    return {"arch": cfg.gan.arch, "kimg": cfg.gan.kimg, "batch": cfg.gan.batch, "aug": cfg.gan.aug,
            "seed": cfg.seed, "options": cfg.gan.options}


def run_gan(ctx: StageContext) -> dict:
    from synthmed.gan.options import TrainConfig
    from synthmed.gan.run import GanRun
    from synthmed.gan.train import train_gan

    cfg: ExperimentConfig = ctx.config
    runs = ctx.work / "runs"
    previous = GanRun.latest_resumable(runs)  # a run killed mid-training: continue from its last checkpoint
    options = {"snapshot_kimg": max(0.5, min(5.0, cfg.gan.kimg / 4)), **cfg.gan.options}
    train_cfg = TrainConfig(data=str(ctx.input("prepare") / "dataset"), arch=cfg.gan.arch, out=str(runs),
                            kimg=cfg.gan.kimg, batch=cfg.gan.batch, aug=cfg.gan.aug, seed=cfg.seed,
                            device=resolve_device(cfg.device), resume=str(previous.path) if previous else None,
                            **options)
    run_dir = Path(train_gan(train_cfg))
    return {"run": str(run_dir.relative_to(ctx.work)), "resumed": bool(previous)}


# -- generate -----------------------------------------------------------------------------------------------
def generate_options(cfg: ExperimentConfig) -> dict:
    per_class = cfg.generate.per_class or {"auto": {"ratios": cfg.classify.ratios,
                                                     "synthetic_only": cfg.classify.synthetic_only,
                                                     "factor": oversample_factor(cfg)}}
    return {"per_class": per_class, "trunc": cfg.generate.trunc, "seed": cfg.seed}


def oversample_factor(cfg: ExperimentConfig) -> float:
    """Headroom for the filter: on BreastMNIST it kept 14-50 % of one class's images from a short CPU-trained GAN."""
    return cfg.generate.oversample if cfg.filter.enabled else 1.25


def auto_per_class(cfg: ExperimentConfig, real_counts: list[int]) -> int:
    """Enough images of every class for the largest ratio (drawn like the real classes), times the headroom."""
    largest = max([*cfg.classify.ratios, 100 if cfg.classify.synthetic_only else 0])
    return max(16, math.ceil(oversample_factor(cfg) * largest / 100 * max(real_counts)))


def run_generate(ctx: StageContext) -> dict:
    from synthmed.generate.generate import generate_dataset

    cfg: ExperimentConfig = ctx.config
    run_dir = ctx.input("gan") / ctx.summaries["gan"]["run"]
    real = PreparedDataset.open(ctx.input("prepare") / "dataset")
    per_class = cfg.generate.per_class or auto_per_class(cfg, list(real.class_counts("train").values()))
    meta = generate_dataset(run_dir, ctx.work / "dataset", per_class=per_class,
                            trunc=cfg.generate.trunc, seed=cfg.seed, batch=cfg.generate.batch,
                            device=resolve_device(cfg.device))
    return {"dataset": "dataset", "per_class": per_class, "counts": meta.get("counts")}


# -- metrics ------------------------------------------------------------------------------------------------
def metrics_options(cfg: ExperimentConfig) -> dict:
    m = cfg.metrics
    return {"max_images": m.max_images, "per_class": m.per_class, "features": m.features,
            "frd_max_images": m.frd_max_images, "skip": m.skip, "seed": cfg.seed, "options": m.options}


def run_metrics(ctx: StageContext) -> dict:
    from synthmed.metrics.compute import compute_metrics

    cfg: ExperimentConfig = ctx.config
    result = compute_metrics(f"{ctx.input('prepare') / 'dataset'}:train", f"{ctx.input('generate') / 'dataset'}:train",
                             per_class=cfg.metrics.per_class, features=cfg.metrics.features, out_dir=ctx.work,
                             seed=cfg.seed, max_images=cfg.metrics.max_images,
                             frd_max_images=cfg.metrics.frd_max_images, skip=tuple(cfg.metrics.skip),
                             **cfg.metrics.options)
    write_json(ctx.work / "metrics.json", result)
    return {}


# -- filter -------------------------------------------------------------------------------------------------
def filter_options(cfg: ExperimentConfig) -> dict:
    return {"min_confidence": cfg.filter.min_confidence, "drop_worst_realism": cfg.filter.drop_worst_realism,
            "drop_near_copies": cfg.filter.drop_near_copies, "seed": cfg.seed}


def run_filter(ctx: StageContext) -> dict:
    from synthmed.filter.filtering import filter_synthetic

    cfg: ExperimentConfig = ctx.config
    result = filter_synthetic(ctx.input("generate") / "dataset", ctx.input("prepare") / "dataset",
                              ctx.work / "dataset", min_confidence=cfg.filter.min_confidence,
                              drop_worst_realism=cfg.filter.drop_worst_realism,
                              drop_near_copies=cfg.filter.drop_near_copies, seed=cfg.seed)
    write_json(ctx.work / "filter.json", result)
    return {"kept": result.get("kept"), "removed": result.get("removed")}


# -- classifier grid ----------------------------------------------------------------------------------------
def classify_options(cfg: ExperimentConfig) -> dict:
    c = cfg.classify
    return {"arch": c.arch, "epochs": c.epochs, "batch": c.batch, "lr": c.lr, "seeds": c.seeds, "ratios": c.ratios,
            "real_fractions": c.real_fractions, "augment": c.augment, "synthetic_only": c.synthetic_only,
            "budget": c.budget, "synthetic": "filtered" if c.use_filtered and cfg.filter.enabled else "generated",
            "options": c.options}


def synthetic_dataset(ctx: StageContext) -> Path:
    cfg: ExperimentConfig = ctx.config
    if cfg.classify.use_filtered and ctx.inputs.get("filter") is not None:
        return ctx.input("filter") / "dataset"
    return ctx.input("generate") / "dataset"


def grid_sources(cfg: ExperimentConfig) -> tuple[str, ...]:
    c = cfg.classify
    return ("real",) + (("mixed",) if any(r > 0 for r in c.ratios) else ()) + (("synthetic",) if c.synthetic_only
                                                                               else ())


def feasible_grid(cfg: ExperimentConfig, real: PreparedDataset, synthetic: PreparedDataset | None,
                  ) -> tuple[list[int], bool, list[str]]:
    """The ratios (and synthetic-only) the synthetic set has enough images of every class for, and why not.

    The classifier grid draws ``ratio`` % of the real images used, split among classes like the real ones;
    after filtering a class may be short. Those cells are left out with a reason (shown in the report)
    instead of stopping the whole grid.
    """
    from synthmed.classify.spec import allocate, real_subset, round_half_up

    c = cfg.classify
    have = np.bincount(synthetic.labels("train"), minlength=real.num_classes) if synthetic else None
    labels = real.labels("train")
    notes: list[str] = []

    def short(ratio: float) -> str | None:
        for fraction in c.real_fractions:
            _, quotas = real_subset(labels, fraction, c.seeds[0], real.classes)
            need = allocate(round_half_up(ratio / 100 * int(quotas.sum())), quotas)
            lacking = [f"{real.classes[k]} needs {n}, has {have[k]}" for k, n in enumerate(need) if n > have[k]]
            if lacking:
                return f"real fraction {fraction:g}: {'; '.join(lacking)}"
        return None

    ratios = [0]
    for r in (r for r in c.ratios if r > 0):
        why = short(r) if have is not None else "no synthetic set"
        if why:
            notes.append(f"ratio {r} % left out: not enough synthetic images ({why})")
        else:
            ratios.append(r)
    synthetic_only = c.synthetic_only and have is not None
    if synthetic_only and (why := short(100)):
        synthetic_only = False
        notes.append(f"synthetic-only left out: not enough synthetic images ({why})")
    return ratios, synthetic_only, notes


def run_classify(ctx: StageContext) -> dict:
    from synthmed.classify.experiment import run_experiment

    cfg: ExperimentConfig = ctx.config
    c = cfg.classify
    real = PreparedDataset.open(ctx.input("prepare") / "dataset")
    wants_synthetic = grid_sources(cfg) != ("real",)
    syn = PreparedDataset.open(synthetic_dataset(ctx)) if wants_synthetic else None
    ratios, synthetic_only, notes = feasible_grid(cfg, real, syn)
    for note in notes:
        print(f"classify: {note}")
    sources = ("real",) + (("mixed",) if len(ratios) > 1 else ()) + (("synthetic",) if synthetic_only else ())
    synthetic = str(syn.root) if syn is not None and sources != ("real",) else None
    # The experiment skips runs it already finished, so a killed grid resumes in its work folder.
    rows = run_experiment(str(ctx.input("prepare") / "dataset"), synthetic, ctx.work / "experiment",
                          ratios=ratios, real_fractions=c.real_fractions, sources=sources, augments=c.augment,
                          seeds=c.seeds, arch=c.arch, epochs=c.epochs, batch_size=c.batch, lr=c.lr,
                          budget=c.budget, device=resolve_device(cfg.device), **c.options)
    return {"experiment": "experiment", "runs": len(rows), "ratios": ratios, "synthetic_only": synthetic_only,
            "notes": notes}


# -- statistics ---------------------------------------------------------------------------------------------
def stats_options(cfg: ExperimentConfig) -> dict:
    return {"baseline": cfg.stats.baseline, "seed": cfg.seed}


def run_stats(ctx: StageContext) -> dict:
    from synthmed.stats.compare import compare_results

    cfg: ExperimentConfig = ctx.config
    result = compare_results(ctx.input("classify") / "experiment", baseline=cfg.stats.baseline,
                             out=ctx.work / "stats.json", seed=cfg.seed)
    return {"verdicts": [c["sentence"] for c in result["comparisons"]]}


# -- report -------------------------------------------------------------------------------------------------
def report_options(cfg: ExperimentConfig) -> dict:
    return {"samples_per_class": cfg.report.samples_per_class, "name": cfg.name}


def run_report(ctx: StageContext) -> dict:
    from synthmed.report.build import build_report, sources_from_context

    result = build_report(sources_from_context(ctx), ctx.work)
    if result["failed"]:
        # Publish what was built, then fail the stage: it is not cached, so a re-run builds it again.
        for name in ("report.html", "results.json"):
            write_bytes(ctx.run_dir / name, (ctx.work / name).read_bytes())
        failed = "; ".join(f"section {k}: {v}" for k, v in result["failed"].items())
        raise SynthmedError(f"{failed}; every other section is in {ctx.run_dir / 'report.html'}")
    return {"report": "report.html", "results": "results.json", "sections": result.get("sections_rendered", [])}


def _disabled(section: str):
    def reason(cfg: ExperimentConfig) -> str | None:
        return None if getattr(cfg, section).enabled else f"disabled in the config ({section}.enabled: false)"

    return reason


STAGES: list[Stage] = [
    Stage("prepare", (), prepare_options, run_prepare),
    Stage("gan", ("prepare",), gan_options, run_gan, resumable=True),
    Stage("generate", ("prepare", "gan"), generate_options, run_generate),
    Stage("metrics", ("prepare", "generate"), metrics_options, run_metrics, skip=_disabled("metrics")),
    Stage("filter", ("prepare", "generate"), filter_options, run_filter, skip=_disabled("filter")),
    Stage("classify", ("prepare", "generate", "filter"), classify_options, run_classify, resumable=True),
    Stage("stats", ("classify",), stats_options, run_stats),
    Stage("report", ("prepare", "gan", "generate", "metrics", "filter", "classify", "stats"), report_options,
          run_report),
]
