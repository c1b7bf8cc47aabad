"""DiffAugment and ADA: shapes, exact geometry against torch references, identity at p=0, gradients, p schedule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from synthmed.errors import SynthmedError
from synthmed.gan.augment import DEFAULT_ADA_OPS, AdaptiveAugment, diff_augment


def ramp_images(n: int = 6, channels: int = 1, size: int = 16) -> torch.Tensor:
    """Every pixel distinct, so a geometric op can be recognised exactly."""
    base = torch.arange(channels * size * size, dtype=torch.float32).view(1, channels, size, size) / (size * size)
    return (base + 0.5).repeat(n, 1, 1, 1)


def zero_pad_shift(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Reference: content moved by (dy, dx), zeros shifted in (torch.roll + explicit zeroing)."""
    out = torch.roll(img, shifts=(dy, dx), dims=(-2, -1))
    h, w = img.shape[-2:]
    if dy > 0:
        out[..., :dy, :] = 0
    elif dy < 0:
        out[..., h + dy:, :] = 0
    if dx > 0:
        out[..., :, :dx] = 0
    elif dx < 0:
        out[..., :, w + dx:] = 0
    return out


def reflect_shift(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Reference from torch's reflect padding: content moved by (dy, dx), mirrored pixels shifted in."""
    h, w = img.shape[-2:]
    m = max(abs(dy), abs(dx), 1)
    padded = F.pad(img.unsqueeze(0), (m, m, m, m), mode="reflect")[0]
    return padded[..., m - dy:m - dy + h, m - dx:m - dx + w]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("policy", ["translation,cutout,color", "color", "translation", "cutout", ""])
def test_diff_augment_shape(channels, policy):
    x = torch.rand(4, channels, 32, 32) * 2 - 1
    out = diff_augment(x, policy)
    assert out.shape == x.shape and torch.isfinite(out).all()
    if policy == "":
        assert torch.equal(out, x)


def test_diff_augment_unknown_op():
    with pytest.raises(SynthmedError, match="unknown DiffAugment op"):
        diff_augment(torch.zeros(1, 1, 32, 32), "translation,rotate")


def test_diff_augment_generator_reproducible():
    x = torch.rand(4, 3, 32, 32)
    a = diff_augment(x, generator=torch.Generator().manual_seed(3))
    b = diff_augment(x, generator=torch.Generator().manual_seed(3))
    c = diff_augment(x, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.manual_seed(5)
    d = diff_augment(x)
    torch.manual_seed(5)
    assert torch.equal(d, diff_augment(x))


def test_diff_augment_translation_is_a_zero_padded_shift():
    x = ramp_images(8, size=16)
    out = diff_augment(x, "translation", generator=torch.Generator().manual_seed(0))
    shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]  # 16 // 8 = 2 pixels at most
    found = []
    for i in range(8):
        match = [s for s in shifts if torch.equal(out[i], zero_pad_shift(x[i], *s))]
        assert len(match) == 1
        found.append(match[0])
    assert len(set(found)) > 1


def test_diff_augment_cutout_zeroes_one_square():
    x = torch.ones(16, 1, 32, 32)
    out = diff_augment(x, "cutout")
    for img in out[:, 0]:
        rows, cols = torch.nonzero(img == 0, as_tuple=True)
        assert 0 < rows.numel() <= 16 * 16
        # the zeros form a full rectangle (a square clipped by the border)
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert box == rows.numel()
        assert set(img.unique().tolist()) <= {0.0, 1.0}


def test_diff_augment_color_on_grayscale_is_affine_per_image():
    """Grayscale 'color' = brightness + contrast only: out = a * x + b for each image."""
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    out = diff_augment(x, "color")
    for xi, oi in zip(x, out, strict=True):
        design = torch.stack([xi.flatten(), torch.ones(xi.numel())], dim=1)
        coef = torch.linalg.lstsq(design, oi.flatten().unsqueeze(1)).solution
        assert torch.allclose(design @ coef, oi.flatten().unsqueeze(1), atol=1e-5)
        assert 0.5 - 1e-5 <= coef[0].item() <= 1.5 + 1e-5  # contrast factor in U(0.5, 1.5)


def test_ada_p0_is_identity_and_p1_changes():
    x = torch.rand(8, 3, 32, 32) * 2 - 1
    assert torch.equal(AdaptiveAugment(p=0.0)(x), x)
    assert not torch.equal(AdaptiveAugment(p=1.0)(x), x)


def test_ada_xflip_exact():
    x = ramp_images(32, size=8)
    out = AdaptiveAugment("xflip", p=1.0)(x)
    flipped = [torch.equal(o, x[0].flip(-1)) for o in out]
    same = [torch.equal(o, x[0]) for o in out]
    assert all(f or s for f, s in zip(flipped, same, strict=True))
    assert any(flipped) and any(same)  # flip half the time when chosen (non-leaking)


def test_ada_rotate90_matches_torch_rot90():
    x = ramp_images(32, channels=3, size=8)
    out = AdaptiveAugment("rotate90", p=1.0)(x)
    ks = []
    for o in out:
        match = [k for k in range(4) if torch.equal(o, torch.rot90(x[0], k, dims=(-2, -1)))]
        assert len(match) == 1
        ks.append(match[0])
    assert len(set(ks)) == 4


def test_ada_translation_matches_reflect_padding():
    x = ramp_images(16, size=16)
    out = AdaptiveAugment("translation", p=1.0)(x)
    shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)]
    for o in out:
        assert sum(torch.equal(o, reflect_shift(x[0], *s)) for s in shifts) == 1


