"""StyleGAN2 generator and discriminator (Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", 2020).

Written from the paper for synthmed (the stylegan2-ada-pytorch code is under a non-commercial licence and was not
used). What is here:

* Generator: mapping network (z normalised, class embedding concatenated, ``mapping_layers`` equalised-lr fully
  connected layers with lr multiplier 0.01) -> w; synthesis network from a learned 4x4 constant with modulated /
  demodulated 3x3 convolutions, per-layer noise inputs and the "skip" output architecture (every resolution adds
  its toRGB output to the upsampled image so far). No output tanh, as in the paper: images are roughly in [-1, 1].
* Truncation: ``w_avg`` (global) and, for conditional models, ``w_avg_per_class`` are exponential moving averages
  of the mapping output, updated whenever the generator runs in train mode. Sampling with ``truncation_psi``
  pulls w toward *the average of its own class* (toward ``w_avg`` for unconditional models), so ``psi=0`` gives
  the class's "mean" image rather than one image shared by every class.
* Discriminator: "resnet" architecture (fromRGB at full resolution, residual blocks that halve the resolution,
  skip paths scaled by 1/sqrt(2)), minibatch standard deviation layer, 3x3 conv + fully connected epilogue.
  Class conditioning by projection (Miyato & Koyama 2018): ``logit = fc(h) + <embed(label), h> / sqrt(dim)``.

Design choices (all standard in the field, reimplemented):

* Equalised learning rate: weights are stored N(0, 1) and scaled by 1/sqrt(fan_in) at run time.
* Resampling uses the separable [1, 3, 3, 1] low-pass filter (depthwise ``conv2d`` / ``conv_transpose2d``), which
  works on every device and under ``torch.compile``.
* Modulation is applied to activations rather than by building per-sample weights with a grouped conv
  (``conv(x * s, w) * d`` is mathematically the same as convolving with the demodulated per-sample weight, and is
  faster on CPU and simpler to compile).
* Not implemented: style mixing regularisation and path length regularisation (StyleGAN2-ADA's small-data configs
  also drop path length regularisation); mixed precision clamping.

Capacity is set by ``channel_base`` / ``channel_max``: a layer at resolution ``r`` has
``min(channel_base // r, channel_max)`` channels. The paper's config uses 32768 / 512; ``channel_base=1024,
channel_max=64`` gives a model that trains on CPU at 32x32.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from synthmed.errors import SynthmedError

LRELU_GAIN = math.sqrt(2.0)  # keeps activation variance through leaky ReLU(0.2), as in the paper
SUPPORTED_RESOLUTIONS = (32, 64, 128, 256)


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if StyleGAN2 can make it, else raise a one-line user error."""
    if resolution not in SUPPORTED_RESOLUTIONS:
        raise SynthmedError(f"stylegan2 makes power-of-two resolutions 32..256, got {resolution}")
    return resolution


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
    return max(1, min(channel_base // res, channel_max))


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


# ----------------------------------------------------------------------------------------------------------------
# Resampling with the [1, 3, 3, 1] filter


def _blur_kernel(channels: int, like: torch.Tensor, gain: float) -> torch.Tensor:
    k = torch.tensor([1.0, 3.0, 3.0, 1.0], device=like.device, dtype=like.dtype)
    k2 = torch.outer(k, k)
    k2 = k2 / k2.sum() * gain
    return k2.expand(channels, 1, 4, 4)


def downsample2d(x: torch.Tensor) -> torch.Tensor:
    """Low-pass filter then keep every other pixel: (N, C, H, W) -> (N, C, H/2, W/2)."""
    c = x.shape[1]
    return F.conv2d(x, _blur_kernel(c, x, 1.0), stride=2, padding=1, groups=c)


def upsample2d(x: torch.Tensor) -> torch.Tensor:
    """Zero-insertion upsampling then low-pass filter (gain 4 keeps the mean): (N, C, H, W) -> (N, C, 2H, 2W)."""
    c = x.shape[1]
    return F.conv_transpose2d(x, _blur_kernel(c, x, 4.0), stride=2, padding=1, groups=c)


# ----------------------------------------------------------------------------------------------------------------
# Equalised learning rate layers


class EqualLinear(nn.Module):
    """Fully connected layer with run-time weight scaling (equalised learning rate) and optional leaky ReLU."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.lr_mul)
        return lrelu(x) if self.activation else x


class EqualConv2d(nn.Module):
    """Conv layer with equalised learning rate; ``down=True`` low-pass filters and halves the resolution first."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: bool = True, down: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2
        self.activation = activation
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = downsample2d(x)
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)
        return lrelu(x) if self.activation else x


# ----------------------------------------------------------------------------------------------------------------
# Generator


class MappingNetwork(nn.Module):
    """z (and class label) -> w. Also keeps the running averages of w used for truncation."""

    def __init__(self, z_dim: int, w_dim: int, num_classes: int, num_layers: int = 8, lr_mul: float = 0.01,
                 w_avg_beta: float = 0.995) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.num_classes = z_dim, w_dim, num_classes
        self.w_avg_beta = w_avg_beta
        in_dim = z_dim
        if num_classes > 0:
            # Embedding as a linear map of the one-hot label (so soft / one-hot labels work too).
            self.embed = EqualLinear(num_classes, w_dim)
            in_dim += w_dim
        layers = []
        for i in range(num_layers):
            layers.append(EqualLinear(in_dim if i == 0 else w_dim, w_dim, lr_mul=lr_mul, activation=True))
        self.net = nn.Sequential(*layers)
        self.register_buffer("w_avg", torch.zeros(w_dim))
        self.register_buffer("w_avg_per_class", torch.zeros(max(num_classes, 1), w_dim))

    def one_hot(self, labels: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """Long labels (N,) or one-hot/soft labels (N, K) -> float (N, K)."""
        if labels is None:
            raise ValueError("a conditional generator needs labels")
        if labels.ndim == 2:
            return labels.to(like.dtype)
        return F.one_hot(labels.long(), self.num_classes).to(like.dtype)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation_psi: float = 1.0) -> torch.Tensor:
        x = normalize_2nd_moment(z)
        c = None
        if self.num_classes > 0:
            c = self.one_hot(labels, z)
            x = torch.cat([x, normalize_2nd_moment(self.embed(c))], dim=1)
        w = self.net(x)
        if self.training:
            self._update_w_avg(w.detach(), c)
        if truncation_psi != 1.0:
            center = self.w_avg.expand_as(w) if c is None else self._class_center(c)
            w = center + truncation_psi * (w - center)
        return w

    def _class_center(self, c: torch.Tensor) -> torch.Tensor:
        # Weighted by the label vector: for a one-hot label this is that class's average w.
        weights = c / c.sum(dim=1, keepdim=True).clamp_min(1e-8)
        return weights @ self.w_avg_per_class

    @torch.no_grad()
    def _update_w_avg(self, w: torch.Tensor, c: torch.Tensor | None) -> None:
        alpha = 1.0 - self.w_avg_beta
        self.w_avg.lerp_(w.mean(dim=0), alpha)
        if c is None:
            return
        # Per-class means without Python branching on the data: classes absent from the batch keep their value.
        counts = c.sum(dim=0)  # (K,)
        sums = c.t() @ w  # (K, w_dim)
        means = sums / counts.clamp_min(1e-8)[:, None]
        updated = self.w_avg_per_class.lerp(means, alpha)
        self.w_avg_per_class.copy_(torch.where((counts > 0)[:, None], updated, self.w_avg_per_class))


class ModulatedConv2d(nn.Module):
    """Style-modulated conv: weights scaled per sample by the style, then (optionally) demodulated to unit norm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, w_dim: int, demodulate: bool = True,
                 up: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)  # styles start at 1 (identity modulation)
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2
        self.demodulate = demodulate
        self.up = up

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)  # (N, in)
        weight = self.weight * self.weight_gain
        x = x * styles[:, :, None, None]
        if self.up:
            x = upsample2d(x)
        x = F.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            # sum over (in, kh, kw) of (weight * style)^2, per sample and output channel
            sq = torch.einsum("oikl,ni->no", weight.square(), styles.square())
            x = x * (sq + 1e-8).rsqrt()[:, :, None, None]
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv + noise input + bias + leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, up=up)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.resolution = resolution

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        x = self.conv(x, w)
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype)
            x = x + noise * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        elif noise_mode != "none":
            raise ValueError(f"noise_mode must be random, const or none, got {noise_mode!r}")
        return lrelu(x + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    """Modulated 1x1 conv to image channels, no demodulation (as in the paper)."""

    def __init__(self, in_channels: int, channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: (upsampling) conv, conv, toRGB added to the upsampled image."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, channels: int) -> None:
        super().__init__()
        self.first = resolution == 4
        if self.first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
            self.conv0 = None
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution)
        self.torgb = ToRGB(out_channels, channels, w_dim)
        self.num_ws = 2 if self.first else 3  # ws consumed: conv0 (not in the 4x4 block), conv1, toRGB

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        i = 0
        if self.conv0 is None:
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        else:
            x = self.conv0(x, ws[:, i], noise_mode)
            i += 1
        x = self.conv1(x, ws[:, i], noise_mode)
        y = self.torgb(x, ws[:, i + 1])
        img = y if img is None else upsample2d(img) + y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws (N, num_ws, w_dim) -> image (N, channels, R, R)."""

    def __init__(self, w_dim: int, resolution: int, channels: int, channel_base: int, channel_max: int) -> None:
        super().__init__()
        check_resolution(resolution)
        self.blocks = nn.ModuleList()
        in_ch = 0
        for log_res in range(2, int(math.log2(resolution)) + 1):
            res = 2**log_res
            out_ch = channels_at(res, channel_base, channel_max)
            self.blocks.append(SynthesisBlock(in_ch, out_ch, w_dim, res, channels))
            in_ch = out_ch
        self.num_ws = sum(b.num_ws for b in self.blocks)

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        x = img = None
        i = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, i:i + block.num_ws], noise_mode)
            i += block.num_ws
        return img


