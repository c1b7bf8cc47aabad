"""The family registry and the Arch/Objective interface: the Trainer trains what a family declares, by name."""

from __future__ import annotations

import pytest
import torch

from synthmed.errors import SynthmedError
from synthmed.gan import archs
from synthmed.gan.arch import Batch, Term
from synthmed.gan.arch_options import FamilyOptions
from synthmed.gan.archs.dcgan.family import DCGAN
from synthmed.gan.checkpoint import load_checkpoint
from synthmed.gan.networks import build_networks
from synthmed.gan.objectives import LogisticObjective
from synthmed.gan.options import TrainConfig, resolve
from synthmed.gan.train import read_stats, train_gan
from tests.gan.helpers import tiny_config


def test_registry_lists_the_builtin_families_first_without_importing_them() -> None:
    import subprocess
    import sys

    code = ("import sys; from synthmed.gan import archs; n = archs.names(); "
            "print(n[:3], 'torch' in sys.modules); archs.get_arch('wgan-gp'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["('dcgan', 'wgan-gp', 'stylegan2') False", "True"]


@pytest.mark.parametrize("name", ["dcgn", "", None, "DCGAN"])
def test_an_unknown_family_fails_loudly(toy32, tmp_path, name) -> None:
    with pytest.raises(SynthmedError, match="--arch must be one of dcgan, wgan-gp, stylegan2"):
        archs.get_arch(name)
    with pytest.raises(SynthmedError, match="--arch"):
        build_networks(name, 32, 1, 2)
    cfg = tiny_config(toy32.root, tmp_path / "runs", "dcgan")
    cfg.arch = name
    with pytest.raises(SynthmedError, match="--arch"):
        train_gan(cfg)
    assert not (tmp_path / "runs").exists()


class _L1Objective(LogisticObjective):
    """A made-up family: DCGAN plus an L1 pull of G's samples towards the batch, a counted pre-phase, extra state."""

    def __init__(self, cfg, kit) -> None:
        super().__init__(cfg, kit)
        self.pre_batches = torch.zeros((), dtype=torch.long)

    def before_training(self, data, batches) -> None:
        for k in range(3):
            assert batches(k).real.shape == (self.cfg.batch, 1, 32, 32)
            self.pre_batches += 1

    def g_terms(self, batch: Batch) -> list[Term]:
        (adv,) = super().g_terms(batch)

        def with_l1() -> dict[str, torch.Tensor]:
            loss = adv.loss()
            l1 = (self.kit.G_train(self.sample_z(len(batch.real)), batch.cond) - batch.real).abs().mean()
            return {"loss": loss + l1, "l1": l1}

        return [Term("adversarial+l1", with_l1)]

    def state_dict(self):
        return {"pre_batches": self.pre_batches}

    def load_state_dict(self, state) -> None:
        self.pre_batches = state["pre_batches"]


class _L1Family(DCGAN):
    name = "test-l1"
    objective = _L1Objective


def test_a_new_family_is_one_registration(toy32, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(archs._REGISTRY, "test-l1", _L1Family())
    cfg = tiny_config(toy32.root, tmp_path / "runs", "dcgan", kimg=0.032, tick_kimg=0.016)
    cfg.arch = "test-l1"
    run = train_gan(cfg)
    ck, _ = load_checkpoint(run)
    assert ck["meta"]["arch"] == "test-l1" and int(ck["objective"]["pre_batches"]) == 3
    stats = read_stats(run)
    assert all(s["l1"] > 0 for s in stats) and "r1" not in stats[0] and "gp" not in stats[0]


def test_an_objective_with_no_terms_fails_loudly(toy32, tmp_path, monkeypatch) -> None:
    class Empty(LogisticObjective):
        def g_terms(self, batch):
            return []

    class Family(DCGAN):
        name = "test-empty"
        objective = Empty

    monkeypatch.setitem(archs._REGISTRY, "test-empty", Family())
    cfg = tiny_config(toy32.root, tmp_path / "runs", "dcgan")
    cfg.arch = "test-empty"
    with pytest.raises(SynthmedError, match="no loss_G terms"):
        train_gan(cfg)


def test_lazy_r1_runs_on_its_interval_and_rescales_adam() -> None:
    """StyleGAN2's objective: R1 on D steps 0, r1_interval, ...; D's Adam lr * c and betas ** c, c = I / (I + 1)."""
    from synthmed.gan.arch import Kit
    from synthmed.gan.options import TrainConfig, resolve

    cfg = resolve(TrainConfig(arch="stylegan2", r1_interval=4, batch=4, z_dim=8), 32)
    G, D = build_networks("stylegan2", 32, 1, 0, False, z_dim=8, channel_base=256, channel_max=16, mapping_layers=1)
    kit = Kit(G, D, G, G, D, torch.device("cpu"), augment=lambda x: x, observe_real=lambda logits: None)
    obj = archs.get_arch("stylegan2").objective(cfg, kit)
    _, opt_d = obj.optimizers()
    c = 4 / 5
    assert opt_d.param_groups[0]["lr"] == pytest.approx(2.5e-3 * c)
    assert opt_d.param_groups[0]["betas"] == pytest.approx((0.0, 0.99 ** c))
    batch = Batch(torch.zeros(4, 1, 32, 32), torch.zeros(4, dtype=torch.long))
    names = [[t.name for t in obj.d_terms(batch, step)] for step in range(6)]
    assert names == [["real", "fake", "r1"], ["real", "fake"], ["real", "fake"], ["real", "fake"],
                     ["real", "fake", "r1"], ["real", "fake"]]
    wgan = archs.get_arch("wgan-gp").objective(resolve(TrainConfig(arch="wgan-gp", n_critic=3, z_dim=8), 32), kit)
    assert wgan.d_steps == 3 and [t.name for t in wgan.d_terms(batch, 1)] == ["real", "fake", "gp"]


def test_each_family_declares_its_own_options_and_no_shared_model_does() -> None:
    """A family's options live in its package (torch-free); TrainConfig and the pipeline's section only gather them,
    so a new family adds options without editing a shared model."""
    import subprocess
    import sys

    from synthmed.gan.options import PipelineGanOptions, TrainConfig

    fields = archs.option_fields()
    assert fields["n_critic"][1] == ("wgan-gp", "bagan-gp") and fields["r1_interval"][1] == ("stylegan2",)
    assert not set(fields) & set(TrainConfig.model_fields)
    assert set(fields) <= set(PipelineGanOptions.model_fields)
    assert archs.options_model("pix2pix") is FamilyOptions  # a single-module family has none
    code = "import sys; from synthmed.gan import archs; archs.option_fields(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    # given by name, kept apart, typed inside the family
    cfg = TrainConfig(arch="wgan-gp", n_critic=3, upsample="resize")
    assert cfg.family == {"n_critic": 3, "upsample": "resize"}
    resolved = resolve(cfg, 32)
    opts = archs.get_arch("wgan-gp").opts(resolved)
    assert (opts.n_critic, opts.gp_lambda, opts.critic_norm, opts.drift) == (3, 10.0, "instance", 0.0)
    assert archs.get_arch("wgan-gp").net_kwargs(resolved) == {"z_dim": 128, "upsample": "resize",
                                                             "critic_norm": "instance", "width": 64,
                                                             "max_width": 512}


def test_a_config_saved_before_families_declared_options_keeps_them() -> None:
    """Old checkpoints kept every family's options at the top level and network options in net_kwargs."""
    old = {"arch": "stylegan2", "n_critic": 5, "r1_interval": 4, "r1_gamma": 0.5, "drift": None,
           "net_kwargs": {"mapping_layers": 2}}
    assert TrainConfig.from_dict(old).family == {"r1_interval": 4, "r1_gamma": 0.5, "mapping_layers": 2}
