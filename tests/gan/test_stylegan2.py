"""StyleGAN2 networks and the R1 penalty: shapes, conditioning, truncation, hand-checked layers, a few train steps."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from synthmed.errors import SynthmedError
from synthmed.gan.networks.stylegan2 import (
    ModulatedConv2d,
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    downsample2d,
    minibatch_stddev,
    upsample2d,
)
from synthmed.gan.regularizers import r1_penalty

TINY = {"channel_base": 256, "channel_max": 32}


def tiny_pair(resolution: int = 32, channels: int = 1, num_classes: int = 2):
    torch.manual_seed(0)
    G = StyleGAN2Generator(z_dim=32, w_dim=32, num_classes=num_classes, resolution=resolution, channels=channels,
                           mapping_layers=2, **TINY)
    D = StyleGAN2Discriminator(num_classes=num_classes, resolution=resolution, channels=channels, **TINY)
    return G, D


@pytest.mark.parametrize("resolution", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("num_classes", [0, 3])
def test_shapes(resolution, channels, num_classes):
    G, D = tiny_pair(resolution, channels, num_classes)
    assert (G.z_dim, G.num_classes, G.resolution, G.channels) == (32, num_classes, resolution, channels)
    z = torch.randn(5, G.z_dim)
    labels = torch.tensor([0, 1, 2, 0, 1]) if num_classes else None
    img = G(z, labels)
    assert img.shape == (5, channels, resolution, resolution)
    assert torch.isfinite(img).all()
    assert img.abs().mean() < 3  # roughly unit scale at initialisation
    logits = D(img, labels)
    assert logits.shape == (5,)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("resolution", [16, 28, 48, 512])
def test_bad_resolution(resolution):
    with pytest.raises(SynthmedError, match=f"stylegan2 makes power-of-two resolutions 32..256, got {resolution}"):
        StyleGAN2Generator(resolution=resolution, **TINY)
    with pytest.raises(SynthmedError, match="power-of-two"):
        StyleGAN2Discriminator(resolution=resolution, **TINY)


def test_default_config_is_the_papers():
    G = StyleGAN2Generator(resolution=32, channels=1)
    assert G.z_dim == 512 and G.w_dim == 512
    assert len(G.mapping.net) == 8
    assert G.synthesis.blocks[0].const.shape[0] == 512


def test_w_avg_updates_only_in_train_mode():
    G, _ = tiny_pair(num_classes=2)
    z, labels = torch.randn(8, 32), torch.zeros(8, dtype=torch.long)
    G.eval()
    G(z, labels)
    assert G.w_avg.abs().sum() == 0
    G.train()
    G(z, labels)
    assert G.w_avg.abs().sum() > 0
    # only class 0 was in the batch: class 1's average stays untouched
    assert G.mapping.w_avg_per_class[0].abs().sum() > 0
    assert G.mapping.w_avg_per_class[1].abs().sum() == 0
    assert "mapping.w_avg" in G.state_dict()


def _warm_w_avg(G: StyleGAN2Generator, steps: int = 5) -> None:
    G.train()
    with torch.no_grad():
        for _ in range(steps):
            G(torch.randn(16, G.z_dim), torch.arange(16) % G.num_classes)
    G.eval()


def test_truncation_psi0_gives_the_class_average_image():
    G, _ = tiny_pair(num_classes=2)
    _warm_w_avg(G)
    z = torch.randn(4, G.z_dim)
    same_class = G(z, torch.zeros(4, dtype=torch.long), truncation_psi=0.0, noise_mode="const")
    assert torch.allclose(same_class, same_class[:1].expand_as(same_class), atol=1e-6)
    other_class = G(z[:1], torch.ones(1, dtype=torch.long), truncation_psi=0.0, noise_mode="const")
    assert (other_class - same_class[:1]).abs().mean() > 1e-3  # per-class centre, not one shared image
    untruncated = G(z, torch.zeros(4, dtype=torch.long), truncation_psi=1.0, noise_mode="const")
    assert (untruncated[0] - untruncated[1]).abs().mean() > 1e-3


def test_noise_modes():
    G, _ = tiny_pair(num_classes=0)
    for layer in G.modules():
        if hasattr(layer, "noise_strength"):
            layer.noise_strength.data.fill_(0.5)
    z = torch.randn(2, G.z_dim)
    assert torch.equal(G(z, None, noise_mode="const"), G(z, None, noise_mode="const"))
    assert not torch.equal(G(z, None, noise_mode="random"), G(z, None, noise_mode="random"))
    with pytest.raises(ValueError, match="noise_mode"):
        G(z, None, noise_mode="bogus")


def test_conditioning_changes_output():
    G, D = tiny_pair(num_classes=2)
    z = torch.randn(3, G.z_dim).repeat(2, 1)
    labels = torch.tensor([0, 0, 0, 1, 1, 1])
    img = G(z, labels, noise_mode="const")
    assert (img[:3] - img[3:]).abs().mean() > 1e-2
    x = torch.randn(3, 1, 32, 32).repeat(2, 1, 1, 1)
    with torch.no_grad():
        D.embed.weight.normal_()  # the projection matters once the class embedding is non-trivial
    logits = D(x, labels)
    assert (logits[:3] - logits[3:]).abs().min() > 1e-4
    # one-hot labels give the same result as class indices
    assert torch.allclose(G(z, F.one_hot(labels, 2).float(), noise_mode="const"), img)
    assert torch.allclose(D(x, F.one_hot(labels, 2).float()), logits)


def test_conditional_sampling_yields_requested_classes():
    """The label path is learnable: fit G so class 0 is bright and class 1 dark, then sample each class."""
    G, _ = tiny_pair(num_classes=2)
    opt = torch.optim.Adam(G.parameters(), lr=0.01, betas=(0.0, 0.99))
    for _ in range(30):
        labels = torch.arange(8) % 2
        img = G(torch.randn(8, G.z_dim), labels)
        target = torch.where(labels == 0, 0.5, -0.5).view(-1, 1, 1, 1).expand_as(img)
        loss = F.mse_loss(img, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    G.eval()
    with torch.no_grad():
        bright = G(torch.randn(16, G.z_dim), torch.zeros(16, dtype=torch.long)).mean(dim=(1, 2, 3))
        dark = G(torch.randn(16, G.z_dim), torch.ones(16, dtype=torch.long)).mean(dim=(1, 2, 3))
    assert bright.mean() > 0.2 and dark.mean() < -0.2
    assert (bright > 0).sum() >= 12 and (dark < 0).sum() >= 12


def test_modulated_conv_matches_per_sample_weights():
    """Our activation-side modulation equals convolving each sample with its own modulated, demodulated weight."""
    torch.manual_seed(1)
    conv = ModulatedConv2d(4, 5, 3, w_dim=6)
    with torch.no_grad():
        conv.affine.bias.normal_()
    x, w = torch.randn(2, 4, 8, 8), torch.randn(2, 6)
    styles = conv.affine(w)
    expected = []
    for i in range(2):
        wi = conv.weight * conv.weight_gain * styles[i].view(1, 4, 1, 1)
        wi = wi / wi.square().sum(dim=(1, 2, 3), keepdim=True).add(1e-8).sqrt()
        expected.append(F.conv2d(x[i:i + 1], wi, padding=1))
    assert torch.allclose(conv(x, w), torch.cat(expected), atol=1e-5)


def test_resampling_filters():
    x = torch.randn(2, 3, 8, 8)
    up, down = upsample2d(x), downsample2d(x)
    assert up.shape == (2, 3, 16, 16) and down.shape == (2, 3, 4, 4)
    # away from the zero-padded border a constant stays constant (filters have unit DC gain)
    const = torch.full((1, 1, 8, 8), 2.0)
    assert torch.allclose(upsample2d(const)[..., 2:-2, 2:-2], const.new_full((1, 1, 12, 12), 2.0))
    assert torch.allclose(downsample2d(const)[..., 1:-1, 1:-1], const.new_full((1, 1, 2, 2), 2.0))
    # [1,3,3,1]/8 down-filter by hand on a 1-D ramp (rows constant): output column j = sum_k f_k x[2j-1+k]
    ramp = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 8, 8)
    expected = torch.tensor([(1 + 3 * 2 + 3 * 3 + 4) / 8, (3 + 3 * 4 + 3 * 5 + 6) / 8])
    assert torch.allclose(downsample2d(ramp)[0, 0, 2, 1:3], expected)


def test_minibatch_stddev_by_hand():
    x = torch.tensor([0.0, 2.0, 4.0, 7.0]).view(4, 1, 1, 1)
    out = minibatch_stddev(x, group_size=4)
    assert out.shape == (4, 2, 1, 1)
    values = torch.tensor([0.0, 2.0, 4.0, 7.0])
    assert torch.allclose(out[:, 1].flatten(), values.std(unbiased=False).expand(4), atol=1e-4)
    # groups of 2 pair sample i with sample i + 2: (0, 4) std 2 and (2, 7) std 2.5
    out2 = minibatch_stddev(x, group_size=2)
    assert torch.allclose(out2[:, 1].flatten(), torch.tensor([2.0, 2.5, 2.0, 2.5]), atol=1e-4)
    # batch 6 with group 4: falls back to groups of 3
    assert minibatch_stddev(torch.randn(6, 2, 4, 4), group_size=4).shape == (6, 3, 4, 4)


class LinearD(nn.Module):
    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return (x * self.weight).flatten(1).sum(dim=1)


def test_r1_penalty_linear_discriminator():
    w = torch.tensor([[[[1.0, -2.0], [3.0, 0.5]]]])
    D = LinearD(w)
    penalty = r1_penalty(D, torch.randn(5, 1, 2, 2), None)
    assert math.isclose(penalty.item(), 1 + 4 + 9 + 0.25, rel_tol=1e-6)
    penalty.backward()  # d/dw ||w||^2 = 2w
    assert torch.allclose(D.weight.grad, 2 * w)


def test_r1_penalty_reaches_every_discriminator_parameter():
    _, D = tiny_pair(num_classes=2)
    real = torch.randn(4, 1, 32, 32)
    penalty = r1_penalty(D, real, torch.tensor([0, 1, 0, 1]))
    assert penalty.ndim == 0 and penalty.item() > 0
    penalty.backward()
    assert all(p.grad is not None for p in D.parameters())  # needed for DDP's reducer


def test_few_training_steps_non_saturating_with_r1():
    from synthmed.gan.augment import AdaptiveAugment

    G, D = tiny_pair(num_classes=2)
    aug = AdaptiveAugment(p=0.3)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.0, 0.99))
    real = torch.rand(8, 1, 32, 32) * 2 - 1
    labels = torch.arange(8) % 2
    before = [p.detach().clone() for p in G.parameters()]
    for step in range(3):
        fake = G(torch.randn(8, G.z_dim), labels)
        loss_g = F.softplus(-D(aug(fake), labels)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        fake = G(torch.randn(8, G.z_dim), labels).detach()
        real_logits = D(aug(real), labels)
        loss_d = F.softplus(D(aug(fake), labels)).mean() + F.softplus(-real_logits).mean()
        if step % 2 == 0:  # lazy R1
            loss_d = loss_d + r1_penalty(D, aug(real), labels) * (1.0 / 2) * 2
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        aug.accumulate(real_logits)
        assert math.isfinite(loss_g.item()) and math.isfinite(loss_d.item())
    assert any(not torch.equal(a, b) for a, b in zip(before, G.parameters(), strict=True))
    aug.step()
    assert 0.0 <= float(aug.p) <= 1.0


def test_truncation_unconditional_pulls_toward_w_avg():
    G, _ = tiny_pair(num_classes=0)
    G.train()
    with torch.no_grad():
        G(torch.randn(16, G.z_dim), None)
    G.eval()
    z = torch.randn(3, G.z_dim)
    w = G.mapping(z, None, truncation_psi=1.0)
    half = G.mapping(z, None, truncation_psi=0.5)
    assert torch.allclose(half, G.w_avg + 0.5 * (w - G.w_avg), atol=1e-6)
    img = G(z, None, truncation_psi=0.0, noise_mode="const")
    assert torch.allclose(img, img[:1].expand_as(img), atol=1e-6)
