"""The one device choice: ``auto`` is CUDA when there is one, else the CPU; asking for CUDA without it is an error."""

from __future__ import annotations

import torch

from synthmed.errors import SynthmedError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise SynthmedError(f"--device {name}: expected auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SynthmedError(f"--device {name}: CUDA is not available on this machine")
    return dev