class StyleGAN2Generator(nn.Module):
    """Conditional (``num_classes > 0``) or unconditional StyleGAN2 generator.

    ``forward(z, labels, truncation_psi=1.0, noise_mode="random")`` -> images (N, channels, R, R), roughly in
    [-1, 1]. ``labels``: int64 (N,) class indices (or (N, K) one-hot / soft labels); ignored when unconditional.
    ``noise_mode``: "random" (fresh per-pixel noise), "const" (fixed noise buffers: deterministic given z), "none".
    In train mode every forward updates the ``w_avg`` buffers used for truncation (copy buffers into G_ema).
    """

    def __init__(self, z_dim: int = 512, w_dim: int = 512, num_classes: int = 0, resolution: int = 256,
                 channels: int = 3, channel_base: int = 32768, channel_max: int = 512, mapping_layers: int = 8,
                 mapping_lr_mul: float = 0.01, w_avg_beta: float = 0.995) -> None:
        super().__init__()
        check_resolution(resolution)
        self.z_dim, self.w_dim, self.num_classes = z_dim, w_dim, num_classes
        self.resolution, self.channels = resolution, channels
        self.mapping = MappingNetwork(z_dim, w_dim, num_classes, mapping_layers, mapping_lr_mul, w_avg_beta)
        self.synthesis = SynthesisNetwork(w_dim, resolution, channels, channel_base, channel_max)
        self.num_ws = self.synthesis.num_ws

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation_psi: float = 1.0,
                noise_mode: str = "random") -> torch.Tensor:
        w = self.mapping(z, labels, truncation_psi=truncation_psi)
        ws = w.unsqueeze(1).expand(-1, self.num_ws, -1)
        return self.synthesis(ws, noise_mode=noise_mode)


