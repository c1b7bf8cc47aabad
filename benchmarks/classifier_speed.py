"""Training speed of the classifiers: images per second per architecture and image size, as JSON.

    python benchmarks/classifier_speed.py                       # cnn, resnet18, resnet50 at 28, 64, 128
    python benchmarks/classifier_speed.py --archs cnn --sizes 28 --steps 5

Each cell builds the model as ``synthmed train-classifier`` would (grayscale, 2 classes, the small stem
for ResNets at 64 px or less), runs ``--warmup`` untimed Adam steps on random images, then times
``--steps`` more (forward, cross-entropy, backward, step). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch
from torch import nn

from synthmed.classify.models import build_model, count_parameters, pick_device


def time_training(arch: str, size: int, batch: int, steps: int, warmup: int, device: torch.device) -> dict:
    model = build_model(arch, 1, 2, resolution=size).to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, size, size, device=device).clamp_(-1, 1)
    y = torch.randint(0, 2, (batch,), device=device)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"arch": arch, "size": size, "batch": batch, "steps": steps, "seconds": round(seconds, 3),
            "train_img_per_s": round(batch * steps / seconds, 1), "parameters": count_parameters(model)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", default="cnn,resnet18,resnet50")
    parser.add_argument("--sizes", default="28,64,128")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    torch.manual_seed(0)
    results = [time_training(arch, int(size), args.batch, args.steps, args.warmup, device)
               for arch in args.archs.split(",") for size in args.sizes.split(",")]
    print(json.dumps({"device": str(device), "cpu": platform.processor() or platform.machine(),
                      "torch_threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                      "torch": torch.__version__, "results": results}, indent=2))


if __name__ == "__main__":
    main()
