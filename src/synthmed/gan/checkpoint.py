"""GAN checkpoints: one state dict per snapshot, written atomically, loadable with ``weights_only``.

A checkpoint holds G, D, G_ema, both optimizers, the AMP scaler, ADA's state, images seen, the
RNG states of every rank and the resolved config, so ``--resume`` continues exactly. RNG states are
stored as tensors and plain Python values (numpy's state array is converted) so that
``torch.load(weights_only=True)`` can read them: loading a checkpoint never runs pickled code.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from synthmed.errors import BadInputError, SynthmedError
from synthmed.gan.networks import build_networks
from synthmed.utils.atomic import atomic_path
from synthmed.utils.device import pick_device
from synthmed.utils.hashing import sha256_file
from synthmed.utils.torchfile import load_weights, torch_save

FORMAT = "synthmed-gan-checkpoint"
CKPT_RE = re.compile(r"^ckpt-(\d{10})\.pt$")


# -- RNG states ----------------------------------------------------------------------------------
def capture_rng() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- files ---------------------------------------------------------------------------------------
def ckpt_name(nimg: int) -> str:
    return f"ckpt-{nimg:010d}.pt"


def save_checkpoint(state: dict[str, Any], ckpt_dir: Path, keep_last: int, is_best: bool) -> Path:
    """Write ``ckpt-<nimg>.pt`` and ``last.pt`` (and ``best.pt``), each atomically; prune old numbered ones."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    path = ckpt_dir / ckpt_name(int(state["nimg"]))
    torch_save({"format": FORMAT, **state}, path)
    _atomic_copy(path, ckpt_dir / "last.pt")
    if is_best:
        _atomic_copy(path, ckpt_dir / "best.pt")
    numbered = sorted(p for p in ckpt_dir.iterdir() if CKPT_RE.match(p.name))
    for old in numbered[: max(0, len(numbered) - keep_last)]:
        old.unlink()
    return path


def _atomic_copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def resolve_checkpoint(path: str | Path, prefer: str = "best") -> Path:
    """A run folder -> its ``checkpoints/best.pt`` (or ``last.pt``); a file -> itself."""
    p = Path(path)
    if p.is_file():
        return p
    if not p.exists():
        raise SynthmedError(f"{p}: no such checkpoint file or run folder")
    folder = p / "checkpoints" if (p / "checkpoints").is_dir() else p
    # A kill while last.pt was copied (the first one, or after a pruned folder) leaves ckpt-<nimg>.pt without it:
    # each numbered file is renamed into place complete (torch_save is atomic), so the newest is where the run
    # stood, and a resume continues from it rather than from an older best.pt.
    numbered = sorted((q for q in folder.iterdir() if CKPT_RE.match(q.name)), reverse=True) if folder.is_dir() else []
    newest = numbered[:1]
    order = [folder / "best.pt", folder / "last.pt", *newest] if prefer == "best" else \
        [folder / "last.pt", *newest, folder / "best.pt"]
    for candidate in order:
        if candidate.is_file():
            return candidate
    raise SynthmedError(f"{p}: no checkpoint found (expected checkpoints/last.pt or ckpt-*.pt in a "
                        "'synthmed train-gan' run folder)")


def load_checkpoint(path: str | Path, prefer: str = "best") -> tuple[dict[str, Any], Path]:
    """Read a checkpoint; anything unreadable or foreign is a one-line ``BadInputError``."""
    file = resolve_checkpoint(path, prefer)
    ck = load_weights(file, "synthmed GAN checkpoint")
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise BadInputError(file, "not a synthmed GAN checkpoint")
    return ck, file


def _state_mismatch(own: dict[str, torch.Tensor], saved: dict[str, Any]) -> str | None:
    """Why ``saved`` cannot load into a module whose state dict is ``own`` (None: it can), in one line; torch's
    own error is a multi-line list of every tensor."""
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    shapes = [k for k in own if k in saved
              and (not isinstance(saved[k], torch.Tensor) or saved[k].shape != own[k].shape)]
    if not (missing or unexpected or shapes):
        return None
    parts = [f"{len(v)} {what} (first {v[0]})" for v, what in ((missing, "missing"), (unexpected, "unexpected"))
             if v]
    if shapes:
        k = shapes[0]
        got = tuple(saved[k].shape) if isinstance(saved[k], torch.Tensor) else type(saved[k]).__name__
        parts.append(f"{len(shapes)} of another shape (first {k}: {got}, expected {tuple(own[k].shape)})")
    return "; ".join(parts)


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The EMA generator of a run folder (its best checkpoint) or of a checkpoint file, in eval mode.

    ``meta``: classes, resolution, channels, z_dim, arch, cond, train_counts (real train images per
    class), data_resolution, checkpoint_path, checkpoint_sha256, nimg.
    """
    if isinstance(device, str):
        device = pick_device(device)  # 'cuda' without CUDA, 'gpu': one line, before anything is read
    ck, file = load_checkpoint(path)
    meta = dict(ck.get("meta") or {})
    try:
        G, _ = build_networks(meta["arch"], meta["resolution"], meta["channels"], len(meta["classes"]),
                              meta["cond"], **dict(meta["net_kwargs"]))
    except (SynthmedError, KeyError, TypeError, ValueError) as exc:  # meta no family can build
        raise BadInputError(file, f"its recorded network cannot be built ({type(exc).__name__}: {exc})") from None
    weights = ck.get("G_ema")
    mismatch = _state_mismatch(G.state_dict(), weights) if isinstance(weights, dict) else "no G_ema weights"
    if mismatch:
        raise BadInputError(file, f"the weights do not match the network it records ({meta['arch']}, "
                                  f"{meta['resolution']} px, {dict(meta['net_kwargs']) or 'default options'}): "
                                  f"{mismatch}")
    G.load_state_dict(weights)
    G.to(device).eval().requires_grad_(False)
    meta.update(checkpoint_path=str(file), checkpoint_sha256=sha256_file(file), nimg=int(ck["nimg"]))
    return G, meta
