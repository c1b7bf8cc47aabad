"""The diffusion family (``ddpm``) in the shared training loop: it trains, resumes exactly, samples reproducibly,
guidance 0 is the unconditional model, labels drop to the null class at the configured rate."""

from __future__ import annotations

import pytest
import torch

from synthmed.errors import SynthmedError
from synthmed.gan.checkpoint import load_checkpoint, load_generator
from synthmed.gan.train import read_stats, train_gan
from tests.gan.helpers import tiny_config, write_brightness_dataset


def ddpm_config(data, out, **overrides):
    return tiny_config(data, out, "ddpm", **{"resolution": 16, **overrides})


@pytest.fixture
def toy16(toy_dataset):
    return toy_dataset(counts={"train": [12, 8]}, resolution=16, channels=1)


def test_trains_lowers_its_loss_and_writes_its_run_folder(tmp_path) -> None:
    ds = write_brightness_dataset(tmp_path / "data", n=32, resolution=16)
    run = train_gan(ddpm_config(ds.root, tmp_path / "runs", kimg=0.768, batch=16, tick_kimg=0.128,
                                snapshot_kimg=0.384, lr_g=2e-3, cond_drop=0.2))
    stats = read_stats(run)
    assert "loss_D" not in stats[0] and "d_grad_cos" not in stats[0]  # no discriminator, nothing made up for one
    assert stats[-1]["loss_G"] < 0.7 * stats[0]["loss_G"], [s["loss_G"] for s in stats]
    assert len(list((run / "grids").glob("grid-*.png"))) == 2
    ck, _ = load_checkpoint(run)
    assert ck["D"] is None and ck["opt_D"] is None
    G, meta = load_generator(run)
    assert meta["arch"] == "ddpm" and meta["z_dim"] == 16 * 16 == G.z_dim
    x = G(torch.randn(4, G.z_dim), torch.tensor([0, 1, 0, 1]))
    assert x.shape == (4, 1, 16, 16) and x.abs().max() <= 1


@pytest.mark.parametrize("prediction", ["epsilon", "v_prediction"])
def test_resume_is_exact(toy16, tmp_path, prediction) -> None:
    """N steps straight == N/2 steps, resume, N/2 steps: identical weights, EMA and optimizer state."""
    n = 0.064
    kw = {"tick_kimg": 0.016, "snapshot_kimg": 1.0, "prediction": prediction, "cond_drop": 0.3}
    straight = train_gan(ddpm_config(toy16.root, tmp_path / "a", kimg=n, **kw))
    half = train_gan(ddpm_config(toy16.root, tmp_path / "b", kimg=n / 2, **kw))
    resumed = train_gan(tiny_config(None, tmp_path / "ignored", "ddpm", resume=str(half), kimg=n))
    assert resumed == half
    a, _ = load_checkpoint(straight)
    b, _ = load_checkpoint(resumed)
    assert a["nimg"] == b["nimg"] == round(n * 1000)
    for part in ("G", "G_ema"):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), f"{part}.{name} differs after resume"
    assert a["config"]["family"] == b["config"]["family"] and a["config"]["family"]["prediction"] == prediction
    moments = [s["exp_avg"] for s in a["opt_G"]["state"].values()]
    assert all(torch.equal(m, s["exp_avg"]) for m, s in zip(moments, b["opt_G"]["state"].values(), strict=True))


@pytest.fixture
def trained(toy16, tmp_path):
    return train_gan(ddpm_config(toy16.root, tmp_path / "runs", kimg=0.032))


def test_same_seed_same_samples_and_per_class_generation(trained, tmp_path) -> None:
    from synthmed.dataset import PreparedDataset
    from synthmed.generate.generate import generate_dataset

    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        generate_dataset(trained, tmp_path / name, per_class=[3, 2], seed=seed, batch=2, progress=False,
                         steps=2, guidance=2.0)
    a, b, c = (PreparedDataset.open(tmp_path / n) for n in "abc")
    xa, ya = a.load_tensor("train")
    xb, _ = b.load_tensor("train")
    xc, _ = c.load_tensor("train")
    assert torch.equal(xa, xb) and not torch.equal(xa, xc)
    assert ya.tolist() == [0, 0, 0, 1, 1]
    assert a.meta["source"]["steps"] == 2 and a.meta["source"]["guidance"] == 2.0


def test_guidance_zero_is_the_unconditional_model(trained) -> None:
    G, _ = load_generator(trained)
    z = torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(0))
    zeros, ones = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    uncond = G(z, zeros, guidance=0.0)
    assert torch.equal(uncond, G(z, ones, guidance=0.0))  # the label plays no part
    null = torch.full((4,), G.null_class, dtype=torch.long)
    assert torch.equal(uncond, G(z, null, guidance=1.0))  # = the null class's (unconditional) predictions
    assert not torch.equal(G(z, zeros, guidance=1.0), G(z, ones, guidance=1.0))  # the label does play a part
    # scale s combines the two predictions as u + s (c - u): s = 1 in one batch equals the conditional model
    assert torch.allclose(G._guided(z.view(4, 1, 16, 16), zeros, torch.full((4,), 500), 1.0),
                          G.unet(z.view(4, 1, 16, 16), torch.full((4,), 500), class_labels=zeros))


