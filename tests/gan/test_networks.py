"""Network shapes for every architecture, grayscale and RGB, at 32 and 64; resolution errors."""

from __future__ import annotations

import pytest
import torch

from synthmed.errors import SynthmedError
from synthmed.gan.networks import build_networks
from tests.gan.helpers import TINY_NETS


def _kw(arch: str) -> dict:
    kw = dict(TINY_NETS[arch])
    if arch == "stylegan2":  # what options.net_kwargs passes: channels = width at R, capped
        return {"z_dim": kw["z_dim"], "channel_base": 8 * 64, "channel_max": 16, "mapping_layers": kw["mapping_layers"]}
    return kw


@pytest.mark.parametrize("arch", ["dcgan", "wgan-gp", "stylegan2"])
@pytest.mark.parametrize("resolution", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shapes(arch: str, resolution: int, channels: int) -> None:
    torch.manual_seed(0)
    G, D = build_networks(arch, resolution, channels, num_classes=3, cond=True, **_kw(arch))
    assert (G.z_dim, G.num_classes, G.resolution, G.channels) == (16, 3, resolution, channels)
    z, labels = torch.randn(4, 16), torch.tensor([0, 1, 2, 0])
    x = G(z, labels)
    assert x.shape == (4, channels, resolution, resolution)
    assert torch.isfinite(x).all()
    assert D(x, labels).shape == (4,)
    assert G(z, labels, truncation_psi=0.5).shape == x.shape


@pytest.mark.parametrize("arch", ["dcgan", "wgan-gp"])
def test_label_changes_the_image_and_psi_zero_is_the_mean_latent(arch: str) -> None:
    torch.manual_seed(0)
    G, _ = build_networks(arch, 32, 1, num_classes=2, cond=True, **_kw(arch))
    G.eval()
    z = torch.randn(2, 16)
    a, b = G(z, torch.tensor([0, 0])), G(z, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)
    # Latent truncation: psi = 0 maps every z to z = 0, so all samples of a class coincide.
    t = G(z, torch.tensor([1, 1]), truncation_psi=0.0)
    torch.testing.assert_close(t[0], t[1])


def test_unconditional_pair_ignores_labels() -> None:
    G, D = build_networks("dcgan", 32, 1, num_classes=2, cond=False, width=8, z_dim=16)
    assert G.num_classes == 0
    x = G(torch.randn(2, 16), None)
    assert D(x, None).shape == (2,)


@pytest.mark.parametrize("norm", [None, "layer", "instance", "none"])
def test_wgan_critic_scores_each_sample_alone(norm: str | None) -> None:
    # The gradient penalty is per sample, so a sample's score must not depend on the rest of the batch
    # (no batchnorm); every normalisation the critic offers keeps that.
    torch.manual_seed(0)
    kw = {"critic_norm": norm} if norm else {}
    _, D = build_networks("wgan-gp", 64, 1, num_classes=2, cond=True, width=8, z_dim=16, **kw)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    x, labels = torch.randn(4, 1, 64, 64), torch.tensor([0, 1, 1, 0])
    alone = torch.cat([D(x[i:i + 1], labels[i:i + 1]) for i in range(4)])
    torch.testing.assert_close(D(x, labels), alone)
    groups = {m.num_groups == m.num_channels for m in D.modules() if isinstance(m, torch.nn.GroupNorm)}
    assert groups == {"layer": {False}, "instance": {True}, "none": set()}[norm or "layer"]


@pytest.mark.parametrize("arch", ["dcgan", "wgan-gp", "stylegan2"])
@pytest.mark.parametrize("resolution", [28, 48, 512])
def test_impossible_resolution_is_a_one_line_error(arch: str, resolution: int) -> None:
    with pytest.raises(SynthmedError, match=str(resolution)):
        build_networks(arch, resolution, 1, num_classes=2, cond=True, z_dim=16)



@pytest.mark.parametrize("resolution", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_resize_upsampling_generator_shapes(resolution: int, channels: int) -> None:
    G, D = build_networks("wgan-gp", resolution, channels, num_classes=2, cond=True, upsample="resize",
                          **_kw("wgan-gp"))
    x = G(torch.randn(3, 16), torch.tensor([0, 1, 1]))
    assert x.shape == (3, channels, resolution, resolution) and D(x, torch.tensor([0, 1, 1])).shape == (3,)
    doubling = [*G.convs[1:], G.to_image]  # the first layer maps the 1x1 latent to 4x4 and stays transposed
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for layer in doubling for m in layer.modules())


def test_resize_upsampling_has_no_checkerboard() -> None:
    # A constant image through a random kernel: a stride-2 transposed conv sums a different subset of taps
    # at even and odd output positions, a 2-pixel checkerboard; resize then conv sees a constant everywhere.
    from synthmed.gan.networks.dcgan import upsampling_conv

    torch.manual_seed(0)
    x = torch.ones(1, 1, 6, 6)
    with torch.no_grad():
        transposed = upsampling_conv(1, 1, "transposed", bias=False)(x)[0, 0, 2:-2, 2:-2]
        resized = upsampling_conv(1, 1, "resize", bias=False)(x)[0, 0, 2:-2, 2:-2]
    assert transposed.shape == resized.shape == (8, 8)
    assert not torch.allclose(transposed[0::2, 0::2], transposed[1::2, 1::2])
    torch.testing.assert_close(resized, torch.full_like(resized, float(resized[0, 0])))
