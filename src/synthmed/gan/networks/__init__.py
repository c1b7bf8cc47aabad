"""Network factory: one call builds a matching (generator, discriminator) pair for an architecture.

Every generator has the forward signature ``G(z, labels, truncation_psi=1.0) -> (N, C, R, R)`` in
[-1, 1] and the attributes ``z_dim``, ``num_classes``, ``resolution``, ``channels``; every
discriminator is ``D(x, labels) -> (N,)`` logits. ``num_classes`` is 0 for an unconditional pair.
Which networks an architecture has is its family's business (``synthmed.gan.archs``).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from synthmed.errors import SynthmedError
from synthmed.gan.archs import get_arch


def build_networks(arch: str, resolution: int, channels: int, num_classes: int, cond: bool = True,
                   **kw: Any) -> tuple[nn.Module, nn.Module]:
    """Build (G, D). ``kw``: the family's network options (``Arch.net_kwargs``: ``z_dim``, widths, ...)."""
    family = get_arch(arch)
    family.check_resolution(resolution)
    if channels not in (1, 3):
        raise SynthmedError(f"{arch}: images must have 1 or 3 channels, got {channels}")
    return family.build(resolution, channels, num_classes if cond else 0, **kw)
