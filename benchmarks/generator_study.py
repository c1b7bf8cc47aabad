"""Which generator family makes the most useful images at the same compute? A matched-budget study (a benchmark).

Datasets: BreastMNIST at 64 px, the RBC cells (``../shared/data/rbc/labels.csv``, 6 classes, 32 px: the size the
RBC study chose on validation, ``benchmarks/results/imbalance/resolution.json``) and PH2 as a three-class task
(``../shared/data/ph2``, atypical nevus / common nevus / melanoma, 64 px RGB). Generators (``GENERATORS``):
conditional DCGAN-ADA (the quality profile's), StyleGAN2-ADA, BAGAN-GP (RBC only: the imbalanced set it was made
for) and the diffusion family ``ddpm`` when ``synthmed.gan.archs.names()`` has it.

Matched budget: every generator trains for the same single-thread CPU time (``--budget-minutes``, default 30),
measured with ``time.process_time`` (the pipeline records it per stage as ``cpu_seconds``). The machine is shared,
so wall time would reward whoever ran while it was idle; one thread's CPU time does not. Each arm first trains two
short calibration runs (its generator's ``calibration_kimg`` and a third of it, same data and options), takes the
CPU seconds per kimg between them (the fixed setup cancels) and sets the arm's kimg to budget / (seconds per
kimg); the arm's table row shows the training CPU time it really took. The calibration is written to
``RESULTS/<dataset>-<generator>-calibration.json``: a later run (or a fresh clone) reuses it, so the arm's config,
and its result, do not depend on the machine's load.

Each arm is one ``synthmed run --profile quality`` pipeline (through its Python API) into
``WORK/<dataset>/<generator>/arm``: prepare, train the generator, generate, metrics (against the generator's own
training images), and a classifier grid of real-only and synthetic-only runs (``--seeds``, the small CNN; the
filter is off: this measures the generator, not the filter). Per arm, in ``RESULTS/<dataset>-<generator>.json``:

- domain FID and KID, precision / recall / density / coverage, memorized fraction (``synthmed metrics``);
- per-class fidelity: the classification accuracy score (Ravuri & Vinyals 2019): classifiers trained on the
  generator's images alone (as many as the real training images, the real class mix), tested on the real test
  split; macro and per-class one-vs-rest AUC over seeds beside the real-only classifiers', and the pipeline's test
  of synthetic-only against real-only;
- training CPU seconds, sampling CPU seconds per 1,000 images (the generate stage: sampling and writing PNGs,
  single-threaded), the generator's last sample grid as ``RESULTS/<dataset>-<generator>-grid.png``.

The strongest real baseline (``--part baselines``), per dataset in ``RESULTS/baselines-<dataset>.json``: at real
fractions 1, 0.25 and 0.1 (the pipeline's stratified subsets, seed 0), every combination of {small CNN,
ResNet-18 (timm, from scratch)} x {no augmentation, traditional, trivialaugment (TrivialAugmentWide)}, real
images only, ``--seeds``, the quality profile's classifier budget for both architectures; the combination with
the best mean validation AUC is the baseline (ties: the simpler, in the order listed), its test AUC beside plain
real-only (small CNN, no augmentation).

Utility of the chosen generator (``--part utility``, after the other two), per dataset in
``RESULTS/utility-<dataset>.json``: the generator whose synthetic-only classifiers reach the best validation AUC;
per real fraction a generator of its recipe trained on that fraction's subset only (the arm's kimg times f ** 0.5,
the quality profile's rule; the whole split's is the arm's own, reused from its folder), and classifiers with the
strongest baseline's architecture and augmentation and the profile's mixing recipe (synthetic images weigh half in
the loss) on real + synthetic images and on synthetic images only, ``--seeds``, with the profile's filter off and
on; validation picks the filter setting and the ratio (``UTILITY_RATIOS``) by the real + synthetic classifiers.
The chosen real + synthetic cell and its setting's synthetic-only cell are tested against the strongest
baseline's runs and plain real-only's (the baselines part's, same seeds and test split) with the pipeline's tests,
Holm over all of the dataset's pairs.

``generator_study.json`` + ``generator_study.md`` collect every finished arm (rewritten after each). Resumable at
any point: a finished arm's JSON is not run again (its stage keys are checked against the current config); a
killed arm resumes in its pipeline folder (the generator from its last checkpoint, the grid from its last run); a
killed calibration starts again (its CPU time must be one run's). ``--commit`` commits ``RESULTS`` after each arm.

    python benchmarks/generator_study.py --dry-run       # the arms in order, their kimg and what is done
    python benchmarks/generator_study.py                 # hours; resumable. Several processes may share RESULTS
    python benchmarks/generator_study.py --datasets rbc --generators dcgan-ada,stylegan2-ada
    python benchmarks/generator_study.py --part baselines --datasets breastmnist   # the real baselines only
    python benchmarks/generator_study.py --part utility --datasets breastmnist     # the chosen generator's utility
    python benchmarks/generator_study.py --tables        # rewrite the tables from the finished arms
    python benchmarks/generator_study.py --tiny          # minutes: tiny budget, tiny networks (plumbing)
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = REPO.parent / "shared" / "data"


@dataclass(frozen=True)
class Dataset:
    name: str
    data: dict[str, Any]
    overrides: dict[str, Any] = field(default_factory=dict)
    note: str = ""


DATASETS = {
    "rbc": Dataset(
        "rbc", {"csv": str(SHARED / "rbc" / "labels.csv")},
        {"gan": {"resolution": 32}, "classify": {"resolution": 32, "images_per_run": None}},
        "2,538 crops of 48 px, 6 classes (1,812 train images, split by smear). Generators and classifiers at 32 px: "
        "real-only validation macro AUC 0.955 at 32 px vs 0.945 at 48 (benchmarks/results/imbalance/"
        "resolution.json), and StyleGAN2 needs a power of two (48 px would train at 64). images_per_run lifted, "
        "as in the utility study."),
    "breastmnist": Dataset(
        "breastmnist", {"medmnist": "breastmnist", "size": 64},
        note="546 train images at 64 px, 2 classes; generators and classifiers at 64 px (the quality profile)."),
    "ph2": Dataset(
        "ph2", {"folder": str(SHARED / "ph2"), "resolution": 64, "channels": 3},
        note="200 dermoscopy images (atypical nevus, common nevus, melanoma), RGB, padded to square and resized to "
             "64 px; no split in the source: the pipeline's stratified 70/15/15 split (seed 0), 140 / 30 / 30 images."),
}


@dataclass(frozen=True)
class Generator:
    arch: str
    aug: str
    options: dict[str, Any]
    calibration_kimg: float  # the longer calibration run (the other: a third of it)
    datasets: tuple[str, ...] | None = None  # None: every dataset
    note: str = ""


GENERATORS = {
    "dcgan-ada": Generator("dcgan", "ada", {"width": 32}, 6.0,
                           note="the quality profile's generator (width 32, ADA)"),
    "stylegan2-ada": Generator("stylegan2", "ada", {"width": 16}, 2.0,
                               note="the recipe search's StyleGAN2-ADA (width 16, ADA)"),
    "ddpm": Generator("ddpm", "none", {}, 1.0, note="the diffusion family with its own defaults"),
    "bagan-gp": Generator("bagan-gp", "diffaug", {"width": 32, "n_critic": 2, "upsample": "resize"},
                          4.0, ("rbc",), note="the RBC study's BAGAN-GP (its adversarial phase as WGAN-GP's)"),
}
# Arms run dataset by dataset in this generator order: the two GAN families first (the most informative: their
# recipes are the measured ones), then the diffusion family, then BAGAN-GP.
ORDER = ("dcgan-ada", "stylegan2-ada", "ddpm", "bagan-gp")
TINY = {"budget_minutes": 0.5, "calibration_kimg": 0.3,
        "gan": {"batch": 8, "options": {"width": 8, "z_dim": 16, "max_width": 16}},
        "metrics": {"max_images": 60, "options": {"msssim_pairs": 10, "kid_subsets": 10}},
        "classify": {"epochs": 1, "images_per_run": 256}}


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def registered() -> tuple[str, ...]:
    from synthmed.gan.archs import names

    return names()


def default_generators() -> list[str]:
    return [g for g in ORDER if GENERATORS[g].arch in registered()]


# -- configs ----------------------------------------------------------------------------------------------------------
def config_for(ds: Dataset, gen: str, kimg: float, args: argparse.Namespace, extra: dict[str, Any] | None = None):
    """The arm's config: the quality profile, the dataset's values, the generator and a real/synthetic-only grid
    (``extra``: other values, the utility part's)."""
    from synthmed.pipeline.config import build_config, deep_merge

    g = GENERATORS[gen]
    values: dict[str, Any] = {
        "name": f"generator-{ds.name}-{gen}", "seed": 0, "data": dict(ds.data),
        "gan": {"arch": g.arch, "aug": g.aug, "kimg": kimg, "options": dict(g.options)},
        "metrics": {"skip": ["frd", "inception"]},  # no pretrained Inception here; FRD is not part of the table
        "filter": {"enabled": False},  # the generator's own images: the filter would confound the families
        "classify": {"real_fractions": [1.0], "ratios": [0], "synthetic_only": True, "augment": ["none"],
                     "seeds": list(args.seeds), "workers": 1, "threads": 1,
                     # plain training: the profile's synthetic_weight would only scale a synthetic-only run's loss
                     "options": {}},
    }
    values = deep_merge(deep_merge(values, ds.overrides), extra or {})
    if args.tiny:
        tiny = {k: v for k, v in TINY.items() if k in ("gan", "metrics", "classify")}
        tiny["gan"] = {**tiny["gan"], "options": {**values["gan"]["options"], **TINY["gan"]["options"]}}
        values = deep_merge(values, tiny)
    return build_config(values, "quality", source=f"generator study, {ds.name} / {gen}")


def selected(cfg, names: tuple[str, ...]):
    """The config's stages of ``names``, keyed by their options, not synthmed's source (``config_keyed``): the study
    spans sessions, and an edit of synthmed between two must not restart a generator or discard a finished arm.
    Each arm records the commit it ran at (``code_state``)."""
    from synthmed.pipeline.runner import config_keyed
    from synthmed.pipeline.stages import stages_for

    return config_keyed([s for s in stages_for(cfg) if s.name in names])


def code_state() -> dict[str, Any]:
    """The commit the study's code is at, and whether the checkout had edits to synthmed or this script."""
    def git(*cmd: str) -> str:
        done = subprocess.run(["git", "-C", str(REPO), *cmd], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD") or None,
            "edited": bool(git("status", "--porcelain", "--", "src", "benchmarks/generator_study.py"))}


ARM_STAGES = ("prepare", "gan", "generate", "metrics", "filter", "classify")  # the filter: off, skipped


# -- the budget -------------------------------------------------------------------------------------------------------
def calibration_kimg(gen: str, args: argparse.Namespace) -> float:
    return TINY["calibration_kimg"] if args.tiny else GENERATORS[gen].calibration_kimg


CALIBRATION_METHOD = ("two-point: the CPU seconds of a run of the calibration kimg minus those of a run of a third "
                      "of it, over the kimg between (setup, the resized training images and the end's snapshot "
                      "cancel), after a warm-up run of a third in the same process")


def calibration_run(ds: Dataset, gen: str, kimg: float, args: argparse.Namespace, name: str) -> dict[str, Any]:
    """One short training run's pipeline record (its own folder, so each pays the same setup; a run cut off before
    is started again, since its CPU time must be one run's)."""
    from synthmed.pipeline.main import run_pipeline
    from synthmed.pipeline.outputs import run_outputs

    cfg = config_for(ds, gen, kimg, args)
    folder = Path(args.work) / ds.name / gen / f"calibrate-{name}"
    stages = selected(cfg, ("prepare", "gan"))
    outputs = run_outputs(cfg, folder, stages)
    if outputs.planned["gan"].status == "resume" or outputs.summary("gan").get("resumed"):
        say(f"{ds.name}/{gen}: a calibration run was cut off; starting it again")
        shutil.rmtree(folder)
    say(f"{ds.name}/{gen}: calibration run of {kimg:g} kimg")
    run_pipeline(cfg, folder, echo=say, stages=stages)
    return run_outputs(cfg, folder, stages).records["gan"]


def calibrate(ds: Dataset, gen: str, args: argparse.Namespace) -> dict[str, Any]:
    """The arm's kimg for the budget from two short runs' CPU seconds (read back when done before).

    One run's CPU seconds per kimg would count the fixed setup as training: on the RBC cells at 32 px that made
    DCGAN's 6 kimg look 25 % dearer than its long run turned out to be. The difference of two runs leaves it out.
    """
    from synthmed.errors import SynthmedError
    from synthmed.utils.atomic import write_json

    path = Path(args.results) / f"{ds.name}-{gen}-calibration.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    long_kimg = calibration_kimg(gen, args)
    short_kimg = round(long_kimg / 3, 3)
    # The first training of a process also pays one-time costs (kernels, allocator): a warm-up run takes them.
    calibration_run(ds, gen, short_kimg, args, "warmup")
    short, long = (calibration_run(ds, gen, k, args, name) for k, name in ((short_kimg, "short"), (long_kimg, "long")))
    budget_s = args.budget_minutes * 60
    per_kimg = (long.cpu_seconds - short.cpu_seconds) / (long_kimg - short_kimg)
    if per_kimg <= 0:
        raise SynthmedError(f"{ds.name}/{gen}: the calibration runs took {short.cpu_seconds} and "
                            f"{long.cpu_seconds} CPU s for {short_kimg:g} and {long_kimg:g} kimg; run it again")
    chosen = max(long_kimg, round(budget_s / per_kimg, 1))
    result = {"dataset": ds.name, "generator": gen, "method": CALIBRATION_METHOD,
              "calibration_kimg": [short_kimg, long_kimg],
              "calibration_cpu_seconds": [short.cpu_seconds, long.cpu_seconds],
              "calibration_wall_seconds": [short.seconds, long.seconds],
              "cpu_seconds_per_kimg": round(per_kimg, 3), "budget_cpu_seconds": budget_s, "kimg": chosen,
              "threads": 1, "clock": "time.process_time of the training process (one torch thread)",
              "measured_at": time.strftime("%Y-%m-%d %H:%M:%S")}
    write_json(path, result)
    say(f"{ds.name}/{gen}: {per_kimg:.2f} CPU s per kimg -> {chosen:g} kimg for {args.budget_minutes:g} CPU min")
    return result


# -- one arm ----------------------------------------------------------------------------------------------------------
def run_arm(ds: Dataset, gen: str, args: argparse.Namespace) -> dict[str, Any]:
    """Calibrate, run the arm's pipeline (resumes), and analyse it; a finished arm is read back."""
    from synthmed.errors import SynthmedError
    from synthmed.pipeline.main import run_pipeline
    from synthmed.pipeline.outputs import run_outputs, saved_unit
    from synthmed.utils.atomic import write_json

    unit_path = Path(args.results) / f"{ds.name}-{gen}.json"
    calibration = calibrate(ds, gen, args)
    cfg = config_for(ds, gen, calibration["kimg"], args)
    out = Path(args.work) / ds.name / gen / "arm"
    stages = selected(cfg, ARM_STAGES)
    keys = run_outputs(cfg, out, stages).keys
    if unit := saved_unit(unit_path, keys, "this arm"):
        say(f"{ds.name}/{gen}: done before ({unit_path.name})")
        return unit
    say(f"{ds.name}/{gen}: {calibration['kimg']:g} kimg into {out}")
    run_pipeline(cfg, out, echo=say, stages=stages)
    outputs = run_outputs(cfg, out, stages)
    if not outputs.complete:
        raise SynthmedError(f"{out}: the arm finished with stages still open")
    unit = {"dataset": ds.name, "generator": gen, "generator_recipe": asdict(GENERATORS[gen]),
            "note": ds.note, "calibration": calibration, "stage_keys": outputs.keys, "code": code_state(),
            "config": cfg.model_dump(mode="json"), **analyse(cfg, outputs),
            "grid": save_grid(ds.name, gen, outputs, Path(args.results))}
    write_json(unit_path, unit)
    say(f"{ds.name}/{gen}: results in {unit_path}")
    return unit


def analyse(cfg, outputs) -> dict[str, Any]:
    """The arm's numbers: training and sampling cost, the metrics, and the classification accuracy score."""
    from synthmed.metrics.result import MetricsResult

    gan, gen = outputs.records["gan"], outputs.records["generate"]
    metrics = MetricsResult.load(outputs.require("metrics")).as_dict()
    n_made = sum(sum(split.values()) for split in (gen.summary.get("counts") or {}).values())
    keys = ("fid_domain", "kid_domain", "precision", "recall", "density", "coverage", "memorized_fraction")
    return {
        "training": {"kimg": gan.summary["kimg"], "cpu_seconds": gan.cpu_seconds, "wall_seconds": gan.seconds,
                     "resumed": bool(gan.summary.get("resumed")), "resolution": gan.summary.get("resolution")},
        "sampling": {"images": n_made, "cpu_seconds": gen.cpu_seconds, "wall_seconds": gen.seconds,
                     "cpu_seconds_per_1000": round(1000 * gen.cpu_seconds / n_made, 2) if n_made else None},
        "metrics": {"overall": {k: metrics["overall"].get(k) for k in keys},
                    "per_class": {c: {k: v.get(k) for k in keys} for c, v in metrics.get("per_class", {}).items()},
                    "reference": metrics.get("reference"), "n_real": metrics["info"].get("n_real"),
                    "n_fake": metrics["info"].get("n_fake"), "notes": metrics.get("notes")},
        "fidelity": fidelity(cfg, outputs.experiment, classes_of(outputs),
                             outputs.summary("classify").get("notes", [])),
    }


def classes_of(outputs) -> list[str]:
    from synthmed.dataset import PreparedDataset

    return PreparedDataset.open(outputs.real_dataset).classes


def fidelity(cfg, experiment: Path, classes: list[str], notes: list[str]) -> dict[str, Any]:
    """Synthetic-only and real-only classifiers on the real test split: macro and per-class AUC over seeds, and the
    pipeline's comparison of the two (DeLong for two classes, the paired permutation test of the macro AUC with
    per-class DeLong for more)."""
    from synthmed.classify.results import Cell, load_results
    from synthmed.stats.compare import compare_pairs
    from synthmed.stats.seeds import mean_sd

    _, rows, _ = load_results(experiment)
    arch = cfg.classify.arch
    cells = {"real-only": Cell("real", 0.0, 1.0, "none", arch), "synthetic-only": Cell("synthetic", 100.0, 1.0,
                                                                                         "none", arch)}
    out: dict[str, Any] = {"notes": notes, "classes": classes}
    for name, cell in cells.items():
        runs = sorted((r for r in rows if r.cell == cell), key=lambda r: r.seed)
        if not runs:
            continue
        per_class = {c: mean_sd([class_auc(r.metrics, c) for r in runs]) for c in classes}
        out[name] = {"seeds": [r.seed for r in runs], "auc": mean_sd([r.metrics["auc"] for r in runs]),
                     "val_auc": mean_sd([r.val_auc for r in runs]) if None not in [r.val_auc for r in runs]
                     else None, "per_class_auc": per_class}
    if "synthetic-only" in out and "real-only" in out:
        c = compare_pairs(experiment, [(cells["synthetic-only"], cells["real-only"])],
                          seed=cfg.seed)["comparisons"][0]
        out["vs_real"] = {**tested(c), "classes_worse": c.get("classes_worse"),
                          "classes_better": c.get("classes_better")}
        out["per_class_delta"] = {k: out["synthetic-only"]["per_class_auc"][k]["mean"]
                                  - out["real-only"]["per_class_auc"][k]["mean"]
                                  for k in out["real-only"]["per_class_auc"]}
    return out


def tested(c: dict[str, Any]) -> dict[str, Any]:
    """One pipeline comparison's numbers: the seed ensembles' AUC difference by its primary test (DeLong; more than
    two classes: the paired permutation of the macro AUC, Holm over it and the per-class p-values)."""
    ens = c["ensemble"]
    primary = ens["delong"] if "delong" in ens else ens["permutation"]
    return {"delta_auc": primary["diff"], "test": c["primary_test"], "p": c["p_primary"], "p_holm": c["p_holm"],
            "verdict": c["verdict"], "sentence": c["sentence"]}


def class_auc(metrics: dict[str, Any], name: str) -> float:
    """A class's one-vs-rest AUC: the per-class entry with more than two classes; with two, the AUC itself (the
    one-vs-rest AUC of either class is the binary AUC)."""
    per_class = metrics.get("per_class")
    return float(per_class[name]["auc"]) if per_class else float(metrics["auc"])


def save_grid(dataset: str, gen: str, outputs, results: Path) -> str | None:
    from synthmed.gan.run import GanRun
    from synthmed.utils.atomic import write_bytes

    run = outputs.gan_run(1.0)
    grid = GanRun(run).latest_grid() if run is not None else None
    if grid is None:
        return None
    target = results / f"{dataset}-{gen}-grid.png"
    write_bytes(target, grid.read_bytes())
    return target.name


# -- the strongest real baseline -------------------------------------------------------------------------------------
BASELINE_ARCHS = ("cnn", "resnet18")
BASELINE_AUGMENTS = ("none", "traditional", "trivialaugment")
BASELINE_FRACTIONS = (1.0, 0.25, 0.1)
PLAIN = ("cnn", "none")  # plain real-only: the profile's classifier, no augmentation


def real_at_classifier_size(ds: Dataset, cfg, args: argparse.Namespace):
    """The prepared real dataset (its own pipeline folder) at the classifiers' resolution, as the grid sees it."""
    from synthmed.dataset import PreparedDataset
    from synthmed.pipeline.config import classify_resolution
    from synthmed.pipeline.main import run_pipeline
    from synthmed.pipeline.outputs import run_outputs
    from synthmed.prepare.resize import resized_view

    out = Path(args.work) / ds.name / "real"
    run_pipeline(cfg, out, echo=say, stages=selected(cfg, ("prepare",)))
    real = PreparedDataset.open(run_outputs(cfg, out, selected(cfg, ("prepare",))).real_dataset)
    return resized_view(real, Path(args.work) / "views", classify_resolution(cfg, real.resolution),
                        cfg.data.resize_filter)


def baseline_grid(real, folder: Path, arch: str, cfg, args: argparse.Namespace) -> list:
    """One architecture's real-only grid (fractions x augmentations x seeds), the pipeline grid's budget; resumes."""
    from synthmed.classify.experiment import run_experiment
    from synthmed.classify.results import load_results

    c = cfg.classify
    run_experiment(str(real.root), None, folder, ratios=[0], real_fractions=list(args.fractions), sources=("real",),
                   augments=list(BASELINE_AUGMENTS), seeds=c.seeds, arch=arch, epochs=c.epochs, batch_size=c.batch,
                   lr=c.lr, budget=c.budget, subset_seed=cfg.seed, images_per_run=c.images_per_run, device="cpu",
                   workers=1, threads=1, progress=False, echo=say)
    return load_results(folder)[1]


def baseline_table(rows: list, fractions: list[float], seeds: list[int], classes: list[str]) -> dict[str, Any]:
    """Per real fraction: every (architecture, augmentation) over ``seeds``, the one with the best mean validation
    AUC (ties: the earlier in BASELINE_ARCHS x BASELINE_AUGMENTS) and its test AUC minus plain real-only's."""
    from synthmed.errors import SynthmedError
    from synthmed.stats.seeds import mean_sd

    out = {}
    for f in fractions:
        table = {}
        for arch in BASELINE_ARCHS:
            for aug in BASELINE_AUGMENTS:
                runs = sorted((r for r in rows if r.cell.arch == arch and r.cell.augment == aug
                               and r.cell.real_fraction == f and r.seed in seeds), key=lambda r: r.seed)
                if [r.seed for r in runs] != sorted(seeds) or None in [r.val_auc for r in runs]:
                    raise SynthmedError(f"real fraction {f:g}, {arch} / {aug}: runs of seeds "
                                        f"{[r.seed for r in runs]} with validation AUC, expected {sorted(seeds)}")
                table[f"{arch}/{aug}"] = {
                    "arch": arch, "augment": aug, "seeds": [r.seed for r in runs],
                    "val_auc": mean_sd([r.val_auc for r in runs]),
                    "test_auc": mean_sd([r.metrics["auc"] for r in runs]),
                    "test_auc_by_seed": [r.metrics["auc"] for r in runs],
                    "per_class_test_auc": {c: mean_sd([class_auc(r.metrics, c) for r in runs]) for c in classes}}
        order = list(table)  # ties: the earlier (simpler) combination
        chosen = max(order, key=lambda k: (table[k]["val_auc"]["mean"], -order.index(k)))
        plain = table["/".join(PLAIN)]
        paired = [a - b for a, b in zip(table[chosen]["test_auc_by_seed"], plain["test_auc_by_seed"], strict=True)]
        out[f"{f:g}"] = {"table": table, "chosen": chosen, "rule": "best mean validation AUC over seeds",
                         "chosen_minus_plain_test_auc": mean_sd(paired)}
    return out


def run_baselines(ds: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    """Per real fraction, every (architecture, augmentation) and the one validation picks."""
    from synthmed.utils.atomic import write_json

    path = Path(args.results) / f"baselines-{ds.name}.json"
    if path.is_file():
        say(f"{ds.name}: real baselines done before ({path.name})")
        return json.loads(path.read_text(encoding="utf-8"))
    cfg = config_for(ds, "dcgan-ada", 1.0, args)  # the classifier options; no generator trains here
    real = real_at_classifier_size(ds, cfg, args)
    rows = [r for arch in BASELINE_ARCHS
            for r in baseline_grid(real, Path(args.work) / ds.name / "baselines" / arch, arch, cfg, args)]
    fractions = baseline_table(rows, args.fractions, cfg.classify.seeds, real.classes)
    unit = {"dataset": ds.name, "classes": real.classes, "resolution": real.resolution, "seeds": cfg.classify.seeds,
            "budget": {"epochs": cfg.classify.epochs, "batch": cfg.classify.batch, "lr": cfg.classify.lr,
                       "images_per_run": cfg.classify.images_per_run, "budget": cfg.classify.budget},
            "fractions": fractions}
    write_json(path, unit)
    say(f"{ds.name}: real baselines in {path}")
    return unit


def baselines_markdown(units: dict[str, Any]) -> list[str]:
    lines = ["## The strongest real baseline", "",
             "Real images only; per dataset and real fraction the combination with the best mean validation AUC "
             "(**bold**) is the baseline every synthetic condition is compared with, beside plain real-only (small "
             "CNN, no augmentation). Test AUC mean ± sd over seeds; Δ: chosen minus plain, paired by seed.", "",
             "| dataset | real fraction | " + " | ".join(f"{a} / {g}" for a in BASELINE_ARCHS
                                                       for g in BASELINE_AUGMENTS) + " | chosen | Δ test vs plain |",
             "|---|---|" + "---|" * (len(BASELINE_ARCHS) * len(BASELINE_AUGMENTS) + 2)]
    for name, unit in units.items():
        for f, block in unit["fractions"].items():
            cells = []
            for key, row in block["table"].items():
                text = f"val {_f(row['val_auc']['mean'])}, test {_ms(row['test_auc'])}"
                cells.append(f"**{text}**" if key == block["chosen"] else text)
            lines.append(f"| {name} | {f} | " + " | ".join(cells) + f" | {block['chosen']} | "
                         f"{_ms(block['chosen_minus_plain_test_auc'])} |")
    return [*lines, ""]


# -- utility of the chosen generator ---------------------------------------------------------------------------------
UTILITY_RATIOS = (50, 100)  # synthetic images as % of the real ones; validation picks one per real fraction


def winner(ds: Dataset, args: argparse.Namespace) -> tuple[str, dict[str, float]]:
    """The dataset's generator whose synthetic-only classifiers reach the best mean validation AUC (the
    classification accuracy score on the validation split; ties: the earlier in ORDER). Every arm must be done."""
    from synthmed.errors import SynthmedError

    candidates: dict[str, float] = {}
    for gen in ORDER:
        if gen not in args.generators or ds.name not in (GENERATORS[gen].datasets or (ds.name,)):
            continue
        path = Path(args.results) / f"{ds.name}-{gen}.json"
        if not path.is_file():
            raise SynthmedError(f"{ds.name}: the utility part chooses among every generator's arm, and {gen}'s has "
                                "not run (--part generators)")
        val = (json.loads(path.read_text(encoding="utf-8"))["fidelity"].get("synthetic-only") or {}).get("val_auc")
        if val:
            candidates[gen] = val["mean"]
    if not candidates:
        raise SynthmedError(f"{ds.name}: no arm has synthetic-only classifiers with a validation AUC")
    order = list(candidates)
    return max(order, key=lambda g: (candidates[g], -order.index(g))), candidates


UTILITY_FILTERS = {"unfiltered": False, "filtered": True}  # the quality profile's filter off / on


def utility_runs(ds: Dataset, gen: str, kimg: float, baselines: dict[str, Any], args: argparse.Namespace) -> dict:
    """Per real fraction and filter setting: the winner's config (its generator trained on that fraction's subset
    for kimg * f ** 0.5, the quality profile's rule; the strongest baseline's architecture and augmentation, the
    profile's mixing recipe, real + synthetic at UTILITY_RATIOS and synthetic-only; the profile's filter off or on)
    and stages. The settings share the generator; each has its own classifier grid."""
    from synthmed.errors import SynthmedError
    from synthmed.pipeline.config import build_config
    from synthmed.pipeline.runner import config_keyed
    from synthmed.pipeline.stages import stages_for

    # The quality profile's mixing recipe (its synthetic_weight, chosen on validation by the recipe search); the
    # arms' synthetic-only classifiers train plainly, as the classification accuracy score asks.
    recipe = build_config({}, "quality").classify.options.model_dump(exclude_defaults=True)
    runs = {}
    for f in args.fractions:
        block = baselines["fractions"].get(f"{f:g}")
        if block is None:
            raise SynthmedError(f"baselines-{ds.name}.json: no real fraction {f:g}; run --part baselines with "
                                "these --fractions")
        best = block["table"][block["chosen"]]
        for name, on in UTILITY_FILTERS.items():
            cfg = config_for(ds, gen, kimg, args, {"filter": {"enabled": on}, "classify": {
                "real_fractions": [f], "ratios": list(UTILITY_RATIOS), "synthetic_only": True,
                "augment": [best["augment"]], "arch": best["arch"], "options": recipe}})
            stages = config_keyed([s for s in stages_for(cfg) if s.name not in ("stats", "report")])
            runs[(f, name)] = (cfg, stages, block)
    return runs


def run_utility(ds: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    """The winner at each real fraction against the strongest real baseline and plain real-only (one Holm
    family per dataset); read back when done before."""
    from synthmed.errors import SynthmedError
    from synthmed.pipeline.main import run_pipeline
    from synthmed.pipeline.outputs import run_outputs, saved_unit
    from synthmed.utils.atomic import write_json

    base_path = Path(args.results) / f"baselines-{ds.name}.json"
    if not base_path.is_file():
        raise SynthmedError(f"{ds.name}: the utility part compares with the strongest real baseline, which has not "
                            "run (--part baselines)")
    baselines = json.loads(base_path.read_text(encoding="utf-8"))
    gen, candidates = winner(ds, args)
    calibration = calibrate(ds, gen, args)
    out = Path(args.work) / ds.name / gen / "arm"  # the arm's folder: its full-data generator is reused
    runs = utility_runs(ds, gen, calibration["kimg"], baselines, args)
    keys = {f"{f:g}/{setting}/{name}": key for (f, setting), (cfg, stages, _) in runs.items()
            for name, key in run_outputs(cfg, out, stages).keys.items()}
    path = Path(args.results) / f"utility-{ds.name}.json"
    if unit := saved_unit(path, keys, "this dataset's utility part"):
        say(f"{ds.name}: utility done before ({path.name})")
        return unit
    for (f, setting), (cfg, stages, block) in runs.items():
        say(f"{ds.name}: utility of {gen} at real fraction {f:g}, {setting}, with {block['chosen']} (the strongest "
            "baseline)")
        run_pipeline(cfg, out, echo=say, stages=stages)
    unit = {"dataset": ds.name, "generator": gen, "kimg": calibration["kimg"],
            "rule": "the generator with the best mean validation AUC of its synthetic-only classifiers; per real "
                    "fraction the filter setting and synthetic ratio whose real + synthetic classifiers reach the "
                    "best mean validation AUC (synthetic-only with that filter setting)",
            "candidates_val_auc": candidates, "ratios": list(UTILITY_RATIOS), "stage_keys": keys,
            "code": code_state(), **utility_analysis(ds, runs, out, args)}
    write_json(path, unit)
    say(f"{ds.name}: utility in {path}")
    return unit


def utility_analysis(ds: Dataset, runs: dict, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Per fraction: each setting's cells, the (filter setting, ratio) validation picks, and the pipeline's tests of
    that real + synthetic cell and its setting's synthetic-only cell against the strongest baseline and plain
    real-only, Holm over the dataset's pairs."""
    from synthmed.classify.results import Cell, load_results
    from synthmed.metrics.result import MetricsResult
    from synthmed.pipeline.outputs import run_outputs
    from synthmed.pipeline.stages import scope_of_fraction
    from synthmed.stats.compare import compare_pairs

    # The chosen grids first: their real-only runs (the strongest baseline's architecture and augmentation) repeat
    # the baselines part's exactly (same seeds, subset and budget); plain real-only comes from the baselines part.
    folders, pairs, fractions = [], [], {}
    for f in dict.fromkeys(f for f, _ in runs):
        settings = {}
        for name in UTILITY_FILTERS:
            cfg, stages, _ = runs[(f, name)]
            outputs = run_outputs(cfg, out, stages)
            rows = load_results(outputs.experiment)[1]
            cells = {r.cell for r in rows}
            mixed = {int(c.ratio): c for c in cells if c.source == "mixed"}
            settings[name] = {"outputs": outputs, "rows": rows, "mixed": mixed,
                              "synthetic": next(c for c in cells if c.source == "synthetic"),
                              "ratios": {str(r): cell_aucs(rows, c) for r, c in sorted(mixed.items())}}
        # ties: the unfiltered setting, then fewer synthetic images
        options = [(name, r) for name in UTILITY_FILTERS for r in sorted(settings[name]["mixed"])]
        setting, ratio = max(options, key=lambda o: (settings[o[0]]["ratios"][str(o[1])]["val_auc"]["mean"],
                                                     -options.index(o)))
        chosen, (cfg, _, block) = settings[setting], runs[(f, setting)]
        folders.append(chosen["outputs"].experiment)
        best = block["table"][block["chosen"]]
        strongest = Cell("real", 0.0, f, best["augment"], best["arch"])
        plain = Cell("real", 0.0, f, PLAIN[1], PLAIN[0])
        # Against plain real-only too, unless validation chose it as the strongest (then one test answers both).
        bases = {"strongest": strongest, **({"plain": plain} if plain != strongest else {})}
        conditions = (("real + synthetic", chosen["mixed"][ratio]), ("synthetic-only", chosen["synthetic"]))
        todo = [(what, cell, name, base) for name, base in bases.items() for what, cell in conditions]
        metrics = MetricsResult.load(chosen["outputs"].require(scope_of_fraction(cfg, f).stage("metrics"))).as_dict()
        fractions[f"{f:g}"] = {
            "baseline": block["chosen"], "baseline_test_auc": best["test_auc"],
            "plain_test_auc": block["table"]["/".join(PLAIN)]["test_auc"],
            "settings": {name: {"ratios": v["ratios"], "synthetic_only": cell_aucs(v["rows"], v["synthetic"])}
                         for name, v in settings.items()},
            "chosen_setting": setting, "chosen_ratio": ratio,
            "generator": {k: metrics["overall"].get(k) for k in ("fid_domain", "kid_domain", "precision", "recall",
                                                                  "memorized_fraction")},
            "comparisons": []}
        pairs += [(f, what, against, cell, base) for what, cell, against, base in todo]
    folders += [Path(args.work) / ds.name / "baselines" / arch for arch in BASELINE_ARCHS]
    result = compare_pairs(folders, [(cell, base) for *_, cell, base in pairs], seed=0)
    for (f, what, against, *_), c in zip(pairs, result["comparisons"], strict=True):
        block = fractions[f"{f:g}"]
        block["comparisons"].append({"condition": what, "against": against, "name": c["name"],
                                     "baseline_name": c["baseline_name"], **tested(c)})
        if against == "strongest" and block["baseline"] == "/".join(PLAIN):
            block["comparisons"].append({**block["comparisons"][-1], "against": "plain"})
    return {"fractions": fractions, "holm_family": len(pairs), "notes": result.get("notes", [])}


def cell_aucs(rows: list, cell) -> dict[str, Any]:
    """A grid cell's validation and test AUC, mean and sd over its seeds."""
    from synthmed.stats.seeds import mean_sd

    runs = [r for r in rows if r.cell == cell]
    return {"val_auc": mean_sd([r.val_auc for r in runs]), "test_auc": mean_sd([r.metrics["auc"] for r in runs])}


def utility_markdown(units: dict[str, Any]) -> list[str]:
    lines = ["## Utility of the chosen generator", "",
             "Per dataset the generator validation chose (best synthetic-only validation AUC), a generator of its "
             "recipe trained per real fraction f on that fraction's images only (the arm's kimg times f ** 0.5, the "
             "quality profile's rule); the classifiers take the strongest real baseline's architecture and "
             "augmentation and the quality profile's mixing recipe (synthetic images weigh half in the loss), with "
             "the synthetic ratio (" + ", ".join(f"{r} %" for r in UTILITY_RATIOS) + ") and the quality profile's "
             "filter (off or on) that validation picks. Test AUC mean ± sd over seeds; "
             "Δ: the seed ensembles' AUC difference by the pipeline's test, Holm over all of a dataset's pairs.", "",
             "| dataset | real fraction | generator | strongest baseline | its test AUC | real + synthetic (ratio) "
             "| Δ vs strongest | Δ vs plain real-only | synthetic-only | Δ vs strongest | memorized |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, unit in units.items():
        for f, b in unit["fractions"].items():
            vs = {(c["condition"], c["against"]): c for c in b["comparisons"]}
            chosen = b["settings"][b["chosen_setting"]]
            lines.append("| " + " | ".join([
                name, f, unit["generator"], b["baseline"], _ms(b["baseline_test_auc"]),
                f"{_ms(chosen['ratios'][str(b['chosen_ratio'])]['test_auc'])} ({b['chosen_ratio']} %, "
                f"{b['chosen_setting']})",
                _delta(vs.get(("real + synthetic", "strongest"))), _delta(vs.get(("real + synthetic", "plain"))),
                _ms(chosen["synthetic_only"]["test_auc"]), _delta(vs.get(("synthetic-only", "strongest"))),
                _f(b["generator"]["memorized_fraction"])]) + " |")
    return [*lines, ""]


# -- the tables -------------------------------------------------------------------------------------------------------
def _f(x: Any, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def _p(x: Any) -> str:
    return "–" if x is None else ("< 0.001" if x < 0.001 else f"{x:.3f}")


def _delta(vs: dict[str, Any] | None) -> str:
    """Δ, its Holm p and the verdict (arms analysed before the Holm p was kept: the unadjusted p, said so)."""
    if not vs:
        return "–"
    p = f"Holm p {_p(vs['p_holm'])}" if "p_holm" in vs else f"p {_p(vs['p'])} unadjusted"
    return f"{vs['delta_auc']:+.3f} ({p}, {vs['verdict']})"


def _ms(block: dict[str, Any] | None) -> str:
    return "–" if not block else f"{_f(block['mean'])} ± {_f(block['sd'])}"


def markdown(study: dict[str, Any]) -> str:
    lines = [f"# Generator study ({study['setting']})", "",
             f"Budget: {study['budget_minutes']:g} minutes of single-thread CPU time per generator "
             "(time.process_time, one torch thread; kimg calibrated per arm from a short run). Metrics against the "
             "generator's own training images; AUC on the real test split, mean ± sd over seeds "
             f"{study['seeds']}. Synthetic-only: the classification accuracy score (Ravuri & Vinyals 2019), as many "
             "synthetic images as real ones, the real class mix, no filter. Δ: the seed ensembles' AUC difference, "
             "synthetic-only minus real-only, by the pipeline's test (DeLong; more than two classes: paired "
             "permutation of the macro AUC, Holm over it and the per-class DeLong p-values).", ""]
    for ds, arms in study["datasets"].items():
        if not arms:
            continue
        lines += [f"## {ds}", "", DATASETS[ds].note, "",
                  "| generator | kimg | train CPU min | sampling CPU s / 1000 | domain FID | KID | precision | recall "
                  "| density | coverage | memorized | synthetic-only AUC | real-only AUC | Δ AUC (Holm p, verdict) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for gen, a in arms.items():
            m, fid, tr = a["metrics"]["overall"], a["fidelity"], a["training"]
            vs = fid.get("vs_real")
            lines.append("| " + " | ".join([
                gen, f"{tr['kimg']:g}", f"{tr['cpu_seconds'] / 60:.1f}" + (" (resumed)" if tr["resumed"] else ""),
                _f(a["sampling"]["cpu_seconds_per_1000"], 1), _f(m["fid_domain"], 2), _f(m["kid_domain"], 4),
                _f(m["precision"]), _f(m["recall"]), _f(m["density"]), _f(m["coverage"]),
                _f(m["memorized_fraction"]), _ms(fid.get("synthetic-only", {}).get("auc")),
                _ms(fid.get("real-only", {}).get("auc")),
                _delta(vs)]) + " |")
        first = next(iter(arms.values()))["fidelity"]
        classes = list(first.get("real-only", {}).get("per_class_auc", {}))
        if classes:
            lines += ["", "Per-class fidelity: one-vs-rest test AUC of the synthetic-only classifiers (real-only in "
                      "the first row).", "", "| | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|",
                      "| real-only | " + " | ".join(_ms(first["real-only"]["per_class_auc"][c]) for c in classes)
                      + " |"]
            for gen, a in arms.items():
                syn = a["fidelity"].get("synthetic-only")
                if syn:
                    lines.append(f"| {gen} | " + " | ".join(_ms(syn["per_class_auc"].get(c)) for c in classes) + " |")
        notes = [f"- {gen}: {n}" for gen, a in arms.items() for n in a["fidelity"].get("notes", [])]
        lines += ["", *notes, "", *(f"![{ds}, {gen}]({a['grid']})" for gen, a in arms.items() if a.get("grid")), ""]
    if study.get("baselines"):
        lines += baselines_markdown(study["baselines"])
    if study.get("utility"):
        lines += utility_markdown(study["utility"])
    if study.get("pending"):
        lines += ["## Still to run", "", ", ".join(study["pending"]), ""]
    return "\n".join(lines)


def collect(args: argparse.Namespace) -> dict[str, Any]:
    """Every finished arm in RESULTS (other processes' too), in the study's order."""
    results = Path(args.results)
    datasets: dict[str, dict[str, Any]] = {ds: {} for ds in DATASETS}
    pending = []
    for ds in DATASETS:
        for gen in ORDER:
            path = results / f"{ds}-{gen}.json"
            if path.is_file():
                datasets[ds][gen] = json.loads(path.read_text(encoding="utf-8"))
            elif gen in args.generators and ds in args.datasets and ds in (GENERATORS[gen].datasets or (ds,)):
                pending.append(f"{ds}/{gen}")
    baselines = {ds: json.loads(p.read_text(encoding="utf-8")) for ds in DATASETS
                 if (p := results / f"baselines-{ds}.json").is_file()}
    pending += [f"{ds}/real baselines" for ds in args.datasets
                if ds not in baselines and args.part in ("baselines", "all")]
    utility = {ds: json.loads(p.read_text(encoding="utf-8")) for ds in DATASETS
               if (p := results / f"utility-{ds}.json").is_file()}
    pending += [f"{ds}/utility" for ds in args.datasets if ds not in utility and args.part in ("utility", "all")]
    return {"study": "generator study", "setting": "tiny (plumbing check, not a result)" if args.tiny else "full",
            "budget_minutes": args.budget_minutes, "seeds": args.seeds, "datasets": datasets, "pending": pending,
            "baselines": baselines, "utility": utility}


def write_study(args: argparse.Namespace) -> None:
    from synthmed.utils.atomic import write_json, write_text

    study = collect(args)
    write_json(Path(args.results) / "generator_study.json", study)
    write_text(Path(args.results) / "generator_study.md", markdown(study))


def commit(args: argparse.Namespace, message: str) -> None:
    """Commit RESULTS only (a pathspec commit leaves anything else staged alone); retried while git is busy."""
    results = str(Path(args.results).resolve())
    for attempt in range(10):
        add = subprocess.run(["git", "-C", str(REPO), "add", "--", results], capture_output=True, text=True)
        done = add.returncode == 0 and subprocess.run(
            ["git", "-C", str(REPO), "commit", "-q", "-m", message, "--", results], capture_output=True,
            text=True).returncode in (0, 1)  # 1: nothing to commit
        if done:
            return
        time.sleep(5 + 5 * attempt)
    say(f"could not commit {results} (git busy); the files are written")


# -- plan and main ----------------------------------------------------------------------------------------------------
def arms(args: argparse.Namespace) -> list[tuple[Dataset, str]]:
    return [(DATASETS[ds], gen) for ds in args.datasets for gen in ORDER
            if gen in args.generators and ds in (GENERATORS[gen].datasets or (ds,))]


def dry_run(args: argparse.Namespace) -> None:
    print(f"budget {args.budget_minutes:g} CPU min per generator; work {args.work}; results {args.results}")
    for ds, gen in arms(args):
        cal = Path(args.results) / f"{ds.name}-{gen}-calibration.json"
        done = (Path(args.results) / f"{ds.name}-{gen}.json").is_file()
        kimg = json.loads(cal.read_text(encoding="utf-8"))["kimg"] if cal.is_file() else None
        print(f"{ds.name}/{gen}: {'done' if done else 'to run'}; kimg "
              + (f"{kimg:g} (calibrated)" if kimg else f"to calibrate ({calibration_kimg(gen, args):g} kimg runs)"))
    for name in args.datasets:
        done = (Path(args.results) / f"baselines-{name}.json").is_file()
        print(f"{name}/real baselines: {'done' if done else 'to run'} ({len(BASELINE_ARCHS)} archs x "
              f"{len(BASELINE_AUGMENTS)} augmentations x {len(args.fractions)} fractions x {len(args.seeds)} seeds)")
    for name in args.datasets:
        done = (Path(args.results) / f"utility-{name}.json").is_file()
        print(f"{name}/utility: {'done' if done else 'to run'} (the chosen generator trained per real fraction "
              f"{', '.join(f'{f:g}' for f in args.fractions)}; real + synthetic at {UTILITY_RATIOS} % and "
              "synthetic-only with the strongest baseline's classifier, the filter off and on)")


def run(args: argparse.Namespace) -> None:
    """The parts asked for, in order; each unit of work writes its JSON and the tables, and is committed once."""
    Path(args.results).mkdir(parents=True, exist_ok=True)
    units = [(f"{ds.name}-{gen}.json", partial(run_arm, ds, gen),
              f"{ds.name} / {gen} finished ({args.budget_minutes:g} CPU min budget)")
             for ds, gen in (arms(args) if args.part in ("generators", "all") else [])]
    units += [(f"baselines-{name}.json", partial(run_baselines, DATASETS[name]),
               f"the strongest real baseline on {name}")
              for name in (args.datasets if args.part in ("baselines", "all") else [])]
    units += [(f"utility-{name}.json", partial(run_utility, DATASETS[name]),
               f"utility of the chosen generator on {name}")
              for name in (args.datasets if args.part in ("utility", "all") else [])]
    for file, work, message in units:
        done = (Path(args.results) / file).is_file()
        work(args)
        write_study(args)
        if args.commit and not done:
            commit(args, f"Generator study: {message}")
    write_study(args)
    say(f"wrote {Path(args.results) / 'generator_study.md'}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=",".join(DATASETS), help=f"comma list of {', '.join(DATASETS)}")
    p.add_argument("--generators", default=None, help=f"comma list of {', '.join(GENERATORS)} (default: the "
                                                      "registered ones)")
    p.add_argument("--budget-minutes", type=float, default=None, help="single-thread CPU minutes per generator "
                                                                      "(default 30)")
    p.add_argument("--seeds", default=None, help="classifier seeds (default 0,1,2,3,4; --tiny 0,1)")
    p.add_argument("--work", default=None, help="run folders (default benchmarks/_out/generator)")
    p.add_argument("--results", default=None, help="JSON, Markdown and grids (default benchmarks/results/generator; "
                                                   "--tiny: WORK/results)")
    p.add_argument("--part", choices=("generators", "baselines", "utility", "all"), default="generators",
                   help="generators (the arms), baselines (the strongest real baseline), utility (the chosen "
                        "generator per real fraction; needs the other two) or all (in that order)")
    p.add_argument("--fractions", default=",".join(f"{f:g}" for f in BASELINE_FRACTIONS),
                   help="real fractions of the baselines")
    p.add_argument("--commit", action="store_true", help="git commit RESULTS after each finished arm")
    p.add_argument("--tiny", action="store_true", help="minutes: a tiny budget and networks (plumbing check)")
    p.add_argument("--dry-run", action="store_true", help="print the arms and what is done; run nothing")
    p.add_argument("--tables", action="store_true", help="rewrite generator_study.json/.md from the finished arms "
                                                         "in RESULTS; run nothing")
    args = p.parse_args(argv)
    args.datasets = [d for d in args.datasets.split(",") if d]
    if unknown := [d for d in args.datasets if d not in DATASETS]:
        raise SystemExit(f"error: --datasets: unknown {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    args.generators = [g for g in (args.generators or ",".join(default_generators())).split(",") if g]
    if unknown := [g for g in args.generators if g not in GENERATORS]:
        raise SystemExit(f"error: --generators: unknown {', '.join(unknown)}; choose from {', '.join(GENERATORS)}")
    if missing := [g for g in args.generators if GENERATORS[g].arch not in registered()]:
        raise SystemExit(f"error: --generators: {', '.join(missing)} not registered here (synthmed.gan.archs.names(): "
                         f"{', '.join(registered())})")
    args.fractions = sorted({float(f) for f in args.fractions.split(",") if f}, reverse=True)
    args.budget_minutes = args.budget_minutes or (TINY["budget_minutes"] if args.tiny else 30.0)
    args.seeds = [int(s) for s in (args.seeds or ("0,1" if args.tiny else "0,1,2,3,4")).split(",")]
    args.work = args.work or str(HERE / "_out" / ("generator-tiny" if args.tiny else "generator"))
    args.results = args.results or str(Path(args.work) / "results" if args.tiny else HERE / "results" / "generator")
    return args


def main(argv: list[str] | None = None) -> int:
    import torch

    from synthmed.errors import SynthmedError

    args = parse(argv)
    torch.set_num_threads(1)  # the budget is one thread's CPU time; one thread also keeps the sums' order fixed
    try:
        if args.dry_run:
            dry_run(args)
        elif args.tables:
            write_study(args)
            say(f"wrote {Path(args.results) / 'generator_study.md'}")
        else:
            run(args)
    except SynthmedError as exc:  # bad input or a changed recipe: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
