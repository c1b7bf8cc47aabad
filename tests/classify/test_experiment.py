"""The experiment grid: combinations, a tiny end-to-end grid on BreastMNIST 28, and resuming."""

from __future__ import annotations

import csv
import json

import pytest

from synthmed.classify import experiment
from synthmed.classify.results import read_predictions
from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError


def test_grid_skips_meaningless_combinations() -> None:
    cells = experiment.grid(["real", "synthetic", "mixed"], [0, 25, 50], [1.0, 0.5], ["none"], [1, 2], "cnn")
    # Per seed and fraction: real (ratio 0), synthetic (ratio 100), mixed 25 and 50; mixed 0 is the real run.
    assert len(cells) == 2 * 2 * 4
    assert {(c.source, c.ratio) for c in cells} == {("real", 0), ("synthetic", 100), ("mixed", 25), ("mixed", 50)}
    assert len({c.run_id for c in cells}) == len(cells)
    # Without the real source, mixed at ratio 0 still gives the real-only baseline.
    only_mixed = experiment.grid(["mixed"], [0, 50], [1.0], ["none"], [1], "cnn")
    assert [(c.source, c.ratio) for c in only_mixed] == [("real", 0), ("mixed", 50)]
    with pytest.raises(SynthmedError, match="unknown source"):
        experiment.grid(["fake"], [0], [1.0], ["none"], [1], "cnn")


def test_tiny_grid_runs_end_to_end_and_resumes(breast28: PreparedDataset, breast28_standin: PreparedDataset,
                                               tmp_path, monkeypatch) -> None:
    out = tmp_path / "exp"
    lines: list[str] = []
    kwargs = dict(ratios=[50], sources=["real", "mixed"], seeds=[1, 2], real_fractions=[0.5], arch="cnn", epochs=1,
                  batch_size=64, progress=False, echo=lines.append)
    rows = experiment.run_experiment(str(breast28.root), str(breast28_standin.root), out, **kwargs)
    assert len(rows) == 4 and lines[0].startswith("grid: 4 of 4 runs to do, 1 worker(s)")
    assert len(lines) == 5 and all("AUC" in line and "worker" in line for line in lines[1:])
    mixed = next(r for r in rows if r["source"] == "mixed")
    # Half of 546 real = 273, split 147:399 -> 73.5 + 199.5 -> the tie goes to the first class: 74 + 199.
    # 50 % of 273 = 136.5 -> 137 synthetic, split 74:199 -> 37.13 + 99.87 -> 37 + 100.
    assert (mixed["n_train_real"], mixed["n_train_synthetic"]) == (273, 137)
    config = json.loads((out / mixed["model_dir"] / "config.json").read_text())
    assert config["training_set"]["counts"] == {"real": [74, 199], "synthetic": [37, 100]}
    assert mixed["best_val_auc"] == config["best_val_auc"] and 0 <= mixed["best_val_auc"] <= 1  # for choosing cells
    # Equal steps: the real-only run's 273 images make 5 batches of 64 (the last of 17); the mixed run's 410
    # images would make 7 a pass, but it takes the baseline's 5 too.
    assert sorted((r["source"], r["steps"], r["epoch_steps"]) for r in rows) == [("mixed", 5, 5)] * 2 + [
        ("real", 5, 5)] * 2
    for row in rows:
        assert set(row["metrics"]) >= {"auc", "accuracy", "sensitivity", "specificity", "f1", "threshold"}
        assert row["positive_class"] == 0  # malignant, the minority class
        preds = read_predictions(out / row["predictions"])
        assert preds.scores.shape == (156, 2) and preds.label.tolist() == breast28.labels("test").tolist()
    with open(out / "results.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["run_id"] for r in table] == [r["run_id"] for r in rows]
    jsonl = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert jsonl == rows

    # Re-run: every run is finished, so nothing trains and the table is unchanged.
    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(experiment, "train_classifier", no_training)
    lines.clear()
    again = experiment.run_experiment(str(breast28.root), str(breast28_standin.root), out, **kwargs)
    assert again == rows and all("skipped" in line for line in lines)
    # Other fixed options into the same folder are refused.
    with pytest.raises(SynthmedError, match=r"other options.*epochs"):
        experiment.run_experiment(str(breast28.root), str(breast28_standin.root), out, **{**kwargs, "epochs": 2})


def test_killed_run_leaves_no_row_and_is_redone(breast28: PreparedDataset, tmp_path, monkeypatch) -> None:
    out = tmp_path / "exp"
    calls = {"n": 0}
    real_train = experiment.train_classifier

    def dies_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr(experiment, "train_classifier", dies_once)
    kwargs = dict(sources=["real"], seeds=[3], real_fractions=[0.1], arch="cnn", epochs=1, progress=False,
                  echo=lambda s: None)
    with pytest.raises(KeyboardInterrupt):
        experiment.run_experiment(str(breast28.root), None, out, **kwargs)
    assert not (out / "runs").exists() or not any((out / "runs").iterdir())
    assert not (out / "results.jsonl").exists()
    rows = experiment.run_experiment(str(breast28.root), None, out, **kwargs)
    assert len(rows) == 1 and rows[0]["n_train_real"] == 55 and calls["n"] == 2


def test_impossible_cell_fails_before_any_training(toy_dataset, tmp_path, monkeypatch) -> None:
    real = toy_dataset({"train": [8, 8], "val": [2, 2], "test": [2, 2]}, resolution=16, name="real")
    syn = toy_dataset({"train": [4, 4]}, resolution=16, name="syn")
    monkeypatch.setattr(experiment, "train_classifier", lambda *a, **k: pytest.fail("trained before checking"))
    with pytest.raises(SynthmedError, match="not enough synthetic images"):
        experiment.run_experiment(str(real.root), str(syn.root), tmp_path / "exp", ratios=[25, 100],
                                  sources=["mixed"], arch="cnn", epochs=1, progress=False, echo=lambda s: None)
