"""The GPU readiness script's CPU part (``--dry-run``): one JSON, an unknown family skipped with a line."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_dry_run_prints_one_json_and_skips_unknown_families() -> None:
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([str(BENCH / "gpu_check.sh"), "--dry-run", "--families", "dcgan,no-such-family",
                           "--amp-families", "dcgan"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["mode"] == "dry-run" and report["ok"] is True
    assert "skip no-such-family: not a registered GAN family" in proc.stderr
    assert report["speed"]["no-such-family"] == {"skipped": "not a registered family"}
    timed = report["speed"]["dcgan"]["cpu_dry_run"]
    assert timed["s_per_kimg"] > 0 and timed["device"] == "cpu"
    check = report["amp"]["dcgan/bfloat16"]
    assert check["ok"] and 0 < check["images_rel_l2"] <= check["tolerance"] and check["grad_cosine"] >= 0.99


def test_amp_check_fails_when_amp_is_off_tolerance(tmp_path, monkeypatch) -> None:
    spec = importlib.util.spec_from_file_location("gpu_check", BENCH / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    monkeypatch.setitem(gpu_check.AMP_TOLERANCE, "bfloat16", 1e-6)  # bf16 cannot match fp32 this closely
    result = gpu_check.amp_versus_fp32("dcgan", torch.bfloat16, "cpu", 32, 8, tmp_path)
    assert result["ok"] is False and result["images_rel_l2"] > 1e-6
