"""Intra-op threads: every training run sets its own count, so parallel runs never oversubscribe the cores.

The count also enters the results: the order of float sums in a matrix product depends on it, so two runs
with the same seed give identical numbers only at the same thread count. Runs record it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch


def usable_cores() -> int:
    """CPU cores this process may run on (the affinity mask, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def intra_op_threads(n: int) -> Iterator[int]:
    """Run the block with ``n`` torch intra-op threads; restore the previous count afterwards."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)
