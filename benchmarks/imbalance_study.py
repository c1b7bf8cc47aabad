"""Seed 001's study on red blood cells: which GAN helps the rare cell types? (a benchmark, not a test)

RBC crops (``../shared/data/rbc/labels.csv``: 6 types, 144 to 902 cells, split by smear so no smear is in two
splits). Steps, each a cached *unit* whose small result JSON is written atomically to ``--results`` (committed,
``benchmarks/results/imbalance/``), so a killed or later run continues where it stopped:

1. ``resolution.json``: a real-only classifier at 32 and 48 px; the one with the better validation macro AUC is
   used for everything after (choose on validation, report on test).
2. ``gan-<arch>.json``: DCGAN, conditional WGAN-GP, StyleGAN2 and BAGAN-GP, each trained for the same training
   time (``--gan-minutes``, the sum of the runs' ``sec_per_tick``, i.e. without grids and checkpoints), in
   chunks resumed exactly from the last checkpoint (a killed run loses at most one chunk of GAN time).
3. ``metrics-<arch>.json`` and ``metrics-reference.json``: per class, domain FID, recall and coverage of
   ``--metric-per-class`` generated images against the real validation images (seed 001's table), and the
   reference row: the real training images against the same validation images.
4. ``clf-<arm>-s<seed>.json``: classifiers over ``--seeds``: real only, real + traditional augmentation, and real +
   synthetic ``top-up`` per arch (each class filled up with generated images to the largest class's count), all
   with the real-only run's optimizer steps per epoch; test metrics and per-image probabilities.
5. ``study.json`` + ``study.md``: macro one-vs-rest AUC and the sensitivity of the two rarest types (teardrop,
   stomatocyte) per arm, seed-ensemble estimates with 95 % CIs, paired tests against real-only, Holm-adjusted
   over every test of the study (the project's ``synthmed.stats`` functions; the macro-AUC bootstrap is below).

Large outputs (prepared data, GAN runs, synthetic sets, classifier models) go to ``--work`` (ignored by git); a
later session without them retrains only what a missing result JSON needs. ``--tiny`` runs every step on a few
images in about a minute to prove the plumbing (its results go to ``benchmarks/_out``, never the committed folder).

    python benchmarks/imbalance_study.py --gan-minutes 60 --seeds 0,1,2,3,4       # hours on this CPU; resumable
    python benchmarks/imbalance_study.py --tiny                                     # about a minute
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_CSV = REPO.parent / "shared" / "data" / "rbc" / "labels.csv"
RARE = ("teardrop", "stomatocyte")
ARCHS = ("dcgan", "wgan-gp", "stylegan2", "bagan-gp")
# Per-arch options: the README's CPU recipes (widths for a 2-core machine), the papers' optimizers otherwise.
GAN_OPTIONS: dict[str, dict[str, Any]] = {
    "dcgan": {"width": 32, "aug": "ada"},
    "wgan-gp": {"width": 32, "aug": "diffaug", "n_critic": 2, "lr_g": 2e-4, "lr_d": 2e-4,
                "upsample": "resize"},
    "stylegan2": {"width": 16, "aug": "ada"},
    # BAGAN-GP's adversarial phase is WGAN-GP's: the same critic steps and upsampling as the row above (its paper's
    # Adam settings otherwise), so the two differ only in the autoencoder start, the class Gaussians and balancing.
    "bagan-gp": {"width": 32, "aug": "diffaug", "n_critic": 2, "upsample": "resize"},
}
TINY_GAN = {"width": 8, "z_dim": 16, "max_width": 16, "batch": 8}


# -- small helpers -----------------------------------------------------------------------------------------------------
def write_unit(results: Path, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    from synthmed.utils.atomic import write_json

    write_json(results / name, payload)
    return payload


def read_unit(results: Path, name: str) -> dict[str, Any] | None:
    path = results / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- 1. data and resolution --------------------------------------------------------------------------------------------
def prepared(args: argparse.Namespace, resolution: int) -> Path:
    """RBC prepared at ``resolution`` with train/val/test grouped by smear (``patient_id``)."""
    out = Path(args.work) / f"rbc{resolution}"
    if not (out / "dataset.json").is_file():
        say(f"prepare RBC at {resolution} px")
        subprocess.run([sys.executable, "-m", "synthmed", "prepare", "--csv", str(args.csv), "--resolution",
                        str(resolution), "--out", str(out), "--seed", "0"], check=True, stdout=subprocess.DEVNULL)
    return out


def classifier_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"arch": args.classifier, "epochs": args.epochs, "batch_size": args.batch_size, "progress": False,
            "device": args.device}


def choose_resolution(args: argparse.Namespace, results: Path) -> int:
    from synthmed.classify.train import train_classifier

    unit = read_unit(results, "resolution.json")
    if unit is None:
        val_auc = {}
        for res in args.resolutions:
            data = prepared(args, res)
            model = Path(args.work) / f"resolution-{res}"
            train_classifier(str(data), f"{data}:val", model, overwrite=True, seed=0, **classifier_options(args))
            val_auc[str(res)] = json.loads((model / "config.json").read_text())["best_val_auc"]
            say(f"real-only classifier at {res} px: validation macro AUC {val_auc[str(res)]:.4f}")
        best = max(val_auc, key=lambda r: (val_auc[r], -int(r)))  # ties: the smaller, cheaper size
        unit = write_unit(results, "resolution.json", {"val_macro_auc": val_auc, "chosen": int(best),
                                                       "classifier": classifier_options(args), "seed": 0})
    return int(unit["chosen"])


# -- 2. GANs at equal training time ------------------------------------------------------------------------------------
def training_seconds(run: Path) -> float:
    from synthmed.gan.run import GanRun

    return float(sum(s.get("sec_per_tick", 0.0) for s in GanRun(run).stats()))


def train_gan_for(args: argparse.Namespace, results: Path, arch: str, data: Path) -> dict[str, Any]:
    """Train ``arch`` until its training time reaches the budget, resuming in chunks; the unit is its summary."""
    from synthmed.gan.run import GanRun
    from synthmed.gan.train import TrainConfig, train_gan

    name = f"gan-{arch}.json"
    unit = read_unit(results, name)
    run = Path(args.work) / "gans" / arch
    if unit is not None and GanRun(run).resumable:
        return unit
    budget = args.gan_minutes * 60
    opts = {**GAN_OPTIONS[arch], **(TINY_GAN if args.tiny else {})}
    if args.tiny and arch == "bagan-gp":
        opts["ae_kimg"] = 0.1  # a tenth of its few seconds, so the tiny run reaches the adversarial phase
    stats = GanRun(run).stats()
    kimg, elapsed = (stats[-1]["kimg"] if stats else 0.0), training_seconds(run)
    while budget - elapsed > 0.02 * budget:  # within 2 %: equal enough, and no chunk of a few steps
        rate = kimg / elapsed if elapsed > 0 else None  # kimg per second so far
        step = args.first_chunk_kimg if rate is None else max(0.05, min((budget - elapsed) * rate * 1.02,
                                                                          args.max_chunk_kimg))
        kimg = round(kimg + step, 3)
        common = {"kimg": kimg, "progress": False, "snapshot_kimg": max(step / 2, 0.01), "tick_kimg": max(step / 4,
                                                                                                            0.005),
                  "device": args.device}
        if GanRun(run).resumable:
            cfg = TrainConfig(resume=str(run), **common)
        else:
            run.parent.mkdir(parents=True, exist_ok=True)
            cfg = TrainConfig(data=str(data), arch=arch, out=str(run.parent / f"{arch}-tmp"), seed=0, **opts, **common)
        made = train_gan(cfg)
        if made != run:  # a fresh run lands in a numbered folder; give it the arch's fixed name
            shutil.move(str(made), str(run))
            shutil.rmtree(run.parent / f"{arch}-tmp", ignore_errors=True)
        elapsed = training_seconds(run)
        kimg = GanRun(run).stats()[-1]["kimg"]
        say(f"{arch}: {kimg:.3f} kimg in {elapsed:.0f} of {budget:.0f} s")
    stats = GanRun(run).stats()
    return write_unit(results, name, {
        "arch": arch, "options": opts, "kimg": stats[-1]["kimg"], "train_seconds": round(elapsed, 1),
        "budget_seconds": budget, "last_tick": stats[-1],
        "run": str(run.resolve().relative_to(Path(args.work).resolve()))})


def save_grids(args: argparse.Namespace, results: Path) -> None:
    """``grid-<arch>.png``: each GAN's last snapshot grid (a row per class), and ``grid-real.png``, beside the units.

    Small PNGs committed with the JSON, for the README; kept once written (a later session may lack the runs)."""
    from synthmed.gan.run import GanRun
    from synthmed.utils.atomic import write_bytes

    for arch in args.archs:
        run = GanRun(Path(args.work) / "gans" / arch)
        pairs = [(results / f"grid-{arch}.png", run.latest_grid()), (results / "grid-real.png", run.reals_grid())]
        for target, source in pairs:
            if source is not None and not target.is_file():
                write_bytes(target, source.read_bytes())


# -- 3. synthetic sets and per-class metrics ------------------------------------------------------------------------
def synthetic_set(args: argparse.Namespace, arch: str, data: Path, kind: str) -> Path:
    """``top-up``: each class filled up to the largest class; ``metrics``: ``--metric-per-class`` per class."""
    from synthmed.dataset import PreparedDataset
    from synthmed.generate.generate import generate_dataset

    out = Path(args.work) / "synthetic" / f"{arch}-{kind}"
    if not (out / "dataset.json").is_file():
        run = Path(args.work) / "gans" / arch
        if kind == "top-up":
            largest = max(PreparedDataset.open(data).class_counts("train").values())
            generate_dataset(run, out, balance_to=largest, seed=1, device=args.device, progress=False)
        else:
            generate_dataset(run, out, per_class=args.metric_per_class, seed=2, device=args.device, progress=False)
    return out


def per_class_metrics(args: argparse.Namespace, results: Path, name: str, data: Path, fake: str) -> dict[str, Any]:
    from synthmed.metrics.compute import compute_metrics

    unit = read_unit(results, name)
    if unit is None:
        m = compute_metrics(f"{data}:val", fake, per_class=True, progress=False, skip=("frd", "inception"),
                            cache_dir=Path(args.work) / "feature-cache", msssim_pairs=50)
        keep = ("fid_domain", "recall", "coverage", "precision")
        for side in ("real", "fake"):  # paths relative to --work: the unit is committed, the work folder is not
            m[side]["path"] = str(Path(m[side]["path"]).resolve().relative_to(Path(args.work).resolve()))
        unit = write_unit(results, name, {
            "real": m["real"], "fake": m["fake"], "overall": {k: m["overall"].get(k) for k in keep},
            "per_class": {c: {k: v.get(k) for k in keep} for c, v in m["per_class"].items()},
            "n_real_per_class": m["info"]["n_real_per_class"], "n_fake_per_class": m["info"]["n_fake_per_class"],
            "domain_extractor": m["info"].get("domain_extractor")})
    return unit


# -- 4. classifiers ----------------------------------------------------------------------------------------------------
def top_up_training_set(args: argparse.Namespace, data: Path, synthetic: Path) -> Path:
    """Real train images plus every image of the top-up set, as one prepared dataset.

    A training SPEC draws synthetic images in proportion to the real counts (or equally); top-up needs every
    generated image, which is a different count per class, so the two sets are merged here.
    """
    from synthmed.dataset import DatasetWriter, PreparedDataset

    out = Path(args.work) / "train-sets" / synthetic.name
    if (out / "dataset.json").is_file():
        return out
    real, syn = PreparedDataset.open(data), PreparedDataset.open(synthetic)
    with DatasetWriter(out, real.classes, real.resolution, real.channels, overwrite=True) as writer:
        for ds, origin in ((real, "real"), (syn, "synthetic")):
            labels = ds.labels("train")
            images = ds.load_images("train", np.arange(len(labels)))
            for image, label in zip(images, labels, strict=True):
                writer.add(image[..., 0] if ds.channels == 1 else image, int(label), "train", source=origin)
        writer.finish(source={"type": "merged", "real": real.content_hash, "synthetic": syn.content_hash},
                      preprocessing={"resolution": real.resolution})
    return out


def train_arm(args: argparse.Namespace, results: Path, arm: str, seed: int, data: Path,
              train_set: Path, augment: str) -> dict[str, Any]:
    from synthmed.classify.evaluate import evaluate_model
    from synthmed.classify.train import TrainConfig, batches_per_pass, train_classifier
    from synthmed.dataset import PreparedDataset

    name = f"clf-{arm}-s{seed}.json"
    unit = read_unit(results, name)
    if unit is not None:
        return unit
    model = Path(args.work) / "classifiers" / f"{arm}-s{seed}"
    n_real = len(PreparedDataset.open(data).entries("train"))
    steps = batches_per_pass(n_real, args.batch_size or TrainConfig.batch_size)  # the real-only run's epoch
    t0 = time.perf_counter()
    train_classifier(str(train_set), f"{data}:val", model / "model", overwrite=True, seed=seed, augment=augment,
                     epoch_steps=steps, **classifier_options(args))
    ev = evaluate_model(model / "model", f"{data}:test", model / "test.json", device=args.device)
    probs = _read_probabilities(model / ev["predictions"])
    unit = write_unit(results, name, {
        "arm": arm, "seed": seed, "augment": augment,
        "train_set": PreparedDataset.open(train_set).class_counts("train"),
        "auc": ev["auc"], "accuracy": ev["accuracy"], "per_class": ev["per_class"], "classes": ev["classes"],
        "test_hash": ev["test"]["content_hash"], "labels": probs["labels"], "probs": probs["probs"],
        "seconds": round(time.perf_counter() - t0, 1)})
    say(f"{arm} seed {seed}: macro AUC {unit['auc']:.3f}")
    return unit


def _read_probabilities(path: Path) -> dict[str, list]:
    from synthmed.classify.results import read_predictions

    p = read_predictions(path)
    return {"labels": p.label.astype(int).tolist(), "probs": np.round(p.scores, 5).tolist()}


# -- 5. statistics -----------------------------------------------------------------------------------------------------
def macro_auc_bootstrap(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, rng: np.random.Generator,
                        n_boot: int = 2000, level: float = 0.95) -> dict[str, float]:
    """Macro one-vs-rest AUC of a and b and of a - b, with a paired bootstrap stratified by class.

    Each class's test cases are resampled on their own (SciPy's ``bootstrap`` with one sample per class), the
    same indices for both models (paired); percentile CIs. p: two-sided, twice the smaller tail of the bootstrap
    differences at 0 (floored at 1 / n_boot). ``synthmed.stats`` has DeLong for one binary AUC, not for a mean of
    one-vs-rest AUCs that share their cases.
    """
    from scipy.stats import bootstrap

    from synthmed.stats.bootstrap import auc_from_ranks

    k = scores_a.shape[1]
    groups = [np.flatnonzero(labels == c) for c in range(k)]

    def macro(scores: np.ndarray, idx: list[np.ndarray]) -> np.ndarray:
        aucs = []
        for c in range(k):
            pos = scores[idx[c], c]
            neg = np.concatenate([scores[idx[j], c] for j in range(k) if j != c], axis=-1)
            aucs.append(auc_from_ranks(pos, neg))
        return np.mean(aucs, axis=0)

    def statistic(*idx: np.ndarray, axis: int = -1) -> np.ndarray:
        resampled = [groups[c][np.asarray(i, dtype=np.intp)] for c, i in enumerate(idx)]
        a, b = macro(scores_a, resampled), macro(scores_b, resampled)
        return np.stack([a, b, a - b])

    samples = tuple(np.arange(len(g)) for g in groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bootstrap(samples, statistic, n_resamples=n_boot, vectorized=True, paired=False,
                        confidence_level=level, method="percentile", batch=100, rng=rng)
    est = statistic(*samples)
    diffs = res.bootstrap_distribution[2]
    p = min(1.0, max(2 * min((diffs <= 0).mean(), (diffs >= 0).mean()), 1.0 / n_boot))
    lo, hi = res.confidence_interval.low, res.confidence_interval.high
    out = {f"{name}": float(est[i]) for i, name in enumerate(("auc_a", "auc_b", "diff"))}
    out |= {f"{name}_ci": [float(lo[i]), float(hi[i])] for i, name in enumerate(("auc_a", "auc_b", "diff"))}
    return out | {"p": float(p), "n_boot": n_boot}


def rare_class_tests(labels: np.ndarray, probs_a: np.ndarray, probs_b: np.ndarray, c: int,
                     rng: np.random.Generator) -> dict[str, Any]:
    """Class ``c`` one-vs-rest: sensitivity (argmax = c among its cases) with bootstrap CIs and McNemar's test on
    those cases; its AUC with DeLong's test."""
    from synthmed.stats.bootstrap import bootstrap_metrics
    from synthmed.stats.delong import delong_test
    from synthmed.stats.mcnemar import mcnemar_test

    positive = labels == c
    hit_a, hit_b = probs_a.argmax(1) == c, probs_b.argmax(1) == c
    boot = bootstrap_metrics(positive, np.stack([probs_a[:, c], probs_b[:, c]]), np.stack([hit_a, hit_b]), rng)
    mc = mcnemar_test(hit_a[positive], hit_b[positive])
    dl = delong_test(positive, probs_a[:, c], probs_b[:, c])
    return {"sensitivity": boot["models"][0]["sensitivity"], "sensitivity_baseline": boot["models"][1]["sensitivity"],
            "sensitivity_diff": boot["difference"]["sensitivity"], "p_mcnemar": mc.p,
            "mcnemar_discordant": [mc.only_a_correct, mc.only_b_correct],
            "auc": dl.auc_a, "auc_baseline": dl.auc_b, "p_delong": dl.p, "n_cases": int(positive.sum())}


