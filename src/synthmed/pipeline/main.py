"""``synthmed run``: write the resolved config and seeds, run the stages, put the report at the top."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch

import synthmed
from synthmed.errors import SynthmedError
from synthmed.pipeline.config import ExperimentConfig, to_commented_yaml
from synthmed.pipeline.runner import RunRecord, Stage, execute, format_plan, format_seconds, plan
from synthmed.pipeline.stages import stages_for
from synthmed.report.build import publish
from synthmed.utils.atomic import write_text


def seeds_of(cfg: ExperimentConfig) -> dict:
    return {"gan": cfg.seed, "generate": cfg.seed, "metrics": cfg.seed, "filter": cfg.seed, "real_subsets": cfg.seed,
            "classify": list(cfg.classify.seeds)}


def dry_run_text(cfg: ExperimentConfig, out: Path, stages: list[Stage] | None = None) -> str:
    planned = plan(stages or stages_for(cfg), cfg, out)
    return "\n".join([
        f"run folder: {out}",
        "resolved config:",
        *("  " + line for line in to_commented_yaml(cfg).splitlines() if line and not line.lstrip().startswith("#")),
        "",
        "plan (stage, key, status, folder, options):",
        format_plan(planned),
    ])


def run_pipeline(cfg: ExperimentConfig, out: Path, echo: Callable[[str], None] = print,
                 stages: list[Stage] | None = None) -> Path:
    """Run every stage into ``out``; returns the path of ``out/report.html`` (or ``out`` without a report)."""
    stages = stages or stages_for(cfg)
    _check_device(cfg.device)
    out = out.absolute()  # stage outputs record the paths of their inputs; a resume from elsewhere must match
    # Planning reads the data source (its content is in the prepare key): bad input stops here, before the run
    # folder exists.
    first_plan = plan(stages, cfg, out)
    if out.exists() and not out.is_dir():
        raise SynthmedError(f"{out}: is a file; the run folder must be a folder (give --out another name)")
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "config.yaml", to_commented_yaml(cfg))
    info = {"name": cfg.name, "config": cfg.model_dump(), "seeds": seeds_of(cfg), "environment": _environment(),
            "started_at": _now()}
    RunRecord(**info, plan=[p.entry(out) for p in first_plan]).write(out)
    echo(f"run folder: {out}")
    start = time.monotonic()
    planned = execute(stages, cfg, out, echo=echo)
    total = time.monotonic() - start
    RunRecord(**info, finished_at=_now(), seconds=round(total, 1), plan=[p.entry(out) for p in planned]).write(out)
    report = _publish_report(out, planned)
    echo(f"finished in {format_seconds(total)}" + (f"; report: {report}" if report else ""))
    return report or out


def _check_device(device: str) -> None:
    """Fail before any stage runs, not after the CPU stages, when the config asks for a missing GPU."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SynthmedError(f"device '{device}' asked for (the gpu profile uses cuda) but no CUDA GPU is available; "
                            "use --device cpu or --profile cpu")


def _publish_report(out: Path, planned) -> Path | None:
    """Copy the report stage's files to the top of the run folder, where people look for them."""
    for p in planned:
        if p.name == "report" and p.status in ("cached", "done"):
            return publish(p.folder, out)
    return None


def _environment() -> dict:


    return {"synthmed": getattr(synthmed, "__version__", "unknown"), "python": platform.python_version(),
            "torch": torch.__version__, "platform": platform.platform(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "cuda": torch.cuda.is_available()}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
