"""Two processes under torchrun (gloo on CPU) train one model through DistributedDataParallel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from synthmed.gan.checkpoint import load_checkpoint


def _torchrun() -> str:
    beside = Path(sys.executable).with_name("torchrun")
    found = str(beside) if beside.is_file() else shutil.which("torchrun")
    if not found:
        pytest.skip("torchrun not found")
    return found


@pytest.mark.slow
def test_two_process_torchrun_gloo(toy32, tmp_path) -> None:
    runs = tmp_path / "runs"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [_torchrun(), "--nproc_per_node=2", "--standalone", "-m", "synthmed.cli", "train-gan",
           "--data", str(toy32.root), "--arch", "dcgan", "--aug", "ada", "--out", str(runs), "--width", "8",
           "--z-dim", "16", "--batch", "8", "--kimg", "0.032", "--tick-kimg", "0.016", "--no-progress"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = runs.iterdir()  # one run folder, made by rank 0 only
    options = json.loads((run / "options.json").read_text())
    assert options["world_size"] == 2
    ck, _ = load_checkpoint(run)
    assert ck["nimg"] == 32 and ck["world_size"] == 2
    assert len(ck["rng"]) == 2  # each rank's RNG state, so a 2-process run resumes exactly
    assert not any(a["torch"].equal(b["torch"]) for a, b in [ck["rng"]])  # seeds offset by rank
    stats = [json.loads(ln) for ln in (run / "stats.jsonl").read_text().splitlines()]
    assert [s["kimg"] for s in stats] == [0.016, 0.032]
