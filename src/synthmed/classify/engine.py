"""How the experiment grid's cells are executed: one after another in this process, or as Ray tasks.

Either way this process (the driver) alone writes the output. A cell builds its run folder somewhere
temporary (in this process: a hidden sibling of the final folder; on a Ray worker: that worker's temp
folder, whose files come back as bytes, so workers need the datasets but not the output folder); the
driver moves it into ``runs/<run_id>`` atomically, then calls ``on_done`` (which rewrites the results
tables). A killed driver or worker loses only the cells in flight: finished cells are kept and skipped when
the grid is run again, and Ray itself retries a cell whose worker died (``MAX_RETRIES``).

Each run trains with its own intra-op thread count (``Plan.threads``, recorded in its row): a matrix
product's float sums depend on it, so the same seed and thread count give the same result on any worker,
and ``workers x threads`` stays within the cores, so parallel runs do not oversubscribe them.

Ray (not a scheduler of ours) because it is what workstations, GPU nodes and clusters already run:
``--ray-address`` joins a cluster started with ``ray start --head`` / ``ray start --address``.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from synthmed.errors import SynthmedError
from synthmed.utils.atomic import atomic_dir
from synthmed.utils.threads import intra_op_threads, usable_cores

# Small classifiers leave a GPU mostly idle; this many runs share one (each asks Ray for 1/N of a GPU).
RUNS_PER_GPU = 4
MAX_RETRIES = 2  # Ray re-runs a cell whose worker process or node died, this many times
# Local Ray instance: results travel through its object store; one run's files are a few MB (ResNet-18: 45).
LOCAL_OBJECT_STORE_BYTES = 1 << 30


@dataclass(frozen=True)
class Job:
    """One grid cell to run: ``build(folder)`` trains and evaluates into ``folder`` and returns the run's row."""

    run_id: str
    label: str
    build: Callable[[Path], dict[str, Any]]


@dataclass(frozen=True)
class Plan:
    """How many runs at once, with how many threads and how much of a GPU each, and where."""

    workers: int
    threads: int
    gpus_per_run: float = 0.0
    address: str | None = None  # a Ray cluster to join; None: this machine

    @property
    def uses_ray(self) -> bool:
        return self.workers > 1 or self.address is not None

    def describe(self) -> str:
        where = f"Ray cluster {self.address}" if self.address else ("local Ray" if self.uses_ray else "in-process")
        gpu = f", {self.gpus_per_run:g} GPU" if self.gpus_per_run else ""
        return f"{self.workers} worker(s) x {self.threads} thread(s){gpu} per run ({where})"


def parse_workers(value: str | int | None) -> int | None:
    """``--workers``: a positive integer, or ``auto`` (None: sized from the machine)."""
    if value is None or str(value).strip().lower() == "auto":
        return None
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise SynthmedError(f"--workers must be a positive integer or 'auto', got '{value}'")
    return int(text)


