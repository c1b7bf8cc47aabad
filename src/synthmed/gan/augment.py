"""Differentiable augmentation of the discriminator's inputs, for GAN training on small data sets.

Two methods, both applied to real *and* fake images right before the discriminator (and differentiable, so the
generator is trained through them):

* ``diff_augment`` — DiffAugment (Zhao et al. 2020): every op always applied, random strength per sample.
  ``translation``: integer shift up to 1/8 of the size, zero padding; ``cutout``: a square of half the size set
  to 0; ``color``: brightness, saturation, contrast on RGB images. On grayscale images ``color`` means brightness
  and contrast only (saturation has no meaning with one channel).
* ``AdaptiveAugment`` — ADA (Karras et al. 2020, "Training GANs with limited data"): each op applied to each
  sample with probability ``p``; ``p`` is raised when the discriminator overfits (the mean sign of its output on
  real images, r_t, is above the target 0.6) and lowered otherwise.

Written for synthmed from the papers (no code copied). Randomness comes only from the global torch RNG of the
images' device, or from the ``generator`` passed, so a run restored with its RNG state augments identically.
The geometric ops are done with one integer gather per batch (no interpolation, so no blur), which works on
any device and under ``torch.compile``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from synthmed.errors import SynthmedError

DIFF_AUGMENT_OPS = ("color", "translation", "cutout")
ADA_OPS = ("xflip", "rotate90", "translation", "brightness", "contrast", "saturation", "cutout")


def _rand(shape: tuple[int, ...], x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Float32 uniforms in [0, 1) from ``generator`` (on its device) or from the global RNG of x's device.

    Float32 even for half-precision images, so pixel coordinates computed from them stay exact.
    """
    device = generator.device if generator is not None else x.device
    return torch.rand(shape, generator=generator, device=device).to(x.device)


