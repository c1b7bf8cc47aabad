"""The compute budget (images per classifier run): fewer steps per epoch on a large set, nothing cut on a small one."""

from __future__ import annotations

import pytest

from synthmed.classify import experiment
from synthmed.classify.experiment import RunOptions, _spec, capped_epoch_steps, epoch_steps_of
from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.pipeline.config import CPU_IMAGES_PER_RUN, build_config
from synthmed.pipeline.stages import budget_notes


def test_capped_steps_by_hand() -> None:
    assert capped_epoch_steps(4608, 8, 64) == 9  # 8 x 9 x 64 = 4608 exactly
    assert capped_epoch_steps(4607, 8, 64) == 8  # never more images than the budget
    assert capped_epoch_steps(10, 8, 64) == 1  # at least one step an epoch
    assert build_config({}, "cpu").classify.images_per_run == CPU_IMAGES_PER_RUN == 4608
    assert build_config({}, "gpu").classify.images_per_run is None


def test_budget_caps_both_budgets(breast28: PreparedDataset, breast28_standin: PreparedDataset) -> None:
    real, syn = str(breast28.root), str(breast28_standin.root)
    full = RunOptions("real", 0.0, 1.0, "none", 1, "cnn")
    mixed = RunOptions("mixed", 100.0, 1.0, "none", 1, "cnn")
    spec = _spec(mixed, real, syn, "stratified", None)
    # 546 real images in batches of 64: 8 full batches + 34 = 9 steps a pass; the mixed set (1,092): 17 + 4 = 18.
    assert epoch_steps_of(real, full, spec, "steps", 8, 64, None, None) == 9
    assert epoch_steps_of(real, mixed, spec, "steps", 8, 64, None, CPU_IMAGES_PER_RUN) == 9  # BreastMNIST: no cut
    assert epoch_steps_of(real, mixed, spec, "steps", 8, 64, None, 2048) == 4  # 2048 // (8 x 64)
    assert epoch_steps_of(real, mixed, spec, "epochs", 8, 64, None, None) is None  # a pass over its own set
    assert epoch_steps_of(real, mixed, spec, "epochs", 8, 64, None, 100_000) == 18
    assert epoch_steps_of(real, mixed, spec, "epochs", 8, 64, None, 2048) == 4


def test_grid_rows_take_the_capped_steps(breast28: PreparedDataset, tmp_path) -> None:
    # 10 % of 546 = 55 images: 2 batches of 32 a pass; a budget of 40 images at 1 epoch leaves 1 step.
    rows = experiment.run_experiment(str(breast28.root), None, tmp_path / "exp", sources=["real"], seeds=[1],
                                     real_fractions=[0.1], arch="cnn", epochs=1, batch_size=32, images_per_run=40,
                                     progress=False, echo=lambda s: None)
    assert [(r["steps"], r["epoch_steps"]) for r in rows] == [(1, 1)]
    with pytest.raises(SynthmedError, match=r"other options.*images_per_run"):
        experiment.run_experiment(str(breast28.root), None, tmp_path / "exp", sources=["real"], seeds=[1],
                                  real_fractions=[0.1], arch="cnn", epochs=1, batch_size=32, images_per_run=64,
                                  progress=False, echo=lambda s: None)


def test_report_notes_say_what_was_cut(toy_dataset) -> None:
    real = toy_dataset({"train": [300, 100], "val": [4, 4], "test": [4, 4]}, resolution=16)
    cfg = build_config({"classify": {"images_per_run": 1024, "real_fractions": [1.0, 0.25]}}, "cpu")
    # 400 images: 6 batches of 64 + 16 = 7 steps; the budget allows 1024 // (8 x 64) = 2. The 0.25 subset
    # (100 images) takes 2 steps a pass anyway: not cut, not mentioned.
    notes = budget_notes(cfg, real)
    assert len(notes) == 1
    assert "real fraction 1 (400 images)" in notes[0] and "8 epochs of 2 batches of 64 instead of 7" in notes[0]
    assert budget_notes(build_config({}, "cpu"), real) == []  # within the default budget: nothing cut
