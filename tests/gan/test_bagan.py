"""BAGAN-GP pieces: the class Gaussians (hand-computed), the networks, the autoencoder phase."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthmed.errors import SynthmedError
from synthmed.gan.bagan import autoencoder_step, fit_latent_model, reconstruct
from synthmed.gan.data import load_train_images, to_model_range
from synthmed.gan.latent import class_gaussians, empirical_moments, shrunk_covariance
from synthmed.gan.networks.bagan import bagan_networks


# -- the latent model ------------------------------------------------------------------------------
def test_moments_by_hand() -> None:
    # (0,0), (3,0), (0,3): mean (1,1); centred (-1,-1), (2,-1), (-1,2); S = X^T X / 3 = [[2,-1],[-1,2]]
    mean, cov = empirical_moments(np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]]))
    np.testing.assert_allclose(mean, [1.0, 1.0])
    np.testing.assert_allclose(cov, [[2.0, -1.0], [-1.0, 2.0]])


def test_ledoit_wolf_by_hand() -> None:
    # Same three points. mu = tr(S)/d = 2. Ledoit-Wolf: beta = (sum((X^2)^T X^2)/n - ||X^T X||_F^2/n^2) / (d n)
    # = (54/3 - 90/9) / 6 = 4/3; delta = ||S - mu I||_F^2 / d = (0 + 1 + 1 + 0) / 2 = 1; shrinkage =
    # min(beta, delta) / delta = 1: three images in 2-d, so the estimate is all target, mu I = 2 I.
    cov, s = shrunk_covariance(np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]]))
    assert s == pytest.approx(1.0)
    np.testing.assert_allclose(cov, 2 * np.eye(2), atol=1e-12)


def test_rare_class_is_shrunk_more_and_its_covariance_is_usable() -> None:
    """Same anisotropic distribution, 400 vs 8 draws in 16-d: the rare class's S is singular (rank 7)."""
    rng = np.random.default_rng(0)
    scale = np.linspace(0.2, 3.0, 16)
    common, rare = rng.normal(size=(400, 16)) * scale + 5, rng.normal(size=(8, 16)) * scale - 5
    codes, labels = np.concatenate([common, rare]), np.array([0] * 400 + [1] * 8)
    model = class_gaussians(codes, labels, 2)
    assert model.counts.tolist() == [400, 8]
    assert model.shrinkage[1] > 0.5 and model.shrinkage[0] < 0.1
    np.testing.assert_allclose(model.means[1], rare.mean(axis=0))
    assert np.linalg.eigvalsh(model.covs[1]).min() > 0  # positive definite though n < d
    # the common class keeps its variances (0.04 to 9), up to sampling error and a little shrinkage
    np.testing.assert_allclose(np.diag(model.covs[0]), scale**2, rtol=0.2, atol=0.25)
    A = model.factors()
    np.testing.assert_allclose(A @ np.swapaxes(A, 1, 2), model.covs, atol=1e-10)


def test_factor_of_a_singular_covariance() -> None:
    # (1,0), (-1,0): Ledoit-Wolf's intensity is 0 here and S = [[1,0],[0,0]] is singular; the square root exists
    model = class_gaussians(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([0, 0]), 0)
    assert model.shrinkage[0] == 0
    A = model.factors()[0]
    np.testing.assert_allclose(A @ A.T, [[1.0, 0.0], [0.0, 0.0]], atol=1e-12)


def test_a_class_with_one_image_is_a_clear_error() -> None:
    with pytest.raises(SynthmedError, match="class 1 has 1 training image"):
        class_gaussians(np.zeros((3, 4)), np.array([0, 0, 1]), 2)


# -- networks -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("resolution", "channels"), [(32, 1), (64, 3)])
def test_shapes_and_heads(resolution: int, channels: int) -> None:
    torch.manual_seed(0)
    G, D = bagan_networks(16, 3, resolution, channels, width=8)
    z, labels = torch.randn(4, 16), torch.tensor([0, 1, 2, 0])
    x = G(z, labels)
    assert x.shape == (4, channels, resolution, resolution)
    assert D(x, labels).shape == (4,)
    assert D(x, None, encode=True).shape == (4, 16)
    assert reconstruct(G, D, x, labels).shape == x.shape


def test_generator_draws_from_each_class_gaussian() -> None:
    """psi = 0 gives the class mean; psi = 1 maps N(0, I) to N(mu_c, A_c A_c^T)."""
    torch.manual_seed(0)
    G, _ = bagan_networks(2, 2, 32, 1, width=8)
    means = torch.tensor([[1.0, -2.0], [10.0, 0.0]])
    factors = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0], [1.0, 0.5]]])
    G.set_latent_model(means, factors)
    z = torch.randn(20000, 2)
    labels = torch.ones(20000, dtype=torch.long)
    torch.testing.assert_close(G.to_latent(z[:3], labels[:3], 0.0), means[1].expand(3, 2))
    w = G.to_latent(z, labels)
    torch.testing.assert_close(w.mean(0), means[1], atol=0.05, rtol=0)
    cov = torch.cov(w.T)
    torch.testing.assert_close(cov, factors[1] @ factors[1].T, atol=0.08, rtol=0)


def test_every_parameter_gets_a_gradient_in_each_mode() -> None:
    """DistributedDataParallel needs a gradient for every parameter whichever head is used."""
    _, D = bagan_networks(8, 2, 32, 1, width=8)
    x, labels = torch.randn(2, 1, 32, 32), torch.tensor([0, 1])
    for out in (D(x, labels).sum(), D(x, None, encode=True).sum()):
        D.zero_grad(set_to_none=True)
        out.backward()
        assert all(p.grad is not None for p in D.parameters())


# -- the autoencoder phase -------------------------------------------------------------------------------
def test_autoencoder_learns_and_the_latent_model_is_stored_in_g(toy_dataset) -> None:
    ds = toy_dataset(counts={"train": [24, 24]}, resolution=32, channels=1)
    data = load_train_images(ds, 32)
    torch.manual_seed(0)
    G, D = bagan_networks(16, 2, 32, 1, width=8)
    opt = torch.optim.Adam(list(G.parameters()) + list(D.parameters()), lr=2e-3, betas=(0.5, 0.9))
    real, labels = to_model_range(data.images), data.labels
    losses = [float(autoencoder_step(G, D, [opt], real, labels)) for _ in range(60)]
    assert losses[-1] < 0.6 * losses[0]
    model = fit_latent_model(G, D, data.images, data.labels, torch.device("cpu"))
    assert model.counts.tolist() == [24, 24]
    torch.testing.assert_close(G.latent_mean, torch.from_numpy(model.means).float())
    # the reconstruction of the training images (the encoder then the decoder) is what the loss measured
    with torch.no_grad():
        again = (reconstruct(G, D, real, labels) - real).abs().mean()
    assert float(again) == pytest.approx(losses[-1], rel=0.2)