def plan_local(workers: int | None, threads: int | None, device: str = "auto") -> Plan:
    """Size the runs for this machine: ``workers x threads <= cores``; on a GPU, ``RUNS_PER_GPU`` runs per GPU.

    Defaults: ``workers=1`` keeps today's path (one run after another here, at torch's thread count);
    ``workers=None`` (auto) runs one-thread runs on every core (CPU) or packs the GPUs.
    """
    cores = usable_cores()
    if threads is not None and threads < 1:
        raise SynthmedError(f"--threads must be >= 1, got {threads}")
    gpus = torch.cuda.device_count() if device.startswith(("auto", "cuda")) and torch.cuda.is_available() else 0
    per_gpu = 1.0 / RUNS_PER_GPU if gpus else 0.0
    if workers == 1:
        return Plan(1, threads or torch.get_num_threads(), per_gpu)
    if workers is None:
        if gpus:
            threads = threads or max(1, min(4, cores // (gpus * RUNS_PER_GPU)))
            workers = max(1, min(gpus * RUNS_PER_GPU, cores // threads))
        else:
            threads = threads or 1
            workers = max(1, cores // threads)
    threads = threads or max(1, cores // workers)
    if workers * threads > cores:
        raise SynthmedError(f"--workers {workers} x --threads {threads} = {workers * threads} threads, more than "
                            f"this machine's {cores} cores (runs would slow each other down)")
    if gpus and workers * per_gpu > gpus:
        per_gpu = gpus / workers
    return Plan(workers, threads, per_gpu)


def plan_cluster(address: str, workers: int | None, threads: int | None, device: str = "auto") -> Plan:
    """Join the Ray cluster at ``address``; size the runs from its CPUs and GPUs."""
    ray = _ray()
    threads = threads or 1
    _init_ray(ray, address=address)
    try:
        resources = ray.cluster_resources()
    finally:
        ray.shutdown()  # run_cells connects again (and disconnects when done)
    cpus, gpus = int(resources.get("CPU", 0)), int(resources.get("GPU", 0))
    if device == "cpu":
        gpus = 0
    if cpus < threads:
        raise SynthmedError(f"Ray cluster {address}: {cpus} CPU(s), fewer than --threads {threads}")
    per_gpu = 1.0 / RUNS_PER_GPU if gpus else 0.0
    most = cpus // threads if not gpus else min(cpus // threads, gpus * RUNS_PER_GPU)
    return Plan(workers or max(1, most), threads, per_gpu, address)


def run_cells(jobs: Sequence[Job], runs_dir: Path, plan: Plan, on_done: Callable[[Job, dict, str], None],
              *, total: int | None = None, progress: bool = True) -> None:
    """Run every job, writing ``runs_dir/<run_id>`` as each finishes; then ``on_done(job, row, worker)``.

    One progress bar for the grid (runs done / total, with its ETA); ``total`` counts jobs finished
    before as well, so a resumed grid's bar starts where the last one stopped.
    """
    if not jobs:  # everything finished before: no Ray to start
        return
    total = total if total is not None else len(jobs)
    bar = tqdm(total=total, initial=total - len(jobs), unit="run", desc="grid", disable=not progress,
               dynamic_ncols=True)
    try:
        if plan.uses_ray:
            _run_on_ray(jobs, runs_dir, plan, on_done, bar)
        else:
            _run_here(jobs, runs_dir, plan, on_done, bar)
    finally:
        bar.close()


def _run_here(jobs: Sequence[Job], runs_dir: Path, plan: Plan, on_done, bar) -> None:
    worker = f"{socket.gethostname()}:{os.getpid()}"
    for job in jobs:
        with atomic_dir(runs_dir / job.run_id) as tmp, intra_op_threads(plan.threads):
            row = job.build(tmp)
        bar.update()
        with tqdm.external_write_mode():  # log lines above the bar, not through it
            on_done(job, row, worker)


def _run_on_ray(jobs: Sequence[Job], runs_dir: Path, plan: Plan, on_done, bar) -> None:
    """Keep ``plan.workers`` jobs in flight; write each result as it arrives, in finishing order."""
    ray = _ray()
    started_here = not ray.is_initialized()
    if started_here:
        local = plan.address is None
        _init_ray(ray, address=plan.address, num_cpus=plan.workers * plan.threads if local else None,
                  num_gpus=(_local_gpus() if plan.gpus_per_run else 0) if local else None)
    task = ray.remote(num_cpus=plan.threads, num_gpus=plan.gpus_per_run, max_retries=MAX_RETRIES)(build_on_worker)
    queue, pending = list(jobs), {}
    try:
        while queue or pending:
            while queue and len(pending) < plan.workers:
                job = queue.pop(0)
                pending[task.remote(job.build, plan.threads)] = job
            [ready], _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ready)
            result = _get(ray, ready, job)
            with atomic_dir(runs_dir / job.run_id) as tmp:
                _unpack(result["files"], tmp)
            bar.update()
            with tqdm.external_write_mode():
                on_done(job, result["row"], result["worker"])
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started_here:
            ray.shutdown()


def build_on_worker(build: Callable[[Path], dict[str, Any]], threads: int) -> dict[str, Any]:
    """On a Ray worker: build the run in a temporary folder and send back its row and files."""
    with tempfile.TemporaryDirectory(prefix="synthmed-run-") as folder, intra_op_threads(threads):
        row = build(Path(folder))
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}
    return {"row": row, "files": files, "worker": f"{socket.gethostname()}:{os.getpid()}"}


def _unpack(files: dict[str, bytes], folder: Path) -> None:
    for rel, data in files.items():
        path = folder / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise SynthmedError(f"a worker sent a file outside its run folder: {rel}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _get(ray: Any, ref: Any, job: Job) -> dict[str, Any]:
    """The job's result; a project error raised on a worker is raised here as itself (one line, no traceback)."""
    from ray.exceptions import RayError, RayTaskError  # lazy: Ray only runs more than one worker (see _ray)

    try:
        return ray.get(ref)
    except RayTaskError as exc:
        if isinstance(exc.cause, SynthmedError):
            raise exc.cause from None
        raise
    except RayError as exc:  # the worker or node died more often than MAX_RETRIES
        raise SynthmedError(f"{job.label}: the Ray worker failed ({type(exc).__name__}: {exc})") from None


def _local_gpus() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _ray() -> Any:
    try:  # lazy: one worker (the default) runs without Ray, and a missing Ray gets the hint below
        import ray
    except ImportError:
        raise SynthmedError("more than one worker needs Ray: pip install 'ray>=2.40' (or use --workers 1)") from None
    return ray


def _init_ray(ray: Any, address: str | None, num_cpus: int | None = None, num_gpus: int | None = None) -> None:
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                              "log_to_driver": True, "configure_logging": True}
    if address:
        kwargs["address"] = address
    else:  # "local": always a new instance of our own, never a cluster some earlier `ray start` left behind
        kwargs |= {"address": "local", "num_cpus": num_cpus, "num_gpus": num_gpus,
                   "object_store_memory": LOCAL_OBJECT_STORE_BYTES}
        # Ray turns token authentication on for a new local instance (good) and says so in a warning amid the
        # user's progress lines (noise: nothing to do about it); its logger is told to keep that one to itself.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    started = time.perf_counter()
    try:
        ray.init(**kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise SynthmedError(f"cannot start or join Ray{f' at {address}' if address else ''}: {exc}") from None
    logging.getLogger(__name__).info("Ray ready in %.1f s", time.perf_counter() - started)
