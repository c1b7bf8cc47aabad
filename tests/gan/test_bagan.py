"""BAGAN-GP pieces: the class Gaussians (hand-computed), the networks, the autoencoder phase."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthmed.errors import SynthmedError
from synthmed.gan.arch import Batch, Kit
from synthmed.gan.archs.bagan_gp.autoencoder import fit_latent_model, reconstruct
from synthmed.gan.archs.bagan_gp.family import BAGANObjective
from synthmed.gan.archs.bagan_gp.latent import class_gaussians, empirical_moments, shrunk_covariance
from synthmed.gan.archs.bagan_gp.networks import bagan_networks
from synthmed.gan.data import TrainImages, load_train_images, to_model_range
from synthmed.gan.options import TrainConfig


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
    kit = Kit(G=G, D=D, G_fwd=G, G_train=G, D_train=D, device=torch.device("cpu"), augment=lambda x: x,
              observe_real=lambda logits: None, data=data)
    objective = BAGANObjective(TrainConfig(arch="bagan-gp"), kit)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.9))
    real, labels = to_model_range(data.images), data.labels
    batch = Batch(real, labels)
    losses = []
    for _ in range(60):  # the Trainer's autoencoder iteration: the encoder's step (D), then the decoder's (G)
        for opt, loss_fn in ((opt_d, objective._encoder_loss), (opt_g, objective._decoder_loss)):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(batch)
            loss.backward()
            opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.6 * losses[0]
    model = fit_latent_model(G, D, data.images, data.labels, torch.device("cpu"))
    assert model.counts.tolist() == [24, 24]
    torch.testing.assert_close(G.latent_mean, torch.from_numpy(model.means).float())
    # the reconstruction of the training images (the encoder then the decoder) is what the loss measured
    with torch.no_grad():
        again = (reconstruct(G, D, real, labels) - real).abs().mean()
    assert float(again) == pytest.approx(losses[-1], rel=0.2)


# -- the family in the Trainer ---------------------------------------------------------------------------
def test_bagan_gp_trains_both_phases_and_generates(toy_dataset, tmp_path) -> None:
    from synthmed.gan.checkpoint import load_checkpoint, load_generator
    from synthmed.gan.train import read_stats, train_gan
    from synthmed.generate.generate import generate_dataset
    from tests.gan.helpers import tiny_config

    ds = toy_dataset(counts={"train": [16, 6]}, resolution=32, channels=3)
    run = train_gan(tiny_config(ds.root, tmp_path / "runs", "bagan-gp", kimg=0.192, ae_kimg=0.128, aug="diffaug",
                                n_critic=2, tick_kimg=0.032, snapshot_kimg=0.064))
    stats = read_stats(run)
    ae, adv = [s for s in stats if s["kimg"] <= 0.128], [s for s in stats if s["kimg"] > 0.128]
    assert ae and adv and all("reconstruction" in s and "gp" not in s for s in ae)
    assert all("gp" in s and "reconstruction" not in s for s in adv)
    assert ae[-1]["reconstruction"] < ae[0]["reconstruction"]
    log = (run / "log.txt").read_text()
    assert "autoencoder phase for the first 0.128 kimg" in log and "autoencoder phase done" in log
    assert len(list((run / "grids").glob("grid-*.png"))) >= 3
    ck, _ = load_checkpoint(run)
    assert ck["objective"]["phase"] == "adversarial" and ck["objective"]["latent"]["1"]["n"] == 6
    assert ck["config"]["lr_g"] == 2e-4 and ck["config"]["betas"] == [0.5, 0.9]
    # the class Gaussians are in G (and so in G_ema and the generator generate loads)
    assert not torch.equal(ck["G_ema"]["latent_mean"], torch.zeros_like(ck["G_ema"]["latent_mean"]))
    G, meta = load_generator(run)
    assert meta["arch"] == "bagan-gp"
    torch.testing.assert_close(G.latent_mean, ck["G"]["latent_mean"])
    out = generate_dataset(run, tmp_path / "syn", per_class=3, progress=False)
    assert out["counts"]["train"] == {"class0": 3, "class1": 3}


@pytest.mark.parametrize(("ae_kimg", "kimg", "aug", "where"), [
    (1.0, 0.128, "diffaug", "autoencoder phase"),
    (0.096, 0.128, "diffaug", "across the switch"),
    (0.032, 0.128, "ada", "adversarial phase"),
])
def test_resume_is_exact_in_each_phase(toy32, tmp_path, ae_kimg, kimg, aug, where) -> None:
    """kimg straight == kimg/2, resume, kimg/2: the same weights, EMA, optimizer moments, class Gaussians."""
    from synthmed.gan.checkpoint import load_checkpoint
    from synthmed.gan.train import train_gan
    from tests.gan.helpers import tiny_config

    kw = {"aug": aug, "ae_kimg": ae_kimg, "n_critic": 2, "ada_interval": 1, "ada_kimg": 0.1, "ada_target": -1.0,
          "tick_kimg": 0.016, "snapshot_kimg": 0.032}
    straight = train_gan(tiny_config(toy32.root, tmp_path / "a", "bagan-gp", kimg=kimg, **kw))
    half = train_gan(tiny_config(toy32.root, tmp_path / "b", "bagan-gp", kimg=kimg / 2, **kw))
    first, _ = load_checkpoint(half)
    assert first["objective"]["phase"] == ("adversarial" if where == "adversarial phase" else "autoencoder")
    resumed = train_gan(tiny_config(None, tmp_path / "ignored", "bagan-gp", resume=str(half), kimg=kimg))
    a, _ = load_checkpoint(straight)
    b, _ = load_checkpoint(resumed)
    assert a["nimg"] == b["nimg"] == round(kimg * 1000)
    assert a["objective"] == b["objective"]
    for part in ("G", "D", "G_ema") + (("ada",) if aug == "ada" else ()):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), f"{where}: {part}.{name} differs after resume"
    for part in ("opt_G", "opt_D"):
        for key, state in a[part]["state"].items():
            for name, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(b[part]["state"][key][name])), part


def test_the_pipeline_trains_it_from_a_config(tmp_path) -> None:
    """``gan.arch: bagan-gp`` (with ``gan.options.ae_kimg``) reaches the trainer through the pipeline's GAN stage."""
    from synthmed.gan.checkpoint import load_checkpoint
    from synthmed.pipeline.config import load_config
    from synthmed.pipeline.runner import StageContext
    from synthmed.pipeline.stages import run_gan
    from tests.conftest import write_toy_dataset

    write_toy_dataset(tmp_path / "prepare" / "dataset", {"train": [10, 6]})
    (tmp_path / "c.yaml").write_text("gan: {arch: bagan-gp, kimg: 0.064, batch: 8, aug: none, "
                                     "options: {width: 8, z_dim: 16, ae_kimg: 0.032, n_critic: 1}}\n")
    cfg = load_config(tmp_path / "c.yaml")
    ctx = StageContext("gan", tmp_path / "work", cfg, {"prepare": tmp_path / "prepare"}, {}, {}, tmp_path)
    summary = run_gan(ctx)
    ck, _ = load_checkpoint(tmp_path / "work" / summary["run"])
    assert ck["meta"]["arch"] == "bagan-gp" and ck["config"]["family"]["ae_kimg"] == 0.032
    assert ck["objective"]["phase"] == "adversarial"


def test_real_images_are_weighted_to_the_fakes_balanced_labels() -> None:
    """16 and 6 images: weights 22 / (2 * 16) = 0.6875 and 22 / (2 * 6) = 11/6, so each class weighs 11 in all."""
    G, D = bagan_networks(8, 2, 32, 1, width=8)
    labels = torch.tensor([0] * 16 + [1] * 6)
    kit = Kit(G=G, D=D, G_fwd=G, G_train=G, D_train=D, device=torch.device("cpu"), augment=lambda x: x,
              observe_real=lambda logits: None, data=TrainImages(torch.zeros(22, 1, 32, 32, dtype=torch.uint8), labels))
    weights = BAGANObjective(TrainConfig(arch="bagan-gp"), kit)._balancing_weights()
    torch.testing.assert_close(weights, torch.tensor([0.6875, 11 / 6]))
    assert float(weights[labels].sum()) == pytest.approx(22.0)
