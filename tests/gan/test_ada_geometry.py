"""ADA's general geometric ops (scale, rotate, aniso, xfrac): against torchvision and SciPy, hand-computed cases,
parameter distributions, and the default ops reproducing the first ADA version bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from synthmed.errors import SynthmedError
from synthmed.gan.augment import (
    ADA_OPS,
    ADA_PRESETS,
    DEFAULT_ADA_OPS,
    AdaptiveAugment,
    _cutout_mask,
    _gather,
    _grid,
    _rand,
    _randn,
    _resample,
    parse_ada_ops,
)

# ----------------------------------------------------------------------------------------------------------------
# The first ADA version (AdaptiveAugment.forward and _geometry on main at cd0bcd4, before these ops existed), kept
# verbatim as a function: the default ops must still give exactly its output, so old runs resume bit-identically.


def legacy_ada(x, ops, p, generator=None, translate=0.125, brightness_std=0.2, contrast_std=0.5,
               saturation_std=1.0, cutout_size=0.5):
    old_ops = ("xflip", "rotate90", "translation", "brightness", "contrast", "saturation", "cutout")
    n, c = x.shape[:2]
    p = torch.tensor(float(p)).to(device=x.device, dtype=torch.float32)
    chosen = _rand((len(old_ops), n, 1, 1, 1), x, generator) < p
    params = _rand((6, n, 1, 1, 1), x, generator)
    normals = _randn((3, n, 1, 1, 1), x, generator).to(x.dtype)
    use = {op: chosen[i] if op in ops else None for i, op in enumerate(old_ops)}
    x = legacy_geometry(x, use, params, translate)
    if use["brightness"] is not None:
        x = torch.where(use["brightness"], x + normals[0] * brightness_std, x)
    if use["contrast"] is not None:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        factor = torch.exp2(normals[1] * contrast_std)
        x = torch.where(use["contrast"], (x - mean) * factor + mean, x)
    if use["saturation"] is not None and c == 3:
        mean = x.mean(dim=1, keepdim=True)
        factor = torch.exp2(normals[2] * saturation_std)
        x = torch.where(use["saturation"], (x - mean) * factor + mean, x)
    if use["cutout"] is not None:
        centre = params[4:6, :, 0].transpose(0, 1)  # (N, 2, 1, 1)
        x = torch.where(use["cutout"], x * _cutout_mask(x, cutout_size, centre), x)
    return x


def legacy_geometry(x, use, params, translate):
    if use["xflip"] is None and use["rotate90"] is None and use["translation"] is None:
        return x
    h, w = x.shape[-2:]
    one = torch.ones_like(params[0])
    flip = torch.where(use["xflip"] & (params[0] < 0.5), -one, one) if use["xflip"] is not None else one
    k = (params[1] * 4).floor().clamp(max=3).long()  # quarter turns
    k = torch.where(use["rotate90"], k, 0) if use["rotate90"] is not None else torch.zeros_like(k)
    cos = torch.tensor([1.0, 0.0, -1.0, 0.0], device=x.device)[k]
    sin = torch.tensor([0.0, 1.0, 0.0, -1.0], device=x.device)[k]
    zero = torch.zeros_like(params[0])
    tx = ((params[2] * 2 - 1) * translate * w).round()
    ty = ((params[3] * 2 - 1) * translate * h).round()
    if use["translation"] is not None:
        tx, ty = torch.where(use["translation"], tx, zero), torch.where(use["translation"], ty, zero)
    else:
        tx, ty = zero, zero
    yy, xx = _grid(x)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    u = xx.float() - cx - tx[:, 0]
    v = yy.float() - cy - ty[:, 0]
    cos, sin, flip = cos[:, 0], sin[:, 0], flip[:, 0]
    su = (cos * u + sin * v) * flip
    sv = -sin * u + cos * v
    sx = (su + cx).round().long()
    sy = (sv + cy).round().long()
    return _gather(x, sy, sx, padding="reflect")


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("ops", [",".join(DEFAULT_ADA_OPS), "xflip,rotate90,translation", "translation,contrast",
                                 "default"])
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_default_ops_reproduce_the_first_version_exactly(channels, ops, p):
    x = torch.rand(16, channels, 16, 16) * 2 - 1
    names = parse_ada_ops(ops)
    for seed in (0, 1):
        new = AdaptiveAugment(ops, p=p)(x, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(new, legacy_ada(x, names, p, generator=torch.Generator().manual_seed(seed)))
    torch.manual_seed(9)  # the global RNG path, and the stream it leaves behind
    new, after_new = AdaptiveAugment(ops, p=p)(x), torch.rand(3)
    torch.manual_seed(9)
    assert torch.equal(new, legacy_ada(x, names, p)) and torch.equal(after_new, torch.rand(3))


def test_default_ops_match_a_value_recorded_on_main():
    """Anchors the legacy copy too: the sums below were printed by the code on main before this change."""
    x = ((torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8) % 17) / 8 - 1).repeat(4, 1, 1, 1)
    out = AdaptiveAugment(p=0.6)(x, generator=torch.Generator().manual_seed(1234)).double()
    # rel 1e-9: the same machine gives these exactly; another CPU's exp2 / sums may differ in the last bits.
    assert out.sum().item() == pytest.approx(53.91604419704527, rel=1e-9)
    assert (out**2).sum().item() == pytest.approx(742.0399300708966, rel=1e-9)


# ----------------------------------------------------------------------------------------------------------------
# The resampling, against references


def params(n=1, scale=1.0, pre=0.0, aniso=1.0, post=0.0, shift=(0.0, 0.0)):
    """Hand-set parameters of the general geometric ops (angles in degrees, shift in fractions of the size)."""
    full = lambda v: torch.full((n,), float(v), dtype=torch.float64)  # noqa: E731
    return {"scale": full(scale), "pre_angle": full(math.radians(pre)), "aniso": full(aniso),
            "post_angle": full(math.radians(post)), "shift": torch.tensor([shift], dtype=torch.float64).repeat(n, 1)}


def source_pixels(inverse: torch.Tensor, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Hand-applied map: each output pixel's source (row, column), from the 3x3 output -> source matrix."""
    m = inverse.double().numpy()
    rows, cols = np.meshgrid(np.arange(h, dtype=float), np.arange(w, dtype=float), indexing="ij")
    u, v = cols - (w - 1) / 2, rows - (h - 1) / 2
    return m[1, 0] * u + m[1, 1] * v + m[1, 2] + (h - 1) / 2, m[0, 0] * u + m[0, 1] * v + m[0, 2] + (w - 1) / 2


