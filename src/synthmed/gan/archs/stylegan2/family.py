"""StyleGAN2 (Karras et al. 2020) as trained in StyleGAN2-ADA: non-saturating logistic loss with lazy R1.

Lazy regularisation: R1 is computed every ``r1_interval`` D steps (16 in the paper), weighted by the interval
so its average strength is unchanged, and D's Adam is rescaled (lr * c, betas ** c with
c = interval / (interval + 1)) so that the regularised steps do not change the average step either.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from synthmed.gan.arch import Arch, Batch, Term
from synthmed.gan.archs import register
from synthmed.gan.archs.stylegan2 import Options
from synthmed.gan.networks.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from synthmed.gan.objectives import LogisticObjective
from synthmed.gan.regularizers import r1_penalty

if TYPE_CHECKING:
    from synthmed.gan.options import TrainConfig


class LazyR1Objective(LogisticObjective):
    def optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        cfg = self.cfg
        betas = tuple(cfg.betas)
        c = self.opts.r1_interval / (self.opts.r1_interval + 1)
        return (torch.optim.Adam(self.kit.G.parameters(), lr=cfg.lr_g, betas=betas),
                torch.optim.Adam(self.kit.D.parameters(), lr=cfg.lr_d * c, betas=(betas[0] ** c, betas[1] ** c)))

    def regularizers(self, real_a: torch.Tensor, fake_a: torch.Tensor, batch: Batch, step: int) -> list[Term]:
        opts = self.opts
        if step % opts.r1_interval:
            return []

        def r1() -> torch.Tensor:
            return r1_penalty(self.kit.D_train, real_a, batch.cond) * (opts.r1_gamma / 2) * opts.r1_interval

        return [Term("r1", r1, total=False, log=True)]


class StyleGAN2(Arch):
    name = "stylegan2"
    summary = "StyleGAN2: the paper's networks (GPU sized by default)"
    objective = LazyR1Objective
    options = Options
    defaults: ClassVar[dict[str, Any]] = {"lr_g": 2.5e-3, "lr_d": 2.5e-3, "betas": (0.0, 0.99),
                                          "z_dim": 512, "width": None, "max_width": 512}
    # The paper's channel_base 32768 (512 channels at every layer up to 32 px) trains at about 0.4 img/s on a 2-core
    # CPU (1 kimg in 40 minutes); width 16 (channel_base 16 R) at 24-31 img/s.
    cpu_defaults: ClassVar[dict[str, Any]] = {"width": 16}

    def sampling_kwargs(self, G: nn.Module, trunc: float, steps: int | None, guidance: float | None) -> dict[str, Any]:
        # the per-pixel noise: the fixed buffers, so an image depends on its latent seed only
        return {**super().sampling_kwargs(G, trunc, steps, guidance), "noise_mode": "const"}

    def build(self, resolution: int, channels: int, num_classes: int, **kw: Any) -> tuple[nn.Module, nn.Module]:
        kw = dict(kw)
        z_dim = int(kw.pop("z_dim", 128))
        w_dim = int(kw.pop("w_dim", z_dim))
        G = StyleGAN2Generator(z_dim=z_dim, w_dim=w_dim, num_classes=num_classes, resolution=resolution,
                               channels=channels, **_accepted(StyleGAN2Generator, kw))
        D = StyleGAN2Discriminator(num_classes=num_classes, resolution=resolution, channels=channels,
                                   **_accepted(StyleGAN2Discriminator, kw))
        return G, D

    def resolve(self, given: TrainConfig, out: TrainConfig) -> None:
        if given.family.get("r1_gamma") is None:
            out.family["r1_gamma"] = 0.0002 * out.resolution**2 / out.batch

    def net_kwargs(self, cfg: TrainConfig) -> dict[str, Any]:
        kw: dict[str, Any] = {"z_dim": cfg.z_dim, **self.network_options(cfg)}
        if cfg.width:  # channels at the output resolution, doubling per halving as in the paper's channel_base
            kw.setdefault("channel_base", int(cfg.width) * int(cfg.resolution))
        kw.setdefault("channel_max", cfg.max_width)
        return kw


def _accepted(cls: type, kw: dict[str, Any]) -> dict[str, Any]:
    """The options of ``kw`` that ``cls.__init__`` takes (width options are shared by name)."""
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in kw.items() if k in params}


register(StyleGAN2())
