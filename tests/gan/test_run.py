"""GanRun: the run folder as other stages see it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import synthmed
from synthmed.errors import SynthmedError
from synthmed.gan.run import GanRun
from synthmed.gan.train import train_gan
from tests.gan.helpers import tiny_config


def test_a_trained_run_exposes_checkpoints_stats_grids_and_generator(toy32, tmp_path) -> None:
    run = GanRun.open(train_gan(tiny_config(toy32.root, tmp_path / "runs", "dcgan", kimg=0.032, tick_kimg=0.016,
                                           snapshot_kimg=0.016)))
    assert run.resumable and run.checkpoint("last").name == "last.pt" and run.checkpoint().name == "best.pt"
    assert run.images_seen() == 32
    assert [s["kimg"] for s in run.stats()] == [0.016, 0.032]
    assert [g.name for g in run.grids()] == ["grid-0000.016.png", "grid-0000.032.png"]
    assert run.latest_grid() == run.grids()[-1] and run.reals_grid().is_file()
    assert run.options()["arch"] == "dcgan"
    G, meta = run.generator()
    assert meta["nimg"] == 32 and G(torch.randn(2, meta["z_dim"]), torch.tensor([0, 1])).shape == (2, 1, 32, 32)


def test_latest_resumable_is_the_newest_numbered_run_with_a_last_checkpoint(tmp_path) -> None:
    assert GanRun.latest_resumable(tmp_path / "absent") is None
    for name, has_last in (("00000-a", True), ("00001-b", True), ("00002-c", False), ("notes", True)):
        (tmp_path / name / "checkpoints").mkdir(parents=True)
        if has_last:
            (tmp_path / name / "checkpoints" / "last.pt").write_bytes(b"x")
    assert GanRun.latest_resumable(tmp_path).name == "00001-b"
    empty = GanRun.open(tmp_path / "00002-c")
    assert not empty.resumable and empty.stats() == [] and empty.options() == {} and empty.latest_grid() is None
    assert empty.images_seen() == 0
    with pytest.raises(SynthmedError, match="no checkpoint"):
        empty.checkpoint()
    with pytest.raises(SynthmedError, match="no such GAN run folder"):
        GanRun.open(tmp_path / "nope")


def test_no_module_outside_gan_names_a_gan_run_file() -> None:
    """Other packages and the benchmarks read GAN run folders through GanRun, never by file name."""
    src = Path(synthmed.__file__).parent
    benchmarks = Path(__file__).resolve().parents[2] / "benchmarks"
    files = [p for p in src.rglob("*.py") if p.relative_to(src).parts[0] != "gan"] + sorted(benchmarks.rglob("*.py"))
    assert len(files) > 50 and any(p.name == "imbalance_study.py" for p in files)  # both trees were found
    pattern = re.compile(r"(last|best)\.pt|stats\.jsonl|grid-\*")
    offenders = [f"{p}:{i}" for p in files
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []
