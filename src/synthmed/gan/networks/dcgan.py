"""DCGAN (Radford et al. 2016): transposed-conv generator and strided-conv discriminator.

The generator doubles the resolution with 4x4 stride-2 transposed convolutions, with batchnorm and
ReLU, and ends in tanh. The discriminator halves it with 4x4 stride-2 convolutions and LeakyReLU(0.2),
batchnorm from the second layer on. Class conditioning: the generator concatenates a label
embedding to z; the discriminator is a projection discriminator (Miyato & Koyama 2018), whose
logit is ``linear(h) + <embed(y), h>`` on the pooled last features. ``wgan.py`` reuses both
classes with other conditioning/normalisation choices.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

SUPPORTED_RESOLUTIONS = (32, 64, 128, 256)


def check_resolution(resolution: int, arch: str) -> int:
    from synthmed.errors import SynthmedError

    if resolution not in SUPPORTED_RESOLUTIONS:
        raise SynthmedError(f"{arch} cannot make {resolution}x{resolution} images "
                            f"(resolutions: {', '.join(map(str, SUPPORTED_RESOLUTIONS))})")
    return resolution


def stage_widths(resolution: int, width: int, max_width: int) -> list[int]:
    """Channels at 4x4, 8x8, ..., R/2 x R/2: ``width`` at R/2, doubling per halving, capped."""
    n = int(math.log2(resolution)) - 2
    return [min(max_width, width * 2 ** (n - 1 - i)) for i in range(n)]


class DCGANGenerator(nn.Module):
    """z (and label) -> (N, C, R, R) in [-1, 1].

    ``cond_mode``: "concat" (DCGAN: [z, embed(y)]) or "multiply" (WGAN-GP variant: z * embed(y)).
    Truncation ``psi`` scales z towards its mean (0): the simple latent truncation of BigGAN-style
    sampling, since these nets have no mapping network.
    """

    def __init__(self, z_dim: int = 128, num_classes: int = 0, resolution: int = 64, channels: int = 1,
                 width: int = 64, max_width: int = 512, cond_mode: str = "concat") -> None:
        super().__init__()
        self.z_dim, self.num_classes, self.resolution, self.channels = z_dim, num_classes, resolution, channels
        self.cond_mode = cond_mode
        widths = stage_widths(resolution, width, max_width)
        self.embed = nn.Embedding(num_classes, z_dim) if num_classes else None
        in_dim = 2 * z_dim if (num_classes and cond_mode == "concat") else z_dim
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_dim, widths[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for c_in, c_out in itertools.pairwise(widths):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)
        if self.embed is not None:  # the label code lives on z's scale
            nn.init.normal_(self.embed.weight, 0.0, 1.0)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                truncation_psi: float = 1.0) -> torch.Tensor:
        z = z * truncation_psi
        if self.embed is not None:
            if labels is None:
                raise ValueError("a conditional generator needs labels")
            e = self.embed(labels)
            z = torch.cat([z, e], dim=1) if self.cond_mode == "concat" else z * e
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """(N, C, R, R) image (and label) -> (N,) logits.

    ``norm``: "batch" (DCGAN), "layer" (GroupNorm with one group, WGAN-GP: the critic must not use
    batchnorm because the gradient penalty is per sample) or "none".
    """

    def __init__(self, num_classes: int = 0, resolution: int = 64, channels: int = 1, width: int = 64,
                 max_width: int = 512, norm: str = "batch") -> None:
        super().__init__()
        self.num_classes, self.resolution, self.channels = num_classes, resolution, channels
        widths = stage_widths(resolution, width, max_width)[::-1]  # R/2 ... 4
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for c_in, c_out in itertools.pairwise(widths):
            layers += [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=norm == "none"), _norm(norm, c_out),
                       nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(widths[-1] * 16, 1)
        self.embed = nn.Embedding(num_classes, widths[-1]) if num_classes else None
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        logit = self.out(h.flatten(1))[:, 0]
        if self.embed is not None:
            if labels is None:
                raise ValueError("a conditional discriminator needs labels")
            logit = logit + (self.embed(labels) * h.sum(dim=(2, 3))).sum(dim=1)
        return logit


def _norm(kind: str, c: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(c)
    if kind == "layer":
        return nn.GroupNorm(1, c)
    return nn.Identity()


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) convolutions, N(1, 0.02) norm scales, as in the DCGAN paper."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)
