"""Numbered run folders (``RUNS/00003-stylegan2-breastmnist64/``), as in stylegan2-ada-pytorch."""

from __future__ import annotations

import re
from pathlib import Path


def next_run_dir(runs_root: str | Path, desc: str) -> Path:
    """Create and return the next numbered run folder under ``runs_root``."""
    root = Path(runs_root)
    root.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"^(\d{5})-", p.name))]
    number = max(numbers, default=-1) + 1
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", desc).strip("-") or "run"
    run_dir = root / f"{number:05d}-{safe}"
    run_dir.mkdir()
    return run_dir