def analyse(units: dict[str, list[dict[str, Any]]], classes: list[str], seed: int = 0) -> dict[str, Any]:
    """Every arm against real-only on the seed ensembles; Holm over all p-values of the study."""
    from synthmed.stats.multiple import holm
    from synthmed.stats.seeds import mean_sd

    base = units["real"]
    labels = np.asarray(base[0]["labels"])
    ensemble = {arm: np.mean([np.asarray(u["probs"]) for u in runs], axis=0) for arm, runs in units.items()}
    rare = [classes.index(c) for c in RARE if c in classes]
    streams = iter(np.random.SeedSequence(seed).spawn(len(units) * (1 + len(rare))))
    arms: dict[str, Any] = {}
    for arm, runs in units.items():
        if any(u["test_hash"] != base[0]["test_hash"] or u["labels"] != base[0]["labels"] for u in runs):
            raise SystemExit(f"{arm}: its classifiers were tested on other images than real-only's")
        row: dict[str, Any] = {"seeds": [u["seed"] for u in runs],
                               "macro_auc_seeds": mean_sd([u["auc"] for u in runs]),
                               "sensitivity_seeds": {classes[c]: mean_sd([u["per_class"][classes[c]]["sensitivity"]
                                                                          for u in runs]) for c in rare}}
        if arm != "real":
            row["macro_auc"] = macro_auc_bootstrap(labels, ensemble[arm], ensemble["real"],
                                                   np.random.default_rng(next(streams)))
            row["rare"] = {classes[c]: rare_class_tests(labels, ensemble[arm], ensemble["real"], c,
                                                        np.random.default_rng(next(streams))) for c in rare}
        arms[arm] = row
    tests = [(arm, "macro_auc") for arm in arms if arm != "real"]
    tests += [(arm, classes[c]) for arm in arms if arm != "real" for c in rare]
    pvals = [arms[a]["macro_auc"]["p"] if t == "macro_auc" else arms[a]["rare"][t]["p_mcnemar"] for a, t in tests]
    adjusted, reject = holm(pvals)
    for (arm, test), p_adj, rej in zip(tests, adjusted, reject, strict=True):
        target = arms[arm]["macro_auc"] if test == "macro_auc" else arms[arm]["rare"][test]
        target["p_holm"], target["significant"] = p_adj, rej
    return {"arms": arms, "n_test": int(labels.size), "test_counts": {c: int((labels == i).sum())
                                                                       for i, c in enumerate(classes)},
            "family": f"Holm over {len(tests)} tests: macro AUC (paired stratified bootstrap) and the sensitivity "
                      f"of {', '.join(RARE)} (McNemar on that class's test cells) for each arm vs real-only"}


