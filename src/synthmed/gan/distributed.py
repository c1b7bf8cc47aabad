"""torchrun / DistributedDataParallel plumbing (the launcher is torchrun itself, never our own).

``torchrun --nproc_per_node=K -m synthmed.cli train-gan ...`` sets RANK / WORLD_SIZE / LOCAL_RANK;
we join the process group with NCCL on CUDA and gloo on CPU. Without those variables everything
runs in one process and these helpers are no-ops.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we initialised it, so we tear it down

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
        owns = True
    return Dist(rank=dist.get_rank(), world_size=dist.get_world_size(),
                local_rank=int(os.environ.get("LOCAL_RANK", "0")), owns_group=owns)


def shutdown(d: Dist) -> None:
    """Tear the group down once every rank is done with it. Only on success: after an error another rank may sit in
    a collective, and tearing down under it hangs (torchrun stops the ranks instead). The barrier first: a rank that
    destroys the group while the other still runs its last gloo work can abort at exit."""
    if d.owns_group and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap(module: nn.Module, d: Dist, device: torch.device) -> nn.Module:
    if not d.enabled:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def no_sync(module: nn.Module, sync: bool):
    """Skip DDP's gradient all-reduce for all but the last backward of an accumulated update."""
    if sync or not isinstance(module, nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext()
    return module.no_sync()


def broadcast_object(obj: Any, d: Dist) -> Any:
    if not d.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any, d: Dist) -> list[Any]:
    if not d.enabled:
        return [obj]
    out: list[Any] = [None] * d.world_size
    dist.all_gather_object(out, obj)
    return out


def any_rank(flag: bool, d: Dist, device: torch.device) -> bool:
    """True when ``flag`` is set on any rank (so every rank stops at the same step after Ctrl-C)."""
    if not d.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def mean_over_ranks(values: list[float], d: Dist, device: torch.device) -> list[float]:
    if not d.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / d.world_size).tolist()


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()
