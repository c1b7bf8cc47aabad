"""The CUDA paths (marked ``cuda``; skipped without a GPU; ``benchmarks/gpu_check.sh`` runs them on one):
AMP in bf16 and in fp16 with its grad scaler, a CUDA checkpoint generating on the CPU, DDP over NCCL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synthmed.cli import main

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _trainer(data: Path, arch: str, out: Path):
    from synthmed.gan import distributed as gdist
    from synthmed.gan.train import TrainConfig, Trainer, plan_run

    cfg = TrainConfig(data=str(data), arch=arch, out=str(out), batch=8, kimg=1.0, width=16, device="cuda",
                      progress=False)
    plan = plan_run(cfg)
    plan.run_dir = out / "run"
    return Trainer(plan, gdist.Dist(), torch.device("cuda"), None)


@pytest.mark.parametrize("arch", ["dcgan", "stylegan2"])
@pytest.mark.parametrize("bf16", [True, False])
def test_amp_iterations_stay_finite(toy32, tmp_path, monkeypatch, arch: str, bf16: bool) -> None:
    if not bf16:  # the fp16 path (older GPUs): autocast in fp16 with a grad scaler per network
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    elif not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    trainer = _trainer(toy32.root, arch, tmp_path)
    assert trainer.amp_dtype == (torch.bfloat16 if bf16 else torch.float16)
    assert trainer.scaler_G.is_enabled() == (not bf16) and trainer.memory_format == torch.channels_last
    for _ in range(4):
        trainer._iteration()
    for net in (trainer.G, trainer.D, trainer.G_ema):
        assert all(torch.isfinite(p).all() for p in net.parameters())
    if not bf16:
        assert trainer.scaler_G.get_scale() > 0 and trainer.scaler_D.get_scale() > 0


def test_cuda_checkpoint_generates_the_same_images_on_the_cpu(toy32, tmp_path) -> None:
    runs = tmp_path / "runs"
    with pytest.raises(SystemExit) as done:
        main(["train-gan", "--data", str(toy32.root), "--arch", "dcgan", "--out", str(runs), "--width", "8",
              "--batch", "8", "--kimg", "0.032", "--device", "cuda", "--no-progress"])
    assert done.value.code in (0, None)
    (run,) = runs.iterdir()
    images = {}
    for device in ("cuda", "cpu"):
        with pytest.raises(SystemExit) as done:
            main(["generate", "--checkpoint", str(run), "--out", str(tmp_path / device), "--per-class", "4",
                  "--device", device])
        assert done.value.code in (0, None)
        from synthmed.dataset import PreparedDataset

        images[device] = PreparedDataset.open(tmp_path / device).load_images("train").astype(int)
    # fp32 on both (generation uses no AMP); cuDNN and CPU kernels may differ in the last bit before rounding
    assert np.abs(images["cuda"] - images["cpu"]).max() <= 2


def test_ddp_over_nccl_in_one_process(toy32, tmp_path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    found = str(torchrun) if torchrun.is_file() else shutil.which("torchrun")
    if not found:
        pytest.skip("torchrun not found")
    runs = tmp_path / "runs"
    cmd = [found, "--nproc_per_node=1", "--standalone", "-m", "synthmed.cli", "train-gan", "--data",
           str(toy32.root), "--arch", "dcgan", "--out", str(runs), "--width", "8", "--batch", "8", "--kimg",
           "0.032", "--device", "cuda", "--no-progress"]
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = runs.iterdir()
    assert (run / "checkpoints" / "last.pt").is_file()