@pytest.mark.parametrize(("angle", "scale", "tx", "ty"), [(30.0, 1.0, 0.0, 0.0), (-73.0, 1.25, 2.5, -1.75),
                                                          (150.0, 0.8, -3.2, 0.6), (0.0, 1.0, 1.5, 0.5)])
def test_matches_torchvision_affine_in_the_interior(angle, scale, tx, ty):
    """torchvision's affine (bilinear, rotation about the centre, then scale, then shift in pixels; positive angle
    clockwise on screen, as here) vs scale + rotate + xfrac. Borders differ by design (torchvision pads with zeros,
    we mirror), so only pixels whose source lies inside the image are compared. Both evaluate bilinear weights at
    float32 coordinates from differently rounded matrices, off by ~1e-6 px; with neighbouring pixels at most 1
    apart that bounds the difference by ~1e-6, hence atol 1e-5."""
    size = 24
    x = torch.rand(2, 3, size, size)
    g = params(2, scale=scale, pre=angle, shift=(tx / size, ty / size))
    inverse = AdaptiveAugment.geometric_matrix(g, (size, size))
    mine = _resample(x, inverse)
    ref = TF.affine(x, angle=angle, translate=[tx, ty], scale=scale, shear=[0.0, 0.0],
                    interpolation=InterpolationMode.BILINEAR)
    rows, cols = source_pixels(inverse[0], size, size)
    inside = torch.from_numpy((rows >= 0) & (rows <= size - 1) & (cols >= 0) & (cols <= size - 1))
    assert inside.sum() > size * size // 4
    assert torch.allclose(mine[..., inside], ref[..., inside], atol=1e-5, rtol=0)


