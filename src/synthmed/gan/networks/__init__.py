"""Network factory: one call builds a matching (generator, discriminator) pair for an architecture.

Every generator has the forward signature ``G(z, labels, truncation_psi=1.0) -> (N, C, R, R)`` in
[-1, 1] and the attributes ``z_dim``, ``num_classes``, ``resolution``, ``channels``; every
discriminator is ``D(x, labels) -> (N,)`` logits. ``num_classes`` is 0 for an unconditional pair.
"""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from synthmed.errors import SynthmedError
from synthmed.gan.networks.dcgan import DCGANDiscriminator, DCGANGenerator, check_resolution
from synthmed.gan.networks.wgan import wgan_critic, wgan_generator

ARCHS = ("dcgan", "wgan-gp", "stylegan2")


def build_networks(arch: str, resolution: int, channels: int, num_classes: int, cond: bool = True,
                   **kw: Any) -> tuple[nn.Module, nn.Module]:
    """Build (G, D). ``kw``: ``z_dim``, ``width``, ``max_width`` (DCGAN/WGAN), or StyleGAN2 options."""
    check_resolution(resolution, arch)
    if channels not in (1, 3):
        raise SynthmedError(f"{arch}: images must have 1 or 3 channels, got {channels}")
    n_cls = num_classes if cond else 0
    z_dim = int(kw.pop("z_dim", 128))
    # checkpoints from before --upsample carry no such key: they were made with transposed convolutions
    upsample = str(kw.get("upsample", "transposed"))
    if arch == "dcgan":
        width, max_width = int(kw.get("width", 64)), int(kw.get("max_width", 512))
        return (DCGANGenerator(z_dim, n_cls, resolution, channels, width, max_width, upsample=upsample),
                DCGANDiscriminator(n_cls, resolution, channels, width, max_width, norm="batch"))
    if arch == "wgan-gp":
        width, max_width = int(kw.get("width", 64)), int(kw.get("max_width", 512))
        return (wgan_generator(z_dim, n_cls, resolution, channels, width, max_width, upsample),
                wgan_critic(n_cls, resolution, channels, width, max_width, str(kw.get("critic_norm", "layer"))))
    if arch == "stylegan2":
        return _stylegan2(z_dim, n_cls, resolution, channels, kw)
    raise SynthmedError(f"unknown architecture '{arch}' (choose from {', '.join(ARCHS)})")


def _stylegan2(z_dim: int, num_classes: int, resolution: int, channels: int,
               kw: dict[str, Any]) -> tuple[nn.Module, nn.Module]:
    from synthmed.gan.networks.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator

    w_dim = int(kw.pop("w_dim", z_dim))
    g_kw = _accepted(StyleGAN2Generator, kw)
    d_kw = _accepted(StyleGAN2Discriminator, kw)
    G = StyleGAN2Generator(z_dim=z_dim, w_dim=w_dim, num_classes=num_classes, resolution=resolution,
                           channels=channels, **g_kw)
    D = StyleGAN2Discriminator(num_classes=num_classes, resolution=resolution, channels=channels, **d_kw)
    return G, D


def _accepted(cls: type, kw: dict[str, Any]) -> dict[str, Any]:
    """The options of ``kw`` that ``cls.__init__`` takes (width options are shared by name)."""
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in kw.items() if k in params}
