"""DCGAN (Radford et al. 2016): transposed-conv generator and strided-conv discriminator.

The generator doubles the resolution with 4x4 stride-2 transposed convolutions, with batchnorm and
ReLU, and ends in tanh. The discriminator halves it with 4x4 stride-2 convolutions and LeakyReLU(0.2),
batchnorm from the second layer on. Class conditioning: the generator's batchnorms are
class-conditional (a per-class gain and bias after a shared normalisation, Miyato & Koyama 2018;
BigGAN); the discriminator is a projection discriminator (Miyato & Koyama 2018), whose logit is
``linear(h) + <embed(y), h>`` on the summed last features. ``wgan.py`` reuses both classes with other
conditioning/normalisation choices.

Why not the textbook ``[z, embed(y)]`` input: with batchnorm right after the first layer, and only
two classes, the label term dominates each channel's batch variance and the generator learns to
ignore z. On BreastMNIST 32 px the within-class pixel std of the samples fell from 0.11 to 0.03 in
200 steps (real images: 0.29), a one-image-per-class collapse; with conditional batchnorm it rose
to 0.3 (see ``tests/gan/test_dcgan_diversity.py``).
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from synthmed.errors import SynthmedError

SUPPORTED_RESOLUTIONS = (32, 64, 128, 256)


def check_resolution(resolution: int, arch: str) -> int:
    if resolution not in SUPPORTED_RESOLUTIONS:
        raise SynthmedError(f"{arch} cannot make {resolution}x{resolution} images "
                            f"(resolutions: {', '.join(map(str, SUPPORTED_RESOLUTIONS))})")
    return resolution


def stage_widths(resolution: int, width: int, max_width: int) -> list[int]:
    """Channels at 4x4, 8x8, ..., R/2 x R/2: ``width`` at R/2, doubling per halving, capped."""
    n = int(math.log2(resolution)) - 2
    return [min(max_width, width * 2 ** (n - 1 - i)) for i in range(n)]


UPSAMPLING = ("transposed", "resize")


def upsampling_conv(c_in: int, c_out: int, kind: str, bias: bool) -> nn.Module:
    """Double the resolution: a 4x4 stride-2 transposed convolution (DCGAN), or nearest-neighbour resize then
    a 3x3 convolution, which cannot make the checkerboard artefacts of uneven kernel overlap (Odena et al. 2016).
    """
    if kind == "transposed":
        return nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=bias)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=bias))


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine, then a gain and a bias looked up per class (1 and 0 at start)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * self.gain(labels)[:, :, None, None] + self.bias(labels)[:, :, None, None]


class DCGANGenerator(nn.Module):
    """z (and label) -> (N, C, R, R) in [-1, 1].

    ``cond_mode``: "cbn" (DCGAN: class-conditional batchnorm) or "multiply" (WGAN-GP variant: z * embed(y)).
    Truncation ``psi`` scales z towards its mean (0): the simple latent truncation of BigGAN-style
    sampling, since these nets have no mapping network.
    """

    def __init__(self, z_dim: int = 128, num_classes: int = 0, resolution: int = 64, channels: int = 1,
                 width: int = 64, max_width: int = 512, cond_mode: str = "cbn", upsample: str = "transposed") -> None:
        super().__init__()
        if cond_mode not in ("cbn", "multiply"):
            raise ValueError(f"cond_mode must be cbn or multiply, got {cond_mode}")
        if upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLING)}, got {upsample}")
        self.z_dim, self.num_classes, self.resolution, self.channels = z_dim, num_classes, resolution, channels
        self.cond_mode = cond_mode
        widths = stage_widths(resolution, width, max_width)
        cbn = bool(num_classes) and cond_mode == "cbn"
        self.embed = nn.Embedding(num_classes, z_dim) if (num_classes and cond_mode == "multiply") else None
        self.convs = nn.ModuleList([nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False)])
        self.convs.extend(upsampling_conv(c_in, c_out, upsample, bias=False)
                          for c_in, c_out in itertools.pairwise(widths))
        self.norms = nn.ModuleList(ConditionalBatchNorm2d(c, num_classes) if cbn else nn.BatchNorm2d(c)
                                   for c in widths)
        self.to_image = upsampling_conv(widths[-1], channels, upsample, bias=True)
        init_dcgan_weights(self)
        if self.embed is not None:  # the label code lives on z's scale
            nn.init.normal_(self.embed.weight, 0.0, 1.0)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                truncation_psi: float = 1.0) -> torch.Tensor:
        if self.num_classes and labels is None:
            raise ValueError("a conditional generator needs labels")
        x = z * truncation_psi
        if self.embed is not None:
            x = x * self.embed(labels)
        x = x[:, :, None, None]
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = conv(x)
            x = norm(x, labels) if isinstance(norm, ConditionalBatchNorm2d) else norm(x)
            x = torch.relu(x)
        return torch.tanh(self.to_image(x))


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
    if kind == "instance":
        return nn.GroupNorm(c, c)
    return nn.Identity()


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) convolutions, N(1, 0.02) norm scales (per-class ones too), as in the DCGAN paper."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)
    for m in module.modules():  # after the loop above, which gave every embedding N(0, 0.02)
        if isinstance(m, ConditionalBatchNorm2d):
            nn.init.normal_(m.gain.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias.weight)