# ----------------------------------------------------------------------------------------------------------------
# Discriminator


class DiscriminatorBlock(nn.Module):
    """Residual block: conv 3x3, conv 3x3 with downsampling, plus a 1x1 downsampled skip; sum scaled by 1/sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, activation=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(x)
        x = self.conv1(self.conv0(x))
        return (x + y) * math.sqrt(0.5)


def minibatch_stddev(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """Append one feature map: the std of features across a group of samples, averaged (lets D see diversity).

    The group is the largest divisor of the batch size not above ``group_size`` (depends on the shape only, so
    it is fine under ``torch.compile``). Sample i is grouped with samples i + k * N / G.
    """
    n, c, h, w = x.shape
    g = next(d for d in range(min(group_size, n), 0, -1) if n % d == 0)
    y = x.reshape(g, n // g, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0)  # variance over the group
    y = (y + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (N/G,)
    y = y.reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)


class StyleGAN2Discriminator(nn.Module):
    """Residual StyleGAN2 discriminator with minibatch std and projection conditioning.

    ``forward(x, labels) -> (N,)`` logits. ``labels``: int64 (N,) (or (N, K) one-hot); ignored when unconditional.
    """

    def __init__(self, num_classes: int = 0, resolution: int = 256, channels: int = 3, channel_base: int = 32768,
                 channel_max: int = 512, mbstd_group: int = 4) -> None:
        super().__init__()
        check_resolution(resolution)
        self.num_classes, self.resolution, self.channels = num_classes, resolution, channels
        self.mbstd_group = mbstd_group
        ch = lambda r: channels_at(r, channel_base, channel_max)  # noqa: E731
        self.from_rgb = EqualConv2d(channels, ch(resolution), 1)
        blocks = []
        res = resolution
        while res > 4:
            blocks.append(DiscriminatorBlock(ch(res), ch(res // 2)))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = ch(4)
        self.conv = EqualConv2d(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, 1)
        if num_classes > 0:
            self.embed = EqualLinear(num_classes, c4, activation=False)
        self.feature_dim = c4

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.blocks(self.from_rgb(x))
        x = self.conv(minibatch_stddev(x, self.mbstd_group))
        h = self.fc(x.flatten(1))
        logits = self.out(h).squeeze(1)
        if self.num_classes > 0:
            if labels is None:
                raise ValueError("a conditional discriminator needs labels")
            c = labels.to(h.dtype) if labels.ndim == 2 else F.one_hot(labels.long(), self.num_classes).to(h.dtype)
            logits = logits + (self.embed(c) * h).sum(dim=1) / math.sqrt(self.feature_dim)
        return logits
