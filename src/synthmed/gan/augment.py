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
ADA's pixel-blitting ops (flip, quarter turns, integer shifts) alone are done with one integer gather per batch
(no interpolation, so no blur). With any of ADA's general geometric ops (``scale``, ``rotate``, ``aniso``,
``xfrac``), all geometric ops of a sample are composed into one affine matrix and the image is resampled once,
bilinearly (``affine_grid`` + ``grid_sample``). Both work on any device and under ``torch.compile``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from synthmed.errors import SynthmedError

DIFF_AUGMENT_OPS = ("color", "translation", "cutout")
# ADA's first ops here, in the order of their random draws, and the default. Their draws and results must never
# change (a run resumes bit-identically from its RNG state), so later ops draw separately (AdaptiveAugment.forward).
DEFAULT_ADA_OPS = ("xflip", "rotate90", "translation", "brightness", "contrast", "saturation", "cutout")
GEOMETRIC_OPS = ("scale", "rotate", "aniso", "xfrac")  # the paper's general geometric ops (its "geom" group)
ADA_OPS = DEFAULT_ADA_OPS + GEOMETRIC_OPS
# Named op lists. "bgc" is the paper's blit + geom + color pipeline (its best on small sets), less the colour ops
# not implemented here (luma flip, hue rotation); "default" is the op list of a run that names none.
ADA_PRESETS = {
    "default": DEFAULT_ADA_OPS,
    "bgc": ("xflip", "rotate90", "translation", "scale", "rotate", "aniso", "xfrac", "brightness", "contrast",
            "saturation"),
}