def test_ada_saturation_skipped_for_grayscale():
    gray = torch.rand(4, 1, 16, 16)
    assert torch.equal(AdaptiveAugment("saturation", p=1.0)(gray), gray)
    rgb = torch.rand(4, 3, 16, 16)
    out = AdaptiveAugment("saturation", p=1.0)(rgb)
    assert not torch.equal(out, rgb)
    assert torch.allclose(out.mean(dim=1), rgb.mean(dim=1), atol=1e-5)  # saturation keeps the channel mean


def test_ada_probability_per_sample():
    torch.manual_seed(0)
    x = torch.rand(2000, 1, 4, 4) + 1.0
    out = AdaptiveAugment("brightness", p=0.25)(x)
    changed = (out != x).flatten(1).any(dim=1).float().mean().item()
    assert 0.21 < changed < 0.29


def test_ada_unknown_op():
    with pytest.raises(SynthmedError, match="unknown ADA op"):
        AdaptiveAugment("xflip,hue")


@pytest.mark.parametrize("channels", [1, 3])
def test_gradients_flow(channels):
    x = (torch.rand(4, channels, 32, 32) * 2 - 1).requires_grad_(True)
    weight = torch.randn(1, channels, 32, 32)
    for augment in (lambda t: diff_augment(t), AdaptiveAugment(p=1.0)):
        x.grad = None
        (augment(x) * weight).sum().backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_ada_update_rule():
    aug = AdaptiveAugment(p=0.5, ada_kimg=500)
    assert aug.update(0.9, 64) == pytest.approx(0.5 + 64 / 500_000)
    assert aug.update(0.1, 128) == pytest.approx(0.5 + 64 / 500_000 - 128 / 500_000)
    assert aug.update(1.0, 10**7) == 1.0  # clamped
    assert aug.update(-1.0, 10**7) == 0.0
    assert aug.update(0.2, 1000) == 0.0  # stays in [0, 1]


def test_ada_accumulate_and_step():
    aug = AdaptiveAugment(p=0.5, ada_kimg=1)
    aug.accumulate(torch.tensor([2.0, 1.0, 3.0, -1.0]))  # r_t = (1 + 1 + 1 - 1) / 4 = 0.5 < 0.6
    assert aug.step() == pytest.approx(0.5 - 4 / 1000)
    aug.accumulate(torch.tensor([1.0, 1.0, 1.0, 1.0]))  # r_t = 1 > 0.6
    assert aug.step() == pytest.approx(0.5)
    assert aug.step() == pytest.approx(0.5)  # nothing accumulated: unchanged


def test_ada_state_dict_resumes_exactly():
    aug = AdaptiveAugment(p=0.0)
    aug.update(1.0, 123_000)
    aug.accumulate(torch.tensor([1.0, -1.0, 1.0]))
    restored = AdaptiveAugment()
    restored.load_state_dict(aug.state_dict())
    assert float(restored.p) == pytest.approx(0.246) and torch.equal(restored.sign_sum, aug.sign_sum)
    x = torch.rand(8, 3, 32, 32)
    torch.manual_seed(7)
    a = aug(x)
    torch.manual_seed(7)
    assert torch.equal(restored(x), a)
    assert set(DEFAULT_ADA_OPS) == set(restored.ops)