# -- report ------------------------------------------------------------------------------------------------------------
def _f(x: Any, digits: int = 3) -> str:
    return "" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def _ci(block: dict[str, Any]) -> str:
    return f"{_f(block['estimate'])} [{_f(block['ci_low'])}, {_f(block['ci_high'])}]"


def markdown(study: dict[str, Any]) -> str:
    classes, stats = study["classes"], study["statistics"]
    lines = [f"# RBC imbalance study ({study['setting']})", "",
             f"Resolution {study['resolution']} px (validation macro AUC of a real-only classifier: "
             f"{', '.join(f'{r} px {_f(v)}' for r, v in study['resolution_val_auc'].items())}); GAN "
             f"training time {study['gan_minutes']} min each; classifier `{study['classifier']['arch']}`, "
             f"{study['classifier']['epochs']} epochs, seeds {study['seeds']}; test cells "
             f"{', '.join(f'{c} {n}' for c, n in stats['test_counts'].items())}.", "",
             "## GANs", "", "| arch | kimg | training s |", "|---|---|---|"]
    lines += [f"| {g['arch']} | {g['kimg']:.1f} | {g['train_seconds']:.0f} |" for g in study["gans"].values()]
    lines += ["", "## Per class against the real validation images", "",
              "| set | " + " | ".join(f"{c} FID / recall / coverage" for c in classes) + " |",
              "|---|" + "---|" * len(classes)]
    for name, m in study["metrics"].items():
        cells = [f"{_f(m['per_class'][c]['fid_domain'], 2)} / {_f(m['per_class'][c]['recall'], 2)} / "
                 f"{_f(m['per_class'][c]['coverage'], 2)}" for c in classes]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "## Classifiers (test; seed ensemble, 95 % CI; p Holm-adjusted)", "",
              "| arm | macro AUC, mean ± sd over seeds | ensemble macro AUC | Δ vs real [CI] | p (Holm) | "
              + " | ".join(f"{c} sensitivity [CI] | Δ | p (Holm)" for c in RARE) + " |",
              "|---|---|---|---|---|" + "---|---|---|" * len(RARE)]
    for arm, row in stats["arms"].items():
        ms = row["macro_auc_seeds"]
        seeds = f"{_f(ms['mean'])} ± {_f(ms['sd'])}"
        if arm == "real":
            sens = [f"{_f(row['sensitivity_seeds'][c]['mean'])} (seeds) | | " for c in RARE if c in row[
                "sensitivity_seeds"]]
            lines.append(f"| {arm} | {seeds} | | | | " + " | ".join(sens) + " |")
            continue
        m = row["macro_auc"]
        cells = [f"{arm} | {seeds} | {_f(m['auc_a'])} | {_f(m['diff'])} [{_f(m['diff_ci'][0])}, "
                 f"{_f(m['diff_ci'][1])}] | {_f(m['p_holm'])}"]
        for c in RARE:
            r = row["rare"].get(c)
            if r:
                cells.append(f"{_ci(r['sensitivity'])} | {_f(r['sensitivity_diff']['estimate'])} | {_f(r['p_holm'])}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", stats["family"] + ".", ""]
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    from synthmed.dataset import PreparedDataset
    from synthmed.utils.atomic import write_json, write_text

    results, work = Path(args.results), Path(args.work)
    results.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    resolution = choose_resolution(args, results)
    data = prepared(args, resolution)
    classes = PreparedDataset.open(data).classes
    # A GAN is (re)trained only while a unit that needs its images is missing: a later session with the committed
    # results but without the work folder skips the archs whose metrics and classifiers are all done.
    needed = {arch: read_unit(results, f"metrics-{arch}.json") is None
              or any(read_unit(results, f"clf-real+{arch}-s{seed}.json") is None for seed in args.seeds)
              for arch in args.archs}
    gans = {arch: train_gan_for(args, results, arch, data) if needed[arch] or not read_unit(results, f"gan-{arch}.json")
            else read_unit(results, f"gan-{arch}.json") for arch in args.archs}
    save_grids(args, results)
    metrics = {"real train (reference)": per_class_metrics(args, results, "metrics-reference.json", data,
                                                           f"{data}:train")}
    for arch in args.archs:
        name = f"metrics-{arch}.json"
        fake = None if read_unit(results, name) else str(synthetic_set(args, arch, data, "metrics"))
        metrics[arch] = per_class_metrics(args, results, name, data, fake or "")
    units: dict[str, list[dict[str, Any]]] = {"real": [], "real+traditional": []}
    for seed in args.seeds:
        units["real"].append(train_arm(args, results, "real", seed, data, data, "none"))
        units["real+traditional"].append(train_arm(args, results, "real+traditional", seed, data, data, "traditional"))
        for arch in args.archs:
            arm = f"real+{arch}"
            train_set = None if read_unit(results, f"clf-{arm}-s{seed}.json") else \
                top_up_training_set(args, data, synthetic_set(args, arch, data, "top-up"))
            units.setdefault(arm, []).append(train_arm(args, results, arm, seed, data, train_set or data, "none"))
    study = {"setting": "tiny (plumbing check, not a result)" if args.tiny else "full", "classes": classes,
             "resolution": resolution, "resolution_val_auc": read_unit(results, "resolution.json")["val_macro_auc"],
             "gan_minutes": args.gan_minutes, "seeds": args.seeds, "classifier": classifier_options(args),
             "gans": gans, "metrics": metrics, "statistics": analyse(units, classes)}
    write_json(results / "study.json", study)
    write_text(results / "study.md", markdown(study))
    say(f"wrote {results / 'study.json'} and {results / 'study.md'}")
    return study


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--csv", default=str(DEFAULT_CSV))
    p.add_argument("--archs", default=",".join(ARCHS))
    p.add_argument("--gan-minutes", type=float, default=60.0)
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--resolutions", default="32,48")
    p.add_argument("--classifier", default="cnn")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--metric-per-class", type=int, default=200)
    p.add_argument("--first-chunk-kimg", type=float, default=2.0, help="GAN kimg before the speed is known")
    p.add_argument("--max-chunk-kimg", type=float, default=50.0, help="GAN kimg at most per resumed chunk")
    p.add_argument("--device", default="cpu")
    p.add_argument("--work", default=str(HERE / "_out" / "imbalance"))
    p.add_argument("--results", default=str(HERE / "results" / "imbalance"))
    p.add_argument("--tiny", action="store_true", help="a minute-long plumbing check (results under --work)")
    args = p.parse_args(argv)
    if args.tiny:
        args.work = str(HERE / "_out" / "imbalance-tiny")
        args.results = str(HERE / "_out" / "imbalance-tiny" / "results")
        args.gan_minutes, args.epochs, args.seeds, args.metric_per_class = 0.1, 1, "0,1", 30
        args.first_chunk_kimg, args.resolutions = 0.1, "32"
    args.archs = [a for a in args.archs.split(",") if a]
    unknown = [a for a in args.archs if a not in ARCHS]
    if unknown:
        p.error(f"unknown arch(s) {', '.join(unknown)}; choose from {', '.join(ARCHS)}")
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.resolutions = [int(r) for r in args.resolutions.split(",")]
    return args


def main(argv: list[str] | None = None) -> None:
    import torch

    torch.set_num_threads(1)  # the sums' order depends on the thread count; one thread also shares the CPU fairly
    run(parse(argv))


if __name__ == "__main__":
    main()