def _rand(shape: tuple[int, ...], x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Float32 uniforms in [0, 1) from ``generator`` (on its device) or from the global RNG of x's device.

    Float32 even for half-precision images, so pixel coordinates computed from them stay exact.
    """
    device = generator.device if generator is not None else x.device
    return torch.rand(shape, generator=generator, device=device).to(x.device)


def _randn(shape: tuple[int, ...], x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    device = generator.device if generator is not None else x.device
    return torch.randn(shape, generator=generator, device=device).to(x.device)


def _parse_ops(ops: str | list[str] | tuple[str, ...], known: tuple[str, ...], what: str,
               presets: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """Op names from a comma list (or a list); a preset's name stands for its ops; duplicates dropped."""
    presets = presets or {}
    given = [o.strip() for o in ops.split(",")] if isinstance(ops, str) else [o.strip() for o in ops]
    names: list[str] = []
    for name in given:
        for op in presets.get(name, (name,) if name else ()):
            if op not in names:
                names.append(op)
    unknown = [o for o in names if o not in known]
    if unknown:
        also = f", or a preset: {', '.join(presets)}" if presets else ""
        raise SynthmedError(f"unknown {what} op(s) {', '.join(unknown)}; choose from {', '.join(known)}{also}")
    return names


def parse_ada_ops(ops: str | list[str] | tuple[str, ...]) -> list[str]:
    """ADA op names (or presets, see ``ADA_PRESETS``) from a comma list; unknown names: a one-line error."""
    return _parse_ops(ops, ADA_OPS, "ADA", ADA_PRESETS)


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


def _mirror(t: torch.Tensor, edge: float) -> torch.Tensor:
    """Reflect coordinates into [-edge, edge] about both ends, for any overshoot (period 4 * edge)."""
    if edge == 0:  # a one-pixel axis: every coordinate is that pixel
        return torch.zeros_like(t)
    t = torch.remainder(t + edge, 4 * edge)
    return edge - (2 * edge - t).abs()


def _resample(x: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """Bilinear resampling of x (N, C, H, W) by per-sample affine maps, reflect padding; differentiable in x.

    ``inverse`` (N, 3, 3) maps an output pixel to its source pixel, in pixels from the image centre (x right,
    y down). A sample whose map is exactly the identity is returned untouched, bit for bit (bilinear weights
    computed at integer positions are not exactly 0 and 1 in floating point).

    Padding mirrors about the edge pixels' centres (the edge pixel is not repeated), like ``F.pad(mode="reflect")``
    and the integer gather of the blit-only path, so both paths pad alike; ``grid_sample``'s own "reflection"
    mirrors about the pixel edges instead, so the coordinates are mirrored here and ``grid_sample`` never reads
    outside the image.

    Why plain bilinear: the paper warps a 2x upsampled image between wavelet low-pass filters, which keeps
    augmented images as sharp as clean ones and free of aliasing. That is two filtered resizes plus a warp at 4x
    the pixels per image; one bilinear pass keeps the augmentation a small part of a CPU training step on our
    32-64 px images (docs/stages/train-gan.md gives the measured cost) and needs no filter code of ours. What it loses:
    sub-pixel positions soften the image (most at half-pixel offsets) and shrinking aliases, so D sees resampled
    images slightly softer than clean ones and judges them on less fine detail. It stays non-leaking in the
    paper's sense: the softening comes only with an op that is applied with probability p.
    """
    n, c, h, w = x.shape
    # Half-precision coordinates would be off by a good part of a pixel: work in float32 (float64 if given).
    like = dict(device=x.device, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)
    # align_corners=False: pixel i of an axis of size s sits at (2 i + 1) / s - 1, i.e. (i - (s - 1) / 2) * 2 / s.
    to_unit = torch.diag(torch.tensor([2.0 / w, 2.0 / h, 1.0], **like))
    to_pixels = torch.diag(torch.tensor([w / 2.0, h / 2.0, 1.0], **like))
    theta = (to_unit @ inverse.to(**like) @ to_pixels)[:, :2]
    grid = F.affine_grid(theta, [n, c, h, w], align_corners=False)
    grid = torch.stack([_mirror(grid[..., 0], (w - 1) / w), _mirror(grid[..., 1], (h - 1) / h)], dim=-1)
    out = F.grid_sample(x.to(like["dtype"]), grid, mode="bilinear", padding_mode="border", align_corners=False)
    out = out.to(x.dtype)
    identity = (inverse == torch.eye(3, device=inverse.device, dtype=inverse.dtype)).flatten(1).all(dim=1)
    return torch.where(identity.view(n, 1, 1, 1), x, out)


def _linear(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor,
            tx: torch.Tensor | None = None, ty: torch.Tensor | None = None) -> torch.Tensor:
    """(N, 3, 3) matrices [[a, b, tx], [c, d, ty], [0, 0, 1]] from (N,) tensors."""
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    tx = zero if tx is None else tx
    ty = zero if ty is None else ty
    return torch.stack([a, b, tx, c, d, ty, zero, zero, one], dim=1).view(-1, 3, 3)


def _rotation(angle: torch.Tensor) -> torch.Tensor:
    """Rotation by ``angle`` radians (clockwise on screen: y points down), as (N, 3, 3)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    return _linear(cos, -sin, sin, cos)


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

    Ops (any subset, applied in this order whatever the order given; names or presets from ``ADA_PRESETS``):

    * pixel blitting: ``xflip`` (flip with probability 1/2 when chosen), ``rotate90`` (k * 90 degrees, k uniform in
      0..3), ``translation`` (integer shift uniform up to ``translate`` x size);
    * general geometry (the paper's "geom" group, found to matter most on small sets): ``scale`` (isotropic,
      x 2^N(0, 0.2^2), i.e. lognormal(0, (0.2 ln 2)^2)), ``rotate`` (by an angle uniform in +-180 degrees, before
      and after the anisotropic scaling, each with probability 1 - sqrt(1 - p) so that at least one rotation
      happens with probability p), ``aniso`` (x s horizontally and / s vertically, s lognormal as ``scale``; between
      the two rotations, so along a random axis when ``rotate`` is on) and ``xfrac`` (fractional shift,
      N(0, 0.125^2) x size on each axis);
    * colour: ``brightness`` (+ N(0, 0.2)), ``contrast`` (x lognormal(0, 0.5 ln 2) around the image mean),
      ``saturation`` (x lognormal(0, ln 2) around the per-pixel channel mean; RGB only, skipped for grayscale);
    * ``cutout`` (a square of half the size set to 0).

    Non-leaking choices (the augmented distribution still determines the clean one, so G is not pushed to make
    augmented-looking images): every op is applied with probability p per sample, and each op's own random choice
    includes the identity or is centred on it (flip only half the time, k = 0 possible, zero-mean brightness and
    shifts, scales and contrast/saturation with median 1, angles symmetric about 0). Reflect padding everywhere, so
    no black borders give augmented images away. As in the paper this holds for p below about 0.8; the target
    r_t = 0.6 normally keeps p well below that. Blit-only geometry is an exact integer gather; with any general
    geometric op, each sample's geometric ops become one affine map and one bilinear resampling (``_resample``
    says what that loses against the paper's filtered resampling).

    Randomness: a fixed number of draws per call, independent of p (so the random stream, and a resumed run, do not
    depend on how p has moved), from the global RNG of x's device or from ``generator``. The first ops' draws
    (``DEFAULT_ADA_OPS``) come first and are the same whatever ``ops`` holds; the general geometric ops draw a
    further fixed block only when at least one of them is in ``ops``, so a run with the default ops augments
    exactly as before they existed. ``p`` and the sign accumulators are buffers, so ``state_dict`` resumes exactly.
    """

    def __init__(self, ops: str | list[str] = ",".join(DEFAULT_ADA_OPS), p: float = 0.0, target: float = 0.6,
                 ada_kimg: float = 500.0, translate: float = 0.125, brightness_std: float = 0.2,
                 contrast_std: float = 0.5, saturation_std: float = 1.0, cutout_size: float = 0.5,
                 scale_std: float = 0.2, rotate_max: float = 1.0, aniso_std: float = 0.2,
                 xfrac_std: float = 0.125) -> None:
        super().__init__()
        self.ops = parse_ada_ops(ops)
        self.target, self.ada_kimg = target, ada_kimg
        self.translate, self.brightness_std = translate, brightness_std
        self.contrast_std, self.saturation_std, self.cutout_size = contrast_std, saturation_std, cutout_size
        # scale_std, aniso_std: std of log2 of the factor; rotate_max: largest angle / 180 degrees; xfrac_std: of
        # the shift as a fraction of the size.
        self.scale_std, self.rotate_max, self.aniso_std, self.xfrac_std = scale_std, rotate_max, aniso_std, xfrac_std
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
        chosen = _rand((len(DEFAULT_ADA_OPS), n, 1, 1, 1), x, generator) < p
        params = _rand((6, n, 1, 1, 1), x, generator)
        normals = _randn((3, n, 1, 1, 1), x, generator).to(x.dtype)
        use = {op: chosen[i] if op in self.ops else None for i, op in enumerate(DEFAULT_ADA_OPS)}
        if any(op in self.ops for op in GEOMETRIC_OPS):
            geometric = self.draw_geometric(n, x, generator)
            x = _resample(x, self._blit_matrix(x, use, params) @ self.geometric_matrix(geometric, x.shape[-2:]))
        else:
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

    def _blit(self, x: torch.Tensor, use: dict[str, torch.Tensor | None], params: torch.Tensor
              ) -> tuple[torch.Tensor, ...]:
        """Per-sample flip sign, cos and sin of the quarter turn, integer x and y shift, each (N, 1, 1, 1)."""
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
        return flip, cos, sin, tx, ty

    def _geometry(self, x: torch.Tensor, use: dict[str, torch.Tensor | None], params: torch.Tensor) -> torch.Tensor:
        """Flip, rotate by multiples of 90 degrees and translate, as one integer gather (inverse mapping)."""
        if use["xflip"] is None and use["rotate90"] is None and use["translation"] is None:
            return x
        h, w = x.shape[-2:]
        flip, cos, sin, tx, ty = self._blit(x, use, params)
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

    def _blit_matrix(self, x: torch.Tensor, use: dict[str, torch.Tensor | None], params: torch.Tensor
                     ) -> torch.Tensor:
        """The blit ops of ``_geometry`` as (N, 3, 3) output -> source maps in pixels from the centre: the flip,
        then the inverse quarter turn, then the inverse shift (the same map the gather applies)."""
        flip, cos, sin, tx, ty = (t.flatten() for t in self._blit(x, use, params))
        zero, one = torch.zeros_like(flip), torch.ones_like(flip)
        return _linear(flip, zero, zero, one) @ _linear(cos, sin, -sin, cos) @ _linear(one, zero, zero, one, -tx, -ty)

    def draw_geometric(self, n: int, x: torch.Tensor, generator: torch.Generator | None = None
                       ) -> dict[str, torch.Tensor]:
        """Parameters of the general geometric ops for n samples, the identity's where an op is not applied.

        A fixed block of draws (7 uniforms and 4 normals per sample) whichever of these ops are on and whatever p:
        "applied?" for scale, pre-rotation, aniso, post-rotation, xfrac, then the two angles; normals for the
        log2 scale, log2 aniso and the x and y shift. Returns (N,) tensors ``scale``, ``pre_angle`` (radians),
        ``aniso``, ``post_angle`` and ``shift`` (N, 2) in fractions of the width and height.
        """
        p = self.p.to(device=x.device, dtype=torch.float32).clamp(0.0, 1.0)
        p_rot = 1 - torch.sqrt(1 - p)  # two chances to rotate: P(at least one) = 1 - (1 - p_rot)^2 = p
        u = _rand((7, n), x, generator)
        z = _randn((4, n), x, generator)

        def applied(i: int, op: str, prob: torch.Tensor) -> torch.Tensor:
            return (u[i] < prob) & (op in self.ops)

        one, zero = torch.ones_like(u[0]), torch.zeros_like(u[0])
        angles = (u[5:7] * 2 - 1) * (math.pi * self.rotate_max)
        return {
            "scale": torch.where(applied(0, "scale", p), torch.exp2(z[0] * self.scale_std), one),
            "pre_angle": torch.where(applied(1, "rotate", p_rot), angles[0], zero),
            "aniso": torch.where(applied(2, "aniso", p), torch.exp2(z[1] * self.aniso_std), one),
            "post_angle": torch.where(applied(3, "rotate", p_rot), angles[1], zero),
            "shift": torch.where(applied(4, "xfrac", p).unsqueeze(1), z[2:4].T * self.xfrac_std, zero.unsqueeze(1)),
        }

    @staticmethod
    def geometric_matrix(g: dict[str, torch.Tensor], size: tuple[int, int] | torch.Size) -> torch.Tensor:
        """(N, 3, 3) output -> source maps (pixels from the centre) undoing, in this order, the xfrac shift, the
        post-rotation, the anisotropic scaling, the pre-rotation and the isotropic scaling (applied the other way
        round); exactly the identity where no op was applied."""
        h, w = size
        scale, aniso, shift = g["scale"], g["aniso"], g["shift"]
        zero, one = torch.zeros_like(scale), torch.ones_like(scale)
        return (_linear(1 / scale, zero, zero, 1 / scale) @ _rotation(-g["pre_angle"])
                @ _linear(1 / aniso, zero, zero, aniso) @ _rotation(-g["post_angle"])
                @ _linear(one, zero, zero, one, -shift[:, 0] * w, -shift[:, 1] * h))

    def extra_repr(self) -> str:
        return f"ops={','.join(self.ops)}, p={float(self.p):.4f}, target={self.target}, ada_kimg={self.ada_kimg}"
