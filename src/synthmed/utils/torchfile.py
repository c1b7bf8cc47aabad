"""Reading torch files without running code from them, and writing them whole.

``torch.load`` unpickles: a file made by someone else could run any code when loaded. Every torch file
synthmed reads goes through ``load_weights`` (``weights_only=True``: tensors, plain containers and numbers,
nothing else) or ``load_torchscript`` (TorchScript's own loader, which builds no Python objects). Failures
become one ``BadInputError`` line naming the file; torch's own multi-line messages and warnings are kept
off the terminal.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from synthmed.errors import BadInputError
from synthmed.utils.atomic import atomic_path

REFUSED = "holds pickled Python objects other than tensors, refused (loading them could run code)"


def load_weights(path: str | Path, what: str) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU; ``what`` names the expected content for the error."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, f"{what} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. torch's note when a TorchScript archive is given instead
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # torch refused a class or function; other failures are broken bytes
            raise BadInputError(path, f"not a usable {what}: it {REFUSED}") from None
        raise BadInputError(path, f"not a usable {what}: corrupted or not a torch file (UnpicklingError)") from None
    except Exception as exc:  # truncated zip, not a torch file, unreadable: all mean "not this kind of file"
        raise BadInputError(path, f"not a usable {what}: corrupted or not a torch file "
                                  f"({type(exc).__name__})") from None


def load_torchscript(path: str | Path) -> torch.nn.Module | None:
    """A TorchScript module on the CPU, or None when ``path`` is not a TorchScript archive."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.load's deprecation warning, printed on every call
            return torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError):
        return None


def torch_save(obj: Any, target: str | Path) -> None:
    """``torch.save`` through a temporary file, so a killed run never leaves a truncated checkpoint."""
    with atomic_path(target) as tmp:
        torch.save(obj, tmp)
