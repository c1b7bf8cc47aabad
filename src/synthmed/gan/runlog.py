"""What a run writes besides checkpoints: the human log, per-tick JSONL stats, TensorBoard, sample grids."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision.utils import make_grid

from synthmed.utils.atomic import atomic_path

try:
    from torch.utils.tensorboard import SummaryWriter
except ImportError:  # tensorboard is a dependency; a broken install must not stop training
    SummaryWriter = None


class RunLog:
    """Appends to ``log.txt`` and ``stats.jsonl`` and writes TensorBoard scalars (rank 0 only)."""

    def __init__(self, run_dir: Path, echo=print) -> None:
        self.run_dir = run_dir
        self.echo = echo
        self._tb = None
        if SummaryWriter is None:
            self.line("tensorboard is not importable: no TensorBoard events for this run")
        else:
            self._tb = SummaryWriter(str(run_dir / "tensorboard"))

    def line(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(self.run_dir / "log.txt", "a", encoding="utf-8") as fh:
            fh.write(f"[{stamp}] {text}\n")
        self.echo(text)

    def stats(self, record: dict[str, Any]) -> None:
        with open(self.run_dir / "stats.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
        if self._tb is not None:
            step = int(record["kimg"] * 1000)
            for key, value in record.items():
                if key != "kimg" and isinstance(value, int | float) and value is not None:
                    self._tb.add_scalar(key, value, step)
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def truncate_stats(run_dir: Path, nimg: int) -> None:
    """On resume, drop stats lines written after the checkpoint we continue from."""
    path = run_dir / "stats.jsonl"
    if not path.is_file():
        return
    keep = [ln for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and json.loads(ln).get("kimg", 0) * 1000 <= nimg + 0.5]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(ln + "\n" for ln in keep), encoding="utf-8")


def grid_inputs(num_classes: int, cols: int, z_dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed latents and labels for sample grids: one row per class (4 rows when unconditional).

    Drawn from their own generator so that sampling a grid never moves the training RNG.
    """
    rows = max(num_classes, 1) if num_classes else 4
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(rows * cols, z_dim, generator=g)
    labels = torch.arange(rows).repeat_interleave(cols) if num_classes else torch.zeros(rows * cols, dtype=torch.long)
    return z, labels


@torch.no_grad()
def sample_grid(G: nn.Module, z: torch.Tensor, labels: torch.Tensor, cols: int, device: torch.device,
                batch: int = 64) -> np.ndarray:
    was_training = G.training
    G.eval()
    parts = [G(z[i:i + batch].to(device), labels[i:i + batch].to(device)).float().cpu()
             for i in range(0, len(z), batch)]
    G.train(was_training)
    return tile(torch.cat(parts), cols)


def tile(images: torch.Tensor, cols: int, pad: int = 2) -> np.ndarray:
    """(N, C, R, R) in [-1, 1] -> one uint8 image (rows of ``cols``) with a dark gap between images."""
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    grid = make_grid(x, nrow=cols, padding=pad, pad_value=0)  # (3 or C, H, W)
    arr = grid.permute(1, 2, 0).numpy()
    return arr[:, :, 0] if images.shape[1] == 1 else arr


def save_png(arr: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")