def test_labels_drop_to_the_null_class_at_the_configured_rate(trained) -> None:
    from synthmed.gan.arch import Batch, Kit
    from synthmed.gan.archs.ddpm.family import DenoisingObjective, drop_labels
    from synthmed.gan.options import TrainConfig

    torch.manual_seed(0)
    labels = torch.randint(0, 3, (20000,))
    dropped = drop_labels(labels, 3, 0.25)
    changed = dropped != labels
    assert abs(changed.float().mean().item() - 0.25) < 0.015
    assert (dropped[changed] == 3).all() and torch.equal(dropped[~changed], labels[~changed])
    assert torch.equal(drop_labels(labels, 3, 0.0), labels)
    # the objective drops at cfg.family's cond_drop: the labels the UNet sees in a training step
    G, _ = load_generator(trained)
    seen: list[torch.Tensor] = []

    def spy(x, labels, timesteps):
        seen.append(labels)
        return G(x, labels, timesteps=timesteps)

    cfg = TrainConfig.from_dict(load_checkpoint(trained)[0]["config"])
    cfg.family = {**cfg.family, "cond_drop": 0.4}
    kit = Kit(G=G, D=None, G_fwd=G, G_train=spy, D_train=None, device=torch.device("cpu"),
              augment=lambda x: x, observe_real=lambda x: None)
    real = torch.zeros(4000, 1, 16, 16)
    DenoisingObjective(cfg, kit).g_terms(Batch(real, torch.zeros(4000, dtype=torch.long)))[0].loss()
    assert abs((seen[0] == G.null_class).float().mean().item() - 0.4) < 0.03


def test_bad_options_are_one_line_errors(toy16, tmp_path) -> None:
    with pytest.raises(SynthmedError, match="--aug ada: ddpm has no discriminator"):
        train_gan(ddpm_config(toy16.root, tmp_path / "r", aug="ada"))
    with pytest.raises(SynthmedError, match=r"unet_channels.*multiple of 8"):
        train_gan(ddpm_config(toy16.root, tmp_path / "r", unet_channels=[12, 16]))
    with pytest.raises(SynthmedError, match="--n-critic is an option of wgan-gp"):
        train_gan(ddpm_config(toy16.root, tmp_path / "r", n_critic=2))
    with pytest.raises(SynthmedError, match="does not halve evenly"):
        train_gan(ddpm_config(toy16.root, tmp_path / "r", resolution=20, unet_channels=[8, 16, 16, 16]))
    assert not (tmp_path / "r").exists()


def test_generation_refuses_what_the_family_has_no_use_for(trained, tmp_path) -> None:
    from synthmed.generate.generate import generate_dataset

    with pytest.raises(SynthmedError, match="no truncation"):
        generate_dataset(trained, tmp_path / "t", per_class=1, trunc=0.7, progress=False)
    gan = train_gan(tiny_config(write_brightness_dataset(tmp_path / "d", n=8).root, tmp_path / "g", kimg=0.016))
    with pytest.raises(SynthmedError, match="--steps and --guidance set a diffusion sampler"):
        generate_dataset(gan, tmp_path / "s", per_class=1, steps=5, progress=False)
    assert not (tmp_path / "t").exists() and not (tmp_path / "s").exists()


class _Oracle(torch.nn.Module):
    """The exact denoiser of a data set holding one image per class (class k: the constant image c_k): the noise
    (or velocity) that x_t implies given x0 = c_label; the null class's x0 is the mean of the classes' images."""

    def __init__(self, schedule, prediction: str, values: list[float]) -> None:
        super().__init__()
        self.alphas, self.prediction = schedule.alphas_cumprod, prediction
        self.values = torch.tensor([*values, sum(values) / len(values)])

    def forward(self, x, timesteps, class_labels=None):
        a = self.alphas[timesteps].view(-1, 1, 1, 1)
        x0 = self.values[class_labels].view(-1, 1, 1, 1).expand_as(x)
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        return eps if self.prediction == "epsilon" else a.sqrt() * eps - (1 - a).sqrt() * x0


@pytest.mark.parametrize(("prediction", "schedule"), [("epsilon", "linear_beta"), ("v_prediction", "cosine")])
def test_the_sampler_with_an_exact_denoiser_returns_the_data(prediction, schedule) -> None:
    """DDIM from pure noise with the exact denoiser lands on each class's image; guidance s extrapolates the
    class's image away from the null class's as x0_u + s (x0_c - x0_u) (linear in the predictions)."""
    from synthmed.gan.archs.ddpm import Options
    from synthmed.gan.archs.ddpm.family import DiffusionGenerator

    G = DiffusionGenerator(16, 1, 2, Options(unet_channels=[8, 16], prediction=prediction, schedule=schedule)).eval()
    G.unet = _Oracle(G.noise, prediction, [-0.5, 0.3])
    z = torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 1, 0, 1])
    want = torch.tensor([-0.5, 0.3, -0.5, 0.3]).view(-1, 1, 1, 1).expand(4, 1, 16, 16)
    assert torch.allclose(G(z, labels, steps=10), want, atol=1e-3)
    null = torch.full((4, 1, 16, 16), -0.1)
    assert torch.allclose(G(z, labels, steps=10, guidance=0.0), null, atol=1e-3)
    assert torch.allclose(G(z, labels, steps=10, guidance=1.5), null + 1.5 * (want - null), atol=1e-3)


def test_train_generator_takes_the_family_options_as_flags(toy16, tmp_path, capsys) -> None:
    import json

    from synthmed.cli import main

    argv = ["train-generator", "--data", str(toy16.root), "--arch", "ddpm", "--out", str(tmp_path / "runs"),
            "--unet-channels", "16,32,32", "--prediction", "v_prediction", "--guidance", "2", "--dry-run"]
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code in (0, None)
    family = json.loads(capsys.readouterr().out)["options"]["family"]
    assert (family["unet_channels"], family["prediction"], family["guidance"]) == ([16, 32, 32], "v_prediction", 2.0)
    assert not (tmp_path / "runs").exists()
