"""Test AUC of classifier training recipes over seeds, on real data only (a benchmark, not a test).

Trains with ``synthmed.classify.train_classifier`` on a prepared dataset's train split, keeps the best
validation AUC checkpoint, evaluates it on the test split, and prints one JSON line per run and a summary
line (mean and sd per recipe). The ResNet-18 table on BreastMNIST 28 (docs/studies/classifier-recipes.md) comes from

    python benchmarks/classifier_recipes.py --seeds 0,1,2 --threads 1     # ~11 min a run on one CPU thread

Without ``--data`` it prepares BreastMNIST 28 from ``$SYNTHMED_DATA_ROOT`` (or the medmnist download)
into ``benchmarks/_out/breastmnist28``. Finished runs under ``--out`` are skipped, so a killed run resumes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from synthmed.dataset import PreparedDataset

RECIPES: dict[str, dict[str, Any]] = {
    "default": {},  # constant lr, patience 10, no augmentation
    "cosine": {"lr_schedule": "cosine", "patience": None},
    "cosine-aug": {"lr_schedule": "cosine", "patience": None, "augment": "traditional"},
}
OUT = Path(__file__).parent / "_out"


def prepared_breastmnist() -> Path:
    target = OUT / "breastmnist28"
    if not PreparedDataset.exists(target):
        subprocess.run([sys.executable, "-m", "synthmed", "prepare", "--medmnist", "breastmnist", "--size", "28",
                        "--out", str(target)], check=True, stdout=subprocess.DEVNULL)
    return target


def run_one(data: Path, recipe: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    from synthmed.classify.evaluate import evaluate_model
    from synthmed.classify.train import train_classifier

    run = Path(args.out) / f"{args.arch}-{recipe}-s{seed}"
    if not (run / "test.json").is_file():
        start = time.perf_counter()
        train_classifier(str(data), f"{data}:val", run / "model", overwrite=True, progress=False, arch=args.arch,
                         epochs=args.epochs, seed=seed, device=args.device, **RECIPES[recipe])
        evaluate_model(run / "model", f"{data}:test", run / "test.json", device=args.device)
        (run / "seconds.txt").write_text(f"{time.perf_counter() - start:.1f}\n")
    test = json.loads((run / "test.json").read_text())
    config = json.loads((run / "model" / "config.json").read_text())
    return {"arch": args.arch, "recipe": recipe, "seed": seed, "test_auc": test["auc"],
            "test_accuracy": test["accuracy"], "best_epoch": config["best_epoch"],
            "best_val_auc": config["best_val_auc"], "seconds": float((run / "seconds.txt").read_text())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="prepared dataset with train/val/test splits (default: BreastMNIST 28)")
    p.add_argument("--recipes", default=",".join(RECIPES), help=f"comma list of {', '.join(RECIPES)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--arch", default="resnet18")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (the sums' order depends on it)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=str(OUT / "classifier_recipes"))
    args = p.parse_args()
    unknown = [r for r in args.recipes.split(",") if r not in RECIPES]
    if unknown:
        p.error(f"unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(args.data) if args.data else prepared_breastmnist()
    rows = []
    for recipe in args.recipes.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            rows.append(run_one(data, recipe, seed, args))
            print(json.dumps(rows[-1]), flush=True)
    summary = {}
    for recipe in args.recipes.split(","):
        aucs = [r["test_auc"] for r in rows if r["recipe"] == recipe]
        summary[recipe] = {"mean_auc": statistics.mean(aucs), "sd_auc": statistics.stdev(aucs) if len(aucs) > 1
                           else None, "n": len(aucs)}
    print(json.dumps({"data": str(data), "arch": args.arch, "threads": torch.get_num_threads(),
                      "summary": summary}))


if __name__ == "__main__":
    main()
