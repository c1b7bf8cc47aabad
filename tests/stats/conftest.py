"""Fake experiment folders (results.jsonl + prediction CSVs) with simulated classifier scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def simulate_probabilities(labels: np.ndarray, separation: float, case_effect: np.ndarray,
                           rng: np.random.Generator) -> np.ndarray:
    """Positive-class probabilities from a binormal model; ``case_effect`` makes runs on the same images correlate."""
    logit = separation * (labels - 0.5) + case_effect + rng.normal(0.0, 0.7, size=labels.size)
    return 1.0 / (1.0 + np.exp(-logit))


def write_predictions(path: Path, index: np.ndarray, positive: np.ndarray, p_pos: np.ndarray,
                      threshold: float = 0.5, positive_class: int = 1) -> None:
    """CSV as synthmed.classify writes it; ``positive`` (0/1) says whether the image is of ``positive_class``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    called = p_pos >= threshold
    label = np.where(positive == 1, positive_class, 1 - positive_class)
    pred = np.where(called, positive_class, 1 - positive_class)
    score = np.stack([1 - p_pos, p_pos] if positive_class == 1 else [p_pos, 1 - p_pos], axis=1)
    lines = ["index,label,pred,score_0,score_1"]
    lines += [f"{i},{y},{q},{s[0]:.8f},{s[1]:.8f}" for i, y, q, s in zip(index, label, pred, score, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def write_experiment(folder: Path, runs: list[dict], n_pos: int = 40, n_neg: int = 80, seed: int = 0,
                     positive_class: int = 1) -> Path:
    """Write one row + predictions CSV per run dict (source, ratio, real_fraction, augment, arch, seed, separation;
    ``same_as``: reuse the predictions of an earlier run).

    Runs with the same ``seed`` share a per-seed nuisance on top of the per-image effect, as models trained
    with the same seed would; rows are written in a shuffled image order to exercise alignment by index.
    """
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    case_effect = rng.normal(0.0, 1.0, size=labels.size)
    rows = []
    for i, run in enumerate(runs):
        run_rng = np.random.default_rng([seed, i])
        p = simulate_probabilities(labels, run.get("separation", 2.0), case_effect, run_rng)
        order = run_rng.permutation(labels.size)
        rel = Path("runs") / f"run{i:03d}" / "predictions.csv"
        if "same_as" in run:  # the very predictions of an earlier run (an identical model)
            rel = Path(rows[run["same_as"]]["predictions"])
        else:
            write_predictions(folder / rel, order, labels[order], p[order], positive_class=positive_class)
        rows.append({"run_id": f"run{i:03d}", "source": run.get("source", "real"), "ratio": run.get("ratio", 0),
                     "real_fraction": run.get("real_fraction", 1.0), "augment": run.get("augment", "none"),
                     "seed": run.get("seed", 0), "arch": run.get("arch", "resnet18"),
                     "metrics": {"auc": None, "threshold": 0.5}, "predictions": str(rel),
                     "positive_class": positive_class, "model_dir": f"runs/run{i:03d}"})
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture
def fake_experiment(tmp_path: Path):
    """Factory: ``fake_experiment(runs, n_pos=40, n_neg=80, seed=0, name="exp", positive_class=1) -> folder``."""

    def make(runs: list[dict], n_pos: int = 40, n_neg: int = 80, seed: int = 0, name: str = "exp",
             positive_class: int = 1) -> Path:
        return write_experiment(tmp_path / name, runs, n_pos, n_neg, seed, positive_class)

    return make
