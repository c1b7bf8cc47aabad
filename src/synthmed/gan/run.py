"""A GAN run folder as an object: what ``train_gan`` wrote, for the stages that read it (pipeline, report, generate).

Layout (owned by this package; other packages go through :class:`GanRun`): ``options.json`` (resolved options),
``stats.jsonl`` (one record per tick), ``log.txt``, ``grids/grid-<kimg>.png`` and ``grids/reals.png``,
``checkpoints/{last,best,ckpt-<nimg>}.pt``, ``tensorboard/``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthmed.errors import SynthmedError
from synthmed.gan.checkpoint import load_checkpoint, load_generator, resolve_checkpoint

_NUMBERED = re.compile(r"^\d{5}-")
# utils.atomic's temp files (".<target name>.<random>.tmp") of the files a run writes, by folder.
_TEMP = {".": re.compile(r"^\.(options\.json|stats\.jsonl)\.[A-Za-z0-9_]+\.tmp$"),
         "checkpoints": re.compile(r"^\.(last|best|ckpt-\d{10})\.pt\.[A-Za-z0-9_]+\.tmp$"),
         "grids": re.compile(r"^\.(reals|grid-[\d.]+)\.png\.[A-Za-z0-9_]+\.tmp$")}


@dataclass(frozen=True)
class GanRun:
    path: Path

    @classmethod
    def open(cls, path: str | Path) -> GanRun:
        p = Path(path)
        if not p.is_dir():
            raise SynthmedError(f"{p}: no such GAN run folder (made by 'synthmed train-gan')")
        return cls(p)

    @classmethod
    def latest_resumable(cls, parent: str | Path) -> GanRun | None:
        """The newest numbered run under ``parent`` that has a checkpoint to continue from (a killed run)."""
        root = Path(parent)
        if not root.is_dir():
            return None
        runs = sorted(p for p in root.iterdir() if p.is_dir() and _NUMBERED.match(p.name))
        resumable = [cls(p) for p in runs if cls(p).resumable]
        return resumable[-1] if resumable else None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def resumable(self) -> bool:
        return (self.checkpoint_dir / "last.pt").is_file()

    def images_seen(self) -> int:
        """Real images D had seen at the last checkpoint (0 before the first): how far a resume starts."""
        if not self.resumable:
            return 0
        return int(load_checkpoint(self.path, prefer="last")[0]["nimg"])

    def checkpoint(self, prefer: str = "best") -> Path:
        """``best.pt`` (or ``last.pt`` with ``prefer="last"``), falling back to the other; an error if neither."""
        return resolve_checkpoint(self.path, prefer)

    def options(self) -> dict[str, Any]:
        """The resolved options the run was trained with ({} before the run wrote them)."""
        file = self.path / "options.json"
        return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}

    def stats(self) -> list[dict[str, Any]]:
        """The per-tick records ([] before the first tick)."""
        file = self.path / "stats.jsonl"
        if not file.is_file():
            return []
        return [json.loads(ln) for ln in file.read_text(encoding="utf-8").splitlines() if ln.strip()]

    def grids(self) -> list[Path]:
        """The sample grids of G_ema, oldest first (``reals.png`` excluded)."""
        folder = self.path / "grids"
        return sorted(folder.glob("grid-*.png")) if folder.is_dir() else []

    def latest_grid(self) -> Path | None:
        grids = self.grids()
        return grids[-1] if grids else None

    def reals_grid(self) -> Path | None:
        file = self.path / "grids" / "reals.png"
        return file if file.is_file() else None

    def remove_stale_temp_files(self, before: float) -> list[Path]:
        """Delete the temp files of this run's own atomic writes (checkpoints, grids, options, stats) last changed
        before ``before`` (a Unix time: the start of the process that now owns the run), which only a killed
        process leaves; return what was removed. Anything else, or newer, is left alone."""
        removed = []
        for folder, pattern in _TEMP.items():
            where = self.path / folder
            if not where.is_dir():
                continue
            for p in sorted(where.iterdir()):
                if pattern.match(p.name) and p.is_file() and p.stat().st_mtime < before:
                    p.unlink()
                    removed.append(p)
        return removed

    def generator(self, device: str = "cpu", prefer: str = "best"):
        """(G_ema in eval mode, meta) of the chosen checkpoint (see ``checkpoint.load_generator``)."""
        return load_generator(self.checkpoint(prefer), device=device)