def _randn(shape: tuple[int, ...], x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    device = generator.device if generator is not None else x.device
    return torch.randn(shape, generator=generator, device=device).to(x.device)


def _parse_ops(ops: str | list[str] | tuple[str, ...], known: tuple[str, ...], what: str) -> list[str]:
    names = [o.strip() for o in ops.split(",")] if isinstance(ops, str) else [o.strip() for o in ops]
    names = [o for o in names if o]
    unknown = [o for o in names if o not in known]
    if unknown:
        raise SynthmedError(f"unknown {what} op(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return names


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Mirror indices into [0, size) without repeating the edge pixel (valid for overshoots smaller than size)."""
    index = index.abs()
    return (size - 1) - ((size - 1) - index).abs()


def _gather(x: torch.Tensor, sy: torch.Tensor, sx: torch.Tensor, padding: str) -> torch.Tensor:
    """out[n, c, i, j] = x[n, c, sy[n, i, j], sx[n, i, j]]; outside pixels are 0 ("zeros") or mirrored ("reflect")."""
    n, c, h, w = x.shape
    valid = None
    if padding == "reflect":
        sy, sx = _reflect(sy, h), _reflect(sx, w)
    else:
        valid = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
        sy, sx = sy.clamp(0, h - 1), sx.clamp(0, w - 1)
    index = (sy * w + sx).reshape(n, 1, h * w).expand(n, c, h * w)
    out = x.reshape(n, c, h * w).gather(2, index).reshape(n, c, h, w)
    if valid is not None:
        out = out * valid.unsqueeze(1).to(out.dtype)
    return out


def _grid(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = x.shape[-2:]
    yy = torch.arange(h, device=x.device).view(1, h, 1)
    xx = torch.arange(w, device=x.device).view(1, 1, w)
    return yy, xx


def _cutout_mask(x: torch.Tensor, size_frac: float, centre: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) mask: 0 inside a square of side size_frac * H (clipped by the border), 1 elsewhere.

    ``centre``: uniforms (N, 2, 1, 1) giving the square's centre as fractions of the height and width.
    """
    _, _, h, w = x.shape
    sh, sw = max(1, int(h * size_frac + 0.5)), max(1, int(w * size_frac + 0.5))
    y0 = (centre[:, :1] * h).floor().long() - sh // 2
    x0 = (centre[:, 1:] * w).floor().long() - sw // 2
    yy, xx = _grid(x)
    inside = (yy >= y0) & (yy < y0 + sh) & (xx >= x0) & (xx < x0 + sw)
    return (~inside).to(x.dtype)


# ----------------------------------------------------------------------------------------------------------------
# DiffAugment


def diff_augment(x: torch.Tensor, policy: str = "translation,cutout,color",
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """DiffAugment on a batch (N, C, H, W) in [-1, 1]; same shape out, differentiable with respect to x.

    Ops run in the fixed order color -> translation -> cutout whatever the order in ``policy``; an empty policy
    returns x unchanged. Strengths follow the paper: brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast
    x U(0.5, 1.5), shifts up to 1/8 of the size, cutout of half the size.
    """
    ops = set(_parse_ops(policy, DIFF_AUGMENT_OPS, "DiffAugment"))
    n = x.shape[0]
    if "color" in ops:
        x = x + (_rand((n, 1, 1, 1), x, generator) - 0.5).to(x.dtype)
        if x.shape[1] == 3:
            mean = x.mean(dim=1, keepdim=True)
            x = (x - mean) * (_rand((n, 1, 1, 1), x, generator) * 2.0).to(x.dtype) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (_rand((n, 1, 1, 1), x, generator) + 0.5).to(x.dtype) + mean
    if "translation" in ops:
        h, w = x.shape[-2:]
        max_shift = torch.tensor([h // 8, w // 8], device=x.device, dtype=torch.float32).view(1, 2, 1, 1)
        shift = ((_rand((n, 2, 1, 1), x, generator) * 2 - 1) * max_shift).round().long()
        yy, xx = _grid(x)
        x = _gather(x, yy - shift[:, 0], xx - shift[:, 1], padding="zeros")
    if "cutout" in ops:
        x = x * _cutout_mask(x, 0.5, _rand((n, 2, 1, 1), x, generator))
    return x


# ----------------------------------------------------------------------------------------------------------------
# ADA


class AdaptiveAugment(nn.Module):
    """ADA: augment each sample with probability ``p`` per op; ``p`` follows the discriminator's overfitting.

    Ops (any subset, in this order): ``xflip`` (flip with probability 1/2 when chosen), ``rotate90`` (k * 90
    degrees, k uniform in 0..3), ``translation`` (integer shift uniform up to ``translate`` x size, reflect padding),
    ``brightness`` (+ N(0, 0.2)), ``contrast`` (x lognormal(0, 0.5 ln 2) around the image mean), ``saturation``
    (x lognormal(0, ln 2) around the per-pixel channel mean; RGB only, skipped for grayscale) and ``cutout``
    (a square of half the size set to 0).

    Non-leaking choices (the augmented distribution still determines the clean one, so G is not pushed to make
    augmented-looking images): every op is applied with probability p per sample, and each op's own random choice
    includes the identity or is centred on it (flip only half the time, k = 0 possible, zero-mean brightness,
    contrast/saturation with median 1, translation includes 0). Geometry uses integer shifts with reflect padding
    so no blur and no black borders give augmented images away. As in the paper this holds for p below about
    0.8; the target r_t = 0.6 normally keeps p well below that.

    Randomness: a fixed number of draws per call (independent of p) from the global RNG of x's device or from
    ``generator``. ``p`` and the sign accumulators are buffers, so ``state_dict`` resumes exactly.
    """

    def __init__(self, ops: str | list[str] = ",".join(ADA_OPS), p: float = 0.0, target: float = 0.6,
                 ada_kimg: float = 500.0, translate: float = 0.125, brightness_std: float = 0.2,
                 contrast_std: float = 0.5, saturation_std: float = 1.0, cutout_size: float = 0.5) -> None:
        super().__init__()
        self.ops = _parse_ops(ops, ADA_OPS, "ADA")
        self.target, self.ada_kimg = target, ada_kimg
        self.translate, self.brightness_std = translate, brightness_std
        self.contrast_std, self.saturation_std, self.cutout_size = contrast_std, saturation_std, cutout_size
        self.register_buffer("p", torch.tensor(float(p)))
        self.register_buffer("sign_sum", torch.tensor(0.0))
        self.register_buffer("sign_count", torch.tensor(0.0))

    # -- the adaptive probability ---------------------------------------------------------------------------------

    def update(self, sign_mean_real: float, batch_images: int) -> float:
        """Move p by sign(r_t - target) * batch_images / (ada_kimg * 1000), clamped to [0, 1]; return the new p.

        ``sign_mean_real`` is r_t = E[sign(D(real))] measured over the last ``batch_images`` real images (the
        batch size times the update interval, e.g. 4 minibatches as in the paper). At ada_kimg=500, p can go
        from 0 to 1 in 500k images.
        """
        step = math.copysign(1.0, sign_mean_real - self.target) if sign_mean_real != self.target else 0.0
        adjust = step * batch_images / (self.ada_kimg * 1000.0)
        self.p.copy_((self.p + adjust).clamp(0.0, 1.0))
        return float(self.p)

    @torch.no_grad()
    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Add the signs of D's outputs on a batch of (augmented) real images to the running r_t estimate."""
        self.sign_sum += real_logits.detach().sign().sum().to(self.sign_sum)
        self.sign_count += real_logits.numel()

    def step(self) -> float:
        """Update p from everything accumulated since the last step (summed over ranks under DDP), then reset."""
        totals = torch.stack([self.sign_sum, self.sign_count])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            totals = totals.to(self.p.device)
            torch.distributed.all_reduce(totals)
        total_sign, count = float(totals[0]), int(totals[1])
        self.sign_sum.zero_()
        self.sign_count.zero_()
        if count == 0:
            return float(self.p)
        return self.update(total_sign / count, count)

    # -- the augmentation ---------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, c = x.shape[:2]
        p = self.p.to(device=x.device, dtype=torch.float32)
        # Fixed-size draws: "is the op applied" per op and sample, then each op's own parameters.
        chosen = _rand((len(ADA_OPS), n, 1, 1, 1), x, generator) < p
        params = _rand((6, n, 1, 1, 1), x, generator)
        normals = _randn((3, n, 1, 1, 1), x, generator).to(x.dtype)
        use = {op: chosen[i] if op in self.ops else None for i, op in enumerate(ADA_OPS)}
        x = self._geometry(x, use, params)
        if use["brightness"] is not None:
            x = torch.where(use["brightness"], x + normals[0] * self.brightness_std, x)
        if use["contrast"] is not None:
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            factor = torch.exp2(normals[1] * self.contrast_std)
            x = torch.where(use["contrast"], (x - mean) * factor + mean, x)
        if use["saturation"] is not None and c == 3:
            mean = x.mean(dim=1, keepdim=True)
            factor = torch.exp2(normals[2] * self.saturation_std)
            x = torch.where(use["saturation"], (x - mean) * factor + mean, x)
        if use["cutout"] is not None:
            centre = params[4:6, :, 0].transpose(0, 1)  # (N, 2, 1, 1)
            x = torch.where(use["cutout"], x * _cutout_mask(x, self.cutout_size, centre), x)
        return x

    def _geometry(self, x: torch.Tensor, use: dict[str, torch.Tensor | None], params: torch.Tensor) -> torch.Tensor:
        """Flip, rotate by multiples of 90 degrees and translate, as one integer gather (inverse mapping)."""
        if use["xflip"] is None and use["rotate90"] is None and use["translation"] is None:
            return x
        h, w = x.shape[-2:]
        if use["rotate90"] is not None and h != w:
            raise ValueError(f"rotate90 needs square images, got {h}x{w}")
        one = torch.ones_like(params[0])
        flip = torch.where(use["xflip"] & (params[0] < 0.5), -one, one) if use["xflip"] is not None else one
        k = (params[1] * 4).floor().clamp(max=3).long()  # quarter turns
        k = torch.where(use["rotate90"], k, 0) if use["rotate90"] is not None else torch.zeros_like(k)
        cos = torch.tensor([1.0, 0.0, -1.0, 0.0], device=x.device)[k]
        sin = torch.tensor([0.0, 1.0, 0.0, -1.0], device=x.device)[k]
        zero = torch.zeros_like(params[0])
        tx = ((params[2] * 2 - 1) * self.translate * w).round()
        ty = ((params[3] * 2 - 1) * self.translate * h).round()
        if use["translation"] is not None:
            tx, ty = torch.where(use["translation"], tx, zero), torch.where(use["translation"], ty, zero)
        else:
            tx, ty = zero, zero
        yy, xx = _grid(x)
        cy, cx = (h - 1) / 2, (w - 1) / 2
        # Output pixel -> source pixel: undo the translation, then the rotation, then the flip.
        u = xx.float() - cx - tx[:, 0]
        v = yy.float() - cy - ty[:, 0]
        cos, sin, flip = cos[:, 0], sin[:, 0], flip[:, 0]
        su = (cos * u + sin * v) * flip
        sv = -sin * u + cos * v
        sx = (su + cx).round().long()
        sy = (sv + cy).round().long()
        return _gather(x, sy, sx, padding="reflect")

    def extra_repr(self) -> str:
        return f"ops={','.join(self.ops)}, p={float(self.p):.4f}, target={self.target}, ada_kimg={self.ada_kimg}"