@pytest.mark.parametrize("g", [params(scale=0.7, pre=40, aniso=1.4, post=-115, shift=(0.3, -0.2)),
                               params(scale=1.5, aniso=0.6, shift=(-0.9, 1.3)), params(pre=179, post=-12)])
def test_matches_scipy_everywhere_including_the_mirrored_borders(g):
    """SciPy's map_coordinates (order 1 = bilinear; mode "mirror" reflects about the edge pixels' centres, as here)
    at the hand-applied source coordinates, over the whole image, including sources far outside it. Float64 both
    ways, so they agree to rounding (1e-12)."""
    h, w = 10, 14
    x = torch.rand(1, 1, h, w, dtype=torch.float64)
    inverse = AdaptiveAugment.geometric_matrix(g, (h, w))
    rows, cols = source_pixels(inverse[0], h, w)
    ref = ndimage.map_coordinates(x[0, 0].numpy(), [rows, cols], order=1, mode="mirror")
    assert np.abs(_resample(x, inverse)[0, 0].numpy() - ref).max() < 1e-12


@pytest.mark.parametrize(("key", "angle", "k"), [("pre_angle", 90.0, -1), ("post_angle", -90.0, 1),
                                                ("pre_angle", 180.0, 2)])
def test_rotate_by_right_angles_is_rot90(key, angle, k):
    """At multiples of 90 degrees every source is a pixel centre inside the image: the whole image is torch.rot90's
    (clockwise on screen = k -1), up to cos(pi / 2) = 6e-17 in the coordinates (atol 1e-5)."""
    x = torch.rand(3, 2, 12, 12)
    g = params(3)
    g[key] = torch.full((3,), math.radians(angle), dtype=torch.float64)
    out = _resample(x, AdaptiveAugment.geometric_matrix(g, (12, 12)))
    assert torch.allclose(out, torch.rot90(x, k, dims=(-2, -1)), atol=1e-5, rtol=0)


def test_identity_parameters_return_the_input_exactly():
    x = torch.rand(4, 3, 16, 16)
    assert torch.equal(_resample(x, AdaptiveAugment.geometric_matrix(params(4), (16, 16))), x)
    # one sample shifted by a whole pixel, the others untouched bit for bit
    g = params(4)
    g["shift"][2] = torch.tensor([1 / 16, 0.0], dtype=torch.float64)
    out = _resample(x, AdaptiveAugment.geometric_matrix(g, (16, 16)))
    assert torch.equal(out[[0, 1, 3]], x[[0, 1, 3]])
    assert torch.allclose(out[2, :, :, 1:], x[2, :, :, :-1], atol=1e-6)  # moved right by one pixel
    assert torch.allclose(out[2, :, :, 0], x[2, :, :, 1], atol=1e-6)  # mirrored in: column 1, not the edge again


def test_anisotropic_scaling_by_two_is_hand_computable():
    """aniso 2 (x stretched by 2, y shrunk by 2) on an image linear in x and y: out(u, v) = in(u / 2, 2 v) in
    centred pixels, and bilinear interpolation is exact on a linear image; rows sourced outside are mirrored."""
    h = w = 9
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                                indexing="ij")
    x = (rows * 10 + cols).view(1, 1, h, w)
    out = _resample(x, AdaptiveAugment.geometric_matrix(params(aniso=2.0), (h, w)))[0, 0]
    centre = 4.0
    src_rows = (rows - centre) * 2 + centre
    src_rows = torch.where(src_rows < 0, -src_rows, torch.where(src_rows > h - 1, 2 * (h - 1) - src_rows, src_rows))
    expected = src_rows * 10 + (cols - centre) / 2 + centre
    assert torch.allclose(out, expected, atol=1e-12)


