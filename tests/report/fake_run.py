"""Hand-made stage outputs in the pipeline's layout, for testing the report without training anything.

The datasets are the toy ones of tests/conftest.py; classifier predictions are drawn so that the real-only
runs score better than the synthetic-only ones; the statistics stage is the real ``compare_results``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from tests.conftest import write_toy_dataset

from synthmed.filter.result import FilterResult
from synthmed.metrics.result import MetricsResult
from synthmed.pipeline.runner import StageRecord
from synthmed.report.build import ReportSources

CLASSES = ["malignant", "benign"]


def _write_predictions(path: Path, labels: np.ndarray, separation: float, rng: np.random.Generator) -> float:
    """Softmax-like scores whose positive-class score rises with the label; returns the AUC."""
    from sklearn.metrics import roc_auc_score

    positive = 0
    logit = rng.normal(0, 1, len(labels)) + separation * (labels == positive)
    p_pos = 1 / (1 + np.exp(-logit))
    scores = np.stack([p_pos, 1 - p_pos], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "label", "pred", "score_0", "score_1"])
        for i, (y, s) in enumerate(zip(labels, scores, strict=True)):
            w.writerow([i, int(y), int(s.argmax()), f"{s[0]:.6f}", f"{s[1]:.6f}"])
    return float(roc_auc_score(labels == positive, p_pos))


def write_experiment(exp: Path, seeds=(0, 1), ratios=(0, 50, 100), fractions=(1.0, 0.25),
                     augments=("none",)) -> list[dict]:
    rng = np.random.default_rng(0)
    labels = np.array([0] * 20 + [1] * 40)
    cells = [("real", 0, f, a) for f in fractions for a in augments]
    cells += [("mixed", r, f, a) for r in ratios if r > 0 for f in fractions for a in augments]
    cells += [("synthetic", 100, 1.0, a) for a in augments] + [("real", 0, 1.0, "traditional")]
    rows = []
    for source, ratio, fraction, aug in cells:
        for seed in seeds:
            run_id = f"{source}-r{ratio}-f{fraction}-{aug}-s{seed}"
            separation = {"real": 2.0, "mixed": 2.2, "synthetic": 1.0}[source] * (0.7 + 0.3 * fraction)
            auc = _write_predictions(exp / "runs" / run_id / "predictions.csv", labels, separation, rng)
            rows.append({"run_id": run_id, "source": source, "ratio": ratio, "real_fraction": fraction,
                         "augment": aug, "seed": seed, "arch": "smallcnn", "positive_class": 0,
                         "metrics": {"auc": auc, "accuracy": 0.7, "sensitivity": 0.6, "specificity": 0.8,
                                     "f1": 0.65, "threshold": 0.5},
                         "predictions": f"runs/{run_id}/predictions.csv", "model_dir": f"runs/{run_id}"})
    (exp / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _done(folder: Path, stage: str, summary: dict | None = None) -> Path:
    StageRecord(stage=stage, key="0" * 64, options={}, deps=[], seconds=1.5, cpu_seconds=1.0,
                finished_at="2026-01-01T00:00:00+00:00", summary=summary or {}).write(folder)
    return folder


def _counts(kept: int, removed: int, rate: float) -> dict:
    return {"total": kept + removed, "kept": kept, "removed": removed, "low_confidence": removed, "unrealistic": 0,
            "near_copy": 0, "synthetic_pass_rate": kept / (kept + removed), "real_pass_rate": rate, "n_real": 4}


def make_fake_run(root: Path, skip: tuple[str, ...] = ()) -> ReportSources:
    """Every stage's output under ``root/stages``; stages in ``skip`` are reported as skipped."""
    from synthmed.stats.compare import compare_results
    from synthmed.stats.result import StatsResult

    st = root / "stages"
    folders: dict[str, Path | None] = {}
    counts = {"train": [24, 16], "val": [4, 4], "test": [20, 40]}
    write_toy_dataset(st / "prepare" / "dataset", counts, resolution=28, seed=0, classes=CLASSES)
    folders["prepare"] = _done(st / "prepare", "prepare", prepare_summary(st / "prepare" / "dataset"))
    gan_run = st / "gan" / "runs" / "00000-dcgan"
    (gan_run / "grids").mkdir(parents=True)
    ticks = [{"kimg": k, "loss_G": 2.0 - 0.1 * k, "loss_D": 0.5 + 0.02 * k, "ada_p": 0.05 * k, "img_per_sec": 300.0}
             for k in range(1, 7)]
    (gan_run / "stats.jsonl").write_text("".join(json.dumps(t) + "\n" for t in ticks))
    (gan_run / "options.json").write_text(json.dumps({"arch": "dcgan", "resolution": 32, "kimg": 6, "batch": 32,
                                                      "aug": "diffaug", "cond": True, "seed": 0}))
    from PIL import Image

    Image.fromarray(np.full((40, 80), 128, dtype=np.uint8)).save(gan_run / "grids" / "grid-000006.png")
    folders["gan"] = _done(st / "gan", "gan", {"run": "runs/00000-dcgan", "resumed": False, "kimg": 6.0})
    write_toy_dataset(st / "generate" / "dataset", {"train": [30, 30]}, resolution=28, seed=1, classes=CLASSES)
    folders["generate"] = _done(st / "generate", "generate", {"dataset": "dataset", "per_class": 30})
    metrics = {"overall": {"frd": 12.5, "fid_domain": 30.1, "kid_domain": 0.012, "precision": 0.7, "recall": 0.5,
                           "ms_ssim_real": 0.21, "ms_ssim_fake": 0.25, "memorized_fraction": 0.0,
                           "fid_inception": None, "inception_score": None},
               "per_class": {c: {"frd": 14.0, "precision": 0.6} for c in CLASSES},
               "reference": {"n_val": 78, "keys": ["fid_domain", "precision"],
                             "overall": {"fid_domain": 4.2, "precision": 0.9},
                             "per_class": {c: {"fid_domain": 5.5, "precision": 0.85} for c in CLASSES}},
               "notes": {"fid_inception": "Inception weights not available offline"}}
    _done(st / "metrics", "metrics")
    sides = {side: {"path": str(st / stage / "dataset"), "split": "train", "content_hash": "0" * 64}
             for side, stage in (("real", "prepare"), ("fake", "generate"))}
    metrics["reference"] |= {"real": "prepare:train", "against": "prepare:val", "n_val_per_class": dict.fromkeys(
        CLASSES, 39)}
    MetricsResult(**sides, **metrics, info={"n_real": 40, "n_fake": 60}, config={"seed": 0}).write(st / "metrics")
    Image.fromarray(np.full((30, 60), 200, dtype=np.uint8)).save(st / "metrics" / "memorization_pairs.png")
    folders["metrics"] = st / "metrics"
    write_toy_dataset(st / "filter" / "dataset", {"train": [27, 25]}, resolution=28, seed=1, classes=CLASSES)
    _done(st / "filter", "filter", {"kept": 52, "removed": 8})
    FilterResult.model_validate(
        {"per_class": {"malignant": _counts(27, 3, 0.92), "benign": _counts(25, 5, 0.9)},
         "kept": 52, "removed": 8, "rules": ["confidence >= what 90% of the real val images of the class reach"],
         "top_up": {"factor": 5.0, "rounds": 1, "notes": [],
                    "per_class": {"malignant": {"need": 20, "generated": 30, "kept": 27, "pass_rate": 0.9,
                                                "short": False},
                                  "benign": {"need": 20, "generated": 30, "kept": 25, "pass_rate": 0.83,
                                             "short": False}}}}).write(st / "filter")
    folders["filter"] = st / "filter"
    rows = write_experiment(st / "classify" / "experiment")
    folders["classify"] = _done(st / "classify", "classify", {**GRID, "runs": len(rows)})
    stats = StatsResult.model_validate(compare_results(st / "classify" / "experiment"))
    _done(st / "stats", "stats", {"verdicts": [c.sentence for c in stats.comparisons]})
    stats.write(st / "stats")
    folders["stats"] = st / "stats"
    skipped = {}
    for stage in skip:
        folders[stage] = None
        skipped[stage] = f"disabled in the config ({stage}.enabled: false)"
    summaries = leakage_summaries(st / "prepare" / "dataset")
    return ReportSources(name="fake", config={"profile": "cpu", "name": "fake"}, folders=folders,
                         summaries=summaries, skipped=skipped, samples_per_class=9,
                         seconds={k: 1.5 for k, f in folders.items() if f is not None})


