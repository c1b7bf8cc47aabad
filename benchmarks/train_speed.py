"""Training speed of each GAN architecture at 32/64/128 on the current device (a benchmark, not a test).

Prints one JSON object: for each arch and resolution, images per second shown to D (after warm-up
iterations) and peak memory (CUDA: max allocated; CPU: the process's max RSS so far). Runs the real
training iteration (``Trainer._iteration``) on a small synthetic prepared dataset in a temporary folder.

    python benchmarks/train_speed.py                       # defaults: paper-size nets, batch 32
    python benchmarks/train_speed.py --width 16 --iters 3  # a quick look on a small CPU
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from synthmed.dataset import DatasetWriter
from synthmed.gan import distributed as gdist
from synthmed.gan.train import TrainConfig, Trainer, pick_device, plan_run


def synthetic_dataset(root: Path, resolution: int, channels: int, n: int = 64) -> Path:
    rng = np.random.default_rng(0)
    out = root / f"data{resolution}"
    if out.exists():
        return out
    with DatasetWriter(out, ["a", "b"], resolution, channels) as w:
        for i in range(n):
            shape = (resolution, resolution) if channels == 1 else (resolution, resolution, channels)
            w.add(rng.integers(0, 256, shape, dtype=np.uint8), i % 2, "train")
        w.finish(source={"type": "benchmark-noise"}, preprocessing={})
    return out


def measure(arch: str, resolution: int, args: argparse.Namespace, root: Path) -> dict:
    data = synthetic_dataset(root, resolution, args.channels)
    cfg = TrainConfig(data=str(data), arch=arch, out=str(root / "runs"), batch=args.batch, kimg=1e6,
                      width=args.width, aug=args.aug, ada_ops=args.ada_ops, compile=args.compile, device=args.device,
                      progress=False, critic_norm=args.critic_norm if arch == "wgan-gp" else None)
    plan = plan_run(cfg)
    plan.run_dir = Path(tempfile.mkdtemp(prefix=f"run-{arch}-{resolution}-", dir=root))
    device = pick_device(cfg.device)
    trainer = Trainer(plan, gdist.Dist(), device, None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(args.warmup):
        trainer._iteration()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start_nimg, t0 = trainer.nimg, time.perf_counter()
    for _ in range(args.iters):
        trainer._iteration()
    sync()
    dt = time.perf_counter() - t0
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"arch": arch, "resolution": resolution, "img_per_sec": (trainer.nimg - start_nimg) / dt,
            "sec_per_iter": dt / args.iters, "peak_mem_mib": peak, "amp_dtype": str(trainer.amp_dtype)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", default="dcgan,wgan-gp,stylegan2")
    p.add_argument("--resolutions", default="32,64,128")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--width", type=int, default=None, help="network width (default: each arch's default)")
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--aug", default="none")
    p.add_argument("--ada-ops", default="default", help="ADA ops or preset with --aug ada (e.g. bgc)")
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--critic-norm", default=None, help="WGAN-GP critic normalisation (default: the trainer's)")
    args = p.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.archs.split(","):
            for res in map(int, args.resolutions.split(",")):
                results.append(measure(arch, res, args, Path(tmp)))
                print(json.dumps(results[-1]), file=sys.stderr)
    device = pick_device(args.device)
    print(json.dumps({"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
                      or "cpu", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "batch": args.batch, "width": args.width, "aug": args.aug,
                      **({"ada_ops": args.ada_ops} if args.aug == "ada" else {}), "results": results}, indent=2))


if __name__ == "__main__":
    main()