def test_blit_ops_through_the_affine_path_match_the_integer_gather():
    """With a general geometric op on (here scale with a zero spread, so an identity), the flips, quarter turns and
    integer shifts go through the bilinear resampling; their draws come first and are unchanged, so the result is
    the integer gather's up to float rounding of the coordinates."""
    x = torch.rand(32, 3, 16, 16)
    blit = "xflip,rotate90,translation"
    gather = AdaptiveAugment(blit, p=1.0)(x, generator=torch.Generator().manual_seed(2))
    affine = AdaptiveAugment(blit + ",scale", p=1.0, scale_std=0.0)(x, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(gather, x) and torch.allclose(affine, gather, atol=1e-5, rtol=0)


def test_non_square_images_rotate_but_not_by_quarter_turns():
    x = torch.rand(4, 1, 12, 20)
    out = AdaptiveAugment("rotate,scale,aniso,xfrac", p=1.0)(x)
    assert out.shape == x.shape and torch.isfinite(out).all() and not torch.equal(out, x)
    with pytest.raises(ValueError, match="square"):
        AdaptiveAugment("rotate90,rotate", p=1.0)(x)


# ----------------------------------------------------------------------------------------------------------------
# The op in training: probability, distributions, identity, resume, gradients


@pytest.mark.parametrize("ops", ["bgc", ",".join(ADA_OPS), "rotate"])
def test_p0_returns_the_input_unchanged(ops):
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    assert torch.equal(AdaptiveAugment(ops, p=0.0)(x), x)
    assert not torch.equal(AdaptiveAugment(ops, p=1.0)(x), x)


def test_parameter_distributions():
    """n = 20000 draws at p = 1. Tolerances ~4-5 standard errors: the median of log2 s (sd 0.2) has standard
    error 1.25 * 0.2 / sqrt(n) = 0.0018; a sample sd's is 0.2 / sqrt(2 n) = 0.001; a fraction's at most 0.0035."""
    n = 20_000
    aug = AdaptiveAugment("scale,rotate,aniso,xfrac", p=1.0)
    g = aug.draw_geometric(n, torch.zeros(1), torch.Generator().manual_seed(0))
    for key in ("scale", "aniso"):
        log2 = torch.log2(g[key])
        assert abs(log2.median().item()) < 0.008 and abs(log2.std().item() - 0.2) < 0.005
        assert abs(g[key].median().item() - 1.0) < 0.006  # median factor 1: centred on the identity
    # at p = 1 each rotation has probability 1: angles uniform in +-180 degrees
    for key in ("pre_angle", "post_angle"):
        angle = g[key]
        assert angle.abs().max() <= math.pi and abs(angle.mean().item()) < 0.05
        assert abs((angle.abs() > math.pi / 2).float().mean().item() - 0.5) < 0.015
    shift = g["shift"]
    assert abs(shift.mean().item()) < 0.004 and (shift.std(dim=0) - 0.125).abs().max() < 0.004


@pytest.mark.parametrize("p", [0.1, 0.3, 0.7])
def test_rotation_probability_is_p_over_both_rotations(p):
    """Each rotation with p_rot = 1 - sqrt(1 - p), so some rotation with probability p. Binomial tolerance: 4.5
    standard errors of a fraction over n = 20000 (sqrt(p (1 - p) / n) <= 0.0035)."""
    n = 20_000
    aug = AdaptiveAugment("rotate,scale", p=p)
    g = aug.draw_geometric(n, torch.zeros(1), torch.Generator().manual_seed(1))
    pre, post = g["pre_angle"] != 0, g["post_angle"] != 0
    p_rot = 1 - math.sqrt(1 - p)
    for fraction, expected in ((pre | post, p), (pre, p_rot), (post, p_rot), (g["scale"] != 1, p),
                               (g["aniso"] != 1, 0.0)):  # aniso is off: always the identity
        tol = 4.5 * math.sqrt(expected * (1 - expected) / n) + 1e-9
        assert abs(fraction.float().mean().item() - expected) <= tol


def test_augmented_fraction_of_images_is_p():
    """End to end: the fraction of images changed by the rotate op is p (4.5 binomial standard errors)."""
    n, p = 4000, 0.3
    x = torch.rand(n, 1, 6, 6)
    out = AdaptiveAugment("rotate", p=p)(x, generator=torch.Generator().manual_seed(3))
    changed = (out != x).flatten(1).any(dim=1).float().mean().item()
    assert abs(changed - p) < 4.5 * math.sqrt(p * (1 - p) / n)


def test_draws_are_fixed_per_call_whatever_p():
    """The stream after a call does not depend on p, nor on which general geometric ops are on."""
    x = torch.rand(4, 3, 8, 8)
    after = []
    for ops, p in (("bgc", 0.0), ("bgc", 0.9), ("xfrac", 0.5), (",".join(ADA_OPS), 1.0)):
        gen = torch.Generator().manual_seed(4)
        AdaptiveAugment(ops, p=p)(x, generator=gen)
        after.append(torch.rand(2, generator=gen))
    assert all(torch.equal(a, after[0]) for a in after)


def test_state_dict_resumes_exactly_with_the_new_ops():
    aug = AdaptiveAugment("bgc")
    aug.update(1.0, 300_000)
    restored = AdaptiveAugment("bgc")
    restored.load_state_dict(aug.state_dict())
    x = torch.rand(8, 3, 16, 16)
    torch.manual_seed(7)
    a = aug(x)
    torch.manual_seed(7)
    assert float(restored.p) == pytest.approx(0.6) and torch.equal(restored(x), a)


@pytest.mark.parametrize("channels", [1, 3])
def test_gradients_flow_to_the_input(channels):
    """G is trained through D(aug(G(z))): the resampling is linear in x, so gradcheck (float64) must pass."""
    x = torch.rand(3, channels, 8, 8, dtype=torch.float64, requires_grad=True)
    aug = AdaptiveAugment("scale,rotate,aniso,xfrac,translation", p=1.0)
    assert torch.autograd.gradcheck(lambda t: aug(t, generator=torch.Generator().manual_seed(5)), (x,))
    weight = torch.randn(3, channels, 8, 8, dtype=torch.float64)
    (AdaptiveAugment("bgc", p=1.0)(x) * weight).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_half_precision_images():
    x = torch.rand(4, 3, 16, 16)
    out16 = AdaptiveAugment("bgc", p=1.0)(x.to(torch.bfloat16), generator=torch.Generator().manual_seed(6))
    out32 = AdaptiveAugment("bgc", p=1.0)(x, generator=torch.Generator().manual_seed(6))
    assert out16.dtype == torch.bfloat16 and (out16.float() - out32).abs().max() < 0.05  # bf16 has 8 bits


# ----------------------------------------------------------------------------------------------------------------
# Op names and presets


def test_presets_and_unknown_names():
    assert parse_ada_ops("default") == list(DEFAULT_ADA_OPS)
    assert parse_ada_ops("bgc") == list(ADA_PRESETS["bgc"])
    assert parse_ada_ops("default,scale,xflip") == [*DEFAULT_ADA_OPS, "scale"]  # duplicates dropped
    assert {"scale", "rotate", "aniso", "xfrac"} <= set(parse_ada_ops("bgc")) and "cutout" not in parse_ada_ops("bgc")
    with pytest.raises(SynthmedError, match=r"unknown ADA op\(s\) hue; choose from .*or a preset: default, bgc"):
        AdaptiveAugment("bgc,hue")


def test_train_option_names_every_op_and_defaults_to_the_first_ops():
    from synthmed.gan.options import TrainConfig, resolve

    field = TrainConfig.model_fields["ada_ops"]
    assert parse_ada_ops(TrainConfig().ada_ops) == list(DEFAULT_ADA_OPS)
    assert all(name in field.description for name in (*ADA_OPS, *ADA_PRESETS))
    assert resolve(TrainConfig(arch="dcgan", aug="ada", ada_ops="bgc"), 28).ada_ops == "bgc"
    with pytest.raises(SynthmedError, match=r"^--ada-ops: unknown ADA op\(s\) spin;"):
        resolve(TrainConfig(arch="dcgan", aug="ada", ada_ops="xflip,spin"), 28)
