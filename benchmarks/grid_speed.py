"""Wall time of the classifier grid by workers x threads per run, and whether the cells agree, as JSON.

    python benchmarks/grid_speed.py                               # the BreastMNIST default grid (48 runs), 1x2 vs 2x1
    python benchmarks/grid_speed.py --configs 1x2,2x1,1x1         # also 1 worker x 1 thread: same cells as 2x1?
    python benchmarks/grid_speed.py --seeds 0 --real-fractions 0.25 --augment none --epochs 1   # a tiny check
    python benchmarks/grid_speed.py --main-job                    # also `synthmed run` per config (own cache)

The grid is the cpu profile's (arch, epochs, batch, ratios, seeds, fractions, augmentation, equal-steps budget,
from ``synthmed.pipeline.config``) on BreastMNIST 28; the synthetic set is a stand-in (the training images
flipped left-right), so no GAN is needed and every cell is feasible. Each config trains into
``OUT/grid-WxT`` through ``run_experiment``: killed, the benchmark resumes there (finished cells kept) and
adds the new session's time to the recorded one (``OUT/timings.json``). Cells are compared on everything
the computation decides (metrics, steps, best epoch): identical at the same threads per run, whichever
worker ran them; at other thread counts they may differ in the last bits of the float sums, so the JSON
gives the largest AUC difference. Not a test: times depend on the machine and its load, and at a tiny scale
the first config also pays one-time warm-up, and each config with workers the start of Ray (10-30 s here).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from synthmed.classify.experiment import run_experiment
from synthmed.classify.results import load_results
from synthmed.dataset import DatasetWriter, PreparedDataset
from synthmed.pipeline.config import build_config
from synthmed.utils.atomic import write_json
from synthmed.utils.options import given
from synthmed.utils.threads import usable_cores

SAME = ("metrics", "n_train_real", "n_train_synthetic", "best_epoch", "steps", "epoch_steps", "threads")


def main() -> None:
    defaults = build_config({}, "cpu").classify
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/_out/grid_speed"))
    ap.add_argument("--data-root", type=Path, default=os.environ.get("SYNTHMED_DATA_ROOT"),
                    help="Folder with breastmnist.npz (default: $SYNTHMED_DATA_ROOT).")
    ap.add_argument("--configs", default="1x2,2x1", help="WORKERSxTHREADS, comma-separated.")
    ap.add_argument("--seeds", default=",".join(map(str, defaults.seeds)))
    ap.add_argument("--real-fractions", default=",".join(f"{f:g}" for f in defaults.real_fractions))
    ap.add_argument("--augment", default=",".join(defaults.augment))
    ap.add_argument("--ratios", default=",".join(map(str, defaults.ratios)))
    ap.add_argument("--epochs", type=int, default=defaults.epochs)
    ap.add_argument("--main-job", action="store_true", help="Also time `synthmed run` per config.")
    args = ap.parse_args()

    out = args.out
    real, synthetic = datasets(out / "data", args.data_root)
    configs = [parse_config(c) for c in args.configs.split(",")]
    timings_path = out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}
    grid = dict(ratios=[int(r) for r in args.ratios.split(",")], sources=grid_sources(defaults, args.ratios),
                real_fractions=[float(f) for f in args.real_fractions.split(",")], augments=args.augment.split(","),
                seeds=[int(s) for s in args.seeds.split(",")], arch=defaults.arch, epochs=args.epochs,
                batch_size=defaults.batch, lr=defaults.lr, budget=defaults.budget, subset_seed=0, device="cpu",
                progress=True,
                **given(defaults.options))
    for workers, threads in configs:
        name = f"{workers}x{threads}"
        start = time.perf_counter()
        rows = run_experiment(str(real.root), str(synthetic.root), out / f"grid-{name}", workers=workers,
                              threads=threads, **grid)
        entry = timings.setdefault(name, {"grid_seconds": 0.0, "sessions": 0})
        entry["grid_seconds"] = round(entry["grid_seconds"] + time.perf_counter() - start, 2)
        entry["sessions"] += 1
        entry["runs"] = len(rows)
        write_json(timings_path, timings)
        if args.main_job:
            entry["main_job_seconds"] = time_main_job(out, workers, threads, args.data_root,
                                                      entry.get("main_job_seconds", 0.0))
            write_json(timings_path, timings)

    report = {"machine": {"platform": platform.platform(), "cores": usable_cores(), "python": sys.version.split()[0]},
              "grid": {k: v for k, v in grid.items() if k not in ("progress",)}, "timings": timings,
              "comparisons": compare(out, [f"{w}x{t}" for w, t in configs])}
    first = configs[0]
    base = timings[f"{first[0]}x{first[1]}"]["grid_seconds"]
    report["speedup_vs_" + f"{first[0]}x{first[1]}"] = {n: round(base / t["grid_seconds"], 3)
                                                        for n, t in timings.items() if t["grid_seconds"]}
    write_json(out / "grid_speed.json", report)
    print(json.dumps(report, indent=2))


def parse_config(text: str) -> tuple[int, int]:
    workers, _, threads = text.strip().partition("x")
    return int(workers), int(threads)


def grid_sources(defaults, ratios: str) -> list[str]:
    wanted = [int(r) for r in ratios.split(",")]
    return ["real"] + (["mixed"] if any(r > 0 for r in wanted) else []) + (["synthetic"] if defaults.synthetic_only
                                                                           else [])


def datasets(folder: Path, data_root: Path | None) -> tuple[PreparedDataset, PreparedDataset]:
    """BreastMNIST 28 prepared, and its training images flipped left-right as the 'synthetic' set (made once)."""
    from synthmed.prepare.build import build_from_arrays
    from synthmed.prepare.medmnist_source import read_medmnist
    from synthmed.prepare.preprocess import PreprocessOptions

    real_dir, syn_dir = folder / "breast28", folder / "standin"
    if not real_dir.is_dir():  # prepare writes atomically: a folder here is complete
        if data_root is None:
            sys.exit("set SYNTHMED_DATA_ROOT or --data-root to the folder with breastmnist.npz")
        build_from_arrays(read_medmnist(Path(data_root) / "breastmnist.npz", "breastmnist"), real_dir,
                          PreprocessOptions(resolution=28), progress=False)
    real = PreparedDataset.open(real_dir)
    if not syn_dir.is_dir():
        images = real.load_images("train")
        with DatasetWriter(syn_dir, real.classes, real.resolution, real.channels) as writer:
            for image, label in zip(images, real.labels("train"), strict=True):
                writer.add(np.ascontiguousarray(image[:, ::-1, 0]), int(label), "train")
            writer.finish(source={"type": "stand-in", "from": str(real.root), "transform": "hflip"},
                          preprocessing={})
    return real, PreparedDataset.open(syn_dir)


def compare(out: Path, names: list[str]) -> list[dict]:
    """Per pair of configs: cells identical in everything computed, and the largest test-AUC difference."""
    loaded = {n: {(r.cell, r.seed): r.row for r in load_results(out / f"grid-{n}")[1]} for n in names}
    result = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            left, right = loaded[a], loaded[b]
            common = sorted(set(left) & set(right))
            same = sum(all(left[c].get(k) == right[c].get(k) for k in SAME if k != "threads") for c in common)
            diffs = [abs(left[c]["metrics"]["auc"] - right[c]["metrics"]["auc"]) for c in common]
            threads = {r.get("threads") for r in (*left.values(), *right.values())}
            result.append({"configs": [a, b], "cells": len(common), "identical_cells": same,
                           "same_threads_per_run": len(threads) == 1,
                           "max_abs_auc_difference": max(diffs) if diffs else None})
    return result


def time_main_job(out: Path, workers: int, threads: int, data_root: Path | None, before: float) -> float:
    """`synthmed run` (cpu profile) with this config, its own run folder and stage cache; resumes like the job."""
    name = f"{workers}x{threads}"
    env = {**os.environ, "SYNTHMED_CACHE": str((out / f"cache-{name}").absolute())}
    if data_root:
        env["SYNTHMED_DATA_ROOT"] = str(data_root)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "synthmed", "run", "--out", str(out / f"main-{name}"), "--workers",
                    str(workers), "--threads", str(threads)], env=env, check=True)
    return round(before + time.perf_counter() - start, 2)


if __name__ == "__main__":
    main()