GRID = {"experiment": "experiment", "ratios": [0, 50, 100], "synthetic_only": True}


def prepare_summary(dataset: Path) -> dict:
    from synthmed.dataset import PreparedDataset

    real = PreparedDataset.open(dataset)
    return {"dataset": "dataset", "counts": real.meta["counts"], "classes": real.classes,
            "content_hash": real.content_hash, "source": "folder", "resolution": real.resolution,
            "channels": real.channels, "train_hash": real.images_hash("train")}


def leakage_summaries(dataset: Path) -> dict[str, dict]:
    """What the pipeline's stages record of the real images they saw: a GAN chain on the whole train split and
    one on the fixed 25 % subset (the fake grid's two real fractions)."""
    from synthmed.classify.spec import real_subset
    from synthmed.dataset import PreparedDataset

    real = PreparedDataset.open(dataset)
    idx, _ = real_subset(real.labels("train"), 0.25, 0, real.classes)
    full = {"split": "train", "n": 40, "images_hash": real.images_hash("train")}
    quarter = {"split": "train", "n": len(idx), "images_hash": real.images_hash("train", idx)}
    out = {"prepare": prepare_summary(dataset),
           "subset-f0.25": {"dataset": "dataset", "fraction": 0.25, "n": len(idx), "counts": {},
                            "images_hash": quarter["images_hash"]}}
    for suffix, seen, kimg in (("", full, 6.0), ("-f0.25", quarter, 3.0)):
        out |= {f"gan{suffix}": {"run": "runs/00000-dcgan", "resumed": False, "kimg": kimg, "real": seen},
                f"metrics{suffix}": {"real": seen}, f"filter{suffix}": {"kept": 52, "removed": 8, "real": seen}}
    out["classify"] = {**GRID, "runs": 26, "real_subsets": {"1": full, "0.25": quarter},
                       "gan_of_fraction": {"1": 1.0, "0.25": 0.25},
                       "val": {"split": "val", "n": 8, "images_hash": real.images_hash("val")},
                       "test": {"split": "test", "n": 60, "images_hash": real.images_hash("test")}}
    return out
