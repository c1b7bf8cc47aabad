"""pix2pix and injection networks: shapes, receptive field, bit-exact composite, losses with hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from synthmed.errors import SynthmedError
from synthmed.gan import image2image as i2i
from synthmed.gan.networks.pix2pix import (
    InjectDiscriminator,
    InpaintGenerator,
    MaskedPatchDiscriminator,
    PatchDiscriminator,
    UNetGenerator,
    composite,
    condition_planes,
    crop_boxes,
    inpaint_condition,
    lesion_boxes,
    pack_condition,
    patch_layers_for,
    patch_receptive_field,
    unpack_planes,
)


def _masks(n: int, res: int) -> torch.Tensor:
    m = torch.zeros(n, 1, res, res)
    m[:, :, res // 4: res // 2, res // 3: 3 * res // 4] = 1
    return m


@pytest.mark.parametrize("resolution", [64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_unet_generator_shapes(resolution: int, channels: int) -> None:
    torch.manual_seed(0)
    G = UNetGenerator(num_classes=3, resolution=resolution, channels=channels, width=4, max_width=16)
    cond = pack_condition(_masks(2, resolution), torch.tensor([0, 2]))
    x = G(cond)
    assert x.shape == (2, channels, resolution, resolution)
    assert x.abs().max() <= 1 and torch.isfinite(x).all()
    assert G.net.depth == int(math.log2(resolution))  # down to 1x1 as in the paper
    D = MaskedPatchDiscriminator(3, channels, resolution, width=4, max_width=16)
    logits = D(x, cond)
    side = {64: 30, 128: 30}[resolution]  # 64/2 - 2 (one stride-2 layer), 128/4 - 2 (two)
    assert logits.shape == (2, 1, side, side)


def test_unet_rejects_a_resolution_that_is_not_a_power_of_two() -> None:
    with pytest.raises(SynthmedError, match="power-of-two"):
        UNetGenerator(2, 96, 1)


def test_class_planes_are_one_hot() -> None:
    planes = condition_planes(torch.zeros(2, 1, 4, 4), torch.tensor([1, 0]), 3)
    assert planes.shape == (2, 4, 4, 4)
    assert planes[0, 2].eq(1).all() and planes[0, 1].eq(0).all() and planes[1, 1].eq(1).all()
    mask = (torch.rand(2, 1, 4, 4) > 0.5).float()
    assert torch.equal(unpack_planes(pack_condition(mask, torch.tensor([1, 0])), 3),
                       condition_planes(mask, torch.tensor([1, 0]), 3))
    assert torch.equal(unpack_planes(pack_condition(mask, torch.tensor([1, 0])), 0), mask)  # unconditional


def test_patch_receptive_field_is_the_papers_70_and_scales_with_the_image() -> None:
    assert [patch_receptive_field(n) for n in (1, 2, 3)] == [16, 34, 70]
    assert [patch_layers_for(r) for r in (64, 128, 256)] == [1, 2, 3]


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_patch_receptive_field_matches_the_gradient_support(n_layers: int) -> None:
    """The input pixels one output logit depends on form a square of the computed side (norms removed, since
    instance norm's statistics couple every pixel)."""
    D = PatchDiscriminator(1, width=2, max_width=4, n_layers=n_layers)
    for name, module in list(D.net.named_children()):
        if isinstance(module, nn.InstanceNorm2d):
            D.net[int(name)] = nn.Identity()
        if isinstance(module, nn.Conv2d):
            nn.init.constant_(module.weight, 0.1)
    x = torch.ones(1, 1, 160, 160, requires_grad=True)
    out = D.net(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1))[:, 0]
    cols = torch.nonzero(x.grad[0, 0].abs().sum(0))[:, 0]
    assert int(rows.max() - rows.min() + 1) == patch_receptive_field(n_layers)
    assert int(cols.max() - cols.min() + 1) == patch_receptive_field(n_layers)


def test_composite_keeps_the_outside_pixels_bit_exact() -> None:
    torch.manual_seed(0)
    bg = torch.rand(3, 3, 64, 64) * 2 - 1
    G = InpaintGenerator(num_classes=2, resolution=64, channels=3, n_features=2, width=4, max_width=8)
    m = _masks(3, 64)
    out = G(inpaint_condition(bg, m, torch.tensor([0, 1, 1]), torch.zeros(3, 2)))
    outside = m.expand_as(bg) < 0.5
    assert torch.equal(out[outside], bg[outside])
    assert not torch.equal(out[~outside], bg[~outside])
    assert torch.equal(composite(torch.full_like(bg, 7.0), bg, torch.zeros_like(m)), bg)


def test_injection_generator_cannot_see_the_pixels_under_the_mask() -> None:
    torch.manual_seed(0)
    G = InpaintGenerator(num_classes=2, resolution=32, channels=1, width=4, max_width=8, dropout=0.0)
    bg, m, y = torch.rand(2, 1, 32, 32), _masks(2, 32), torch.tensor([0, 1])
    other = torch.where(m > 0.5, torch.rand_like(bg), bg)  # same background, different hidden lesion
    assert torch.equal(G(inpaint_condition(bg, m, y)), G(inpaint_condition(other, m, y)))


def test_injection_generator_needs_its_features() -> None:
    G = InpaintGenerator(num_classes=0, resolution=32, channels=1, n_features=2, width=4, max_width=8)
    with pytest.raises(SynthmedError, match="2 lesion feature"):
        G(inpaint_condition(torch.zeros(1, 1, 32, 32), _masks(1, 32), None))


def test_injection_discriminator_global_and_local_parts() -> None:
    D = InjectDiscriminator(num_classes=2, channels=3, resolution=64, width=4, max_width=8)
    x, m = torch.rand(2, 3, 64, 64), _masks(2, 64)
    cond = inpaint_condition(x, m, torch.tensor([0, 1]), torch.zeros(2, 2))
    assert D(x, cond).shape == (2, 1, 30, 30)  # 64 px: one stride-2 layer
    assert D.local_size == 32 and D(x, cond, part="local").shape == (2, 1, 14, 14)  # 32 px crop, 64 px depth
    x2 = x.clone()
    x2[:, :, 60:, 60:] = 0  # far from the lesion: the local part does not see it
    assert torch.equal(D(x, cond, part="local"), D(x2, cond, part="local"))


def test_lesion_boxes_are_squares_around_the_lesion_with_a_margin() -> None:
    m = torch.zeros(2, 1, 64, 64)
    m[0, 0, 10:20, 20:30] = 1  # 10x10 lesion centred at (y 15, x 25)
    boxes = lesion_boxes(m, margin=0.25)
    assert boxes[0].tolist() == pytest.approx([25 - 6.25, 15 - 6.25, 25 + 6.25, 15 + 6.25])
    assert boxes[1].tolist() == [0, 0, 64, 64]  # no lesion: the whole image
    m[0, 0] = 0
    m[0, 0, 0:4, 0:40] = 1  # near the border: the square is shifted inside the image
    assert lesion_boxes(m, margin=0.25)[0].tolist() == pytest.approx([0, 0, 50, 50])


def test_crop_of_the_whole_image_at_its_own_size_is_the_image() -> None:
    x = torch.rand(1, 2, 16, 16)
    crop = crop_boxes(x, torch.tensor([[0.0, 0.0, 16.0, 16.0]]), 16)
    assert torch.allclose(crop, x, atol=1e-5)


def test_pix2pix_losses_by_hand() -> None:
    zeros = torch.zeros(2, 1, 3, 3)
    total, l1 = i2i.pix2pix_g_loss(zeros, torch.full((2, 1, 4, 4), 0.5), torch.zeros(2, 1, 4, 4))
    assert l1.item() == pytest.approx(0.5)
    assert total.item() == pytest.approx(math.log(2) + 100 * 0.5)
    d_loss = i2i.pix2pix_d_real(zeros) + i2i.pix2pix_d_fake(zeros)
    assert d_loss.item() == pytest.approx(math.log(2))  # half of 2 log 2
    assert i2i.pix2pix_d_real(torch.full((1, 1, 2, 2), 30.0)).item() < 1e-12


def test_reconstruction_loss_counts_lesion_pixels_only_and_per_lesion_pixel() -> None:
    real = torch.zeros(1, 1, 8, 8)
    fake = torch.full((1, 1, 8, 8), 100.0)
    m = torch.zeros(1, 1, 8, 8)
    m[0, 0, 2:4, 2:4] = 1
    fake[m > 0.5] = 1.0
    assert i2i.reconstruction_loss(fake, real, m).item() == pytest.approx(1.0)


def test_lesion_features_by_hand() -> None:
    x = torch.full((1, 3, 4, 4), -1.0)
    m = torch.zeros(1, 1, 4, 4)
    m[0, 0, :2, :2] = 1
    x[:, :, :2, :2] = 0.5
    feats = i2i.lesion_features(x, m)
    assert feats[0].tolist() == pytest.approx([4 / 16 * 2 - 1, 0.5])
    assert i2i.feature_loss(x, m, torch.tensor([0.25])).item() == pytest.approx(0.25)
