"""WGAN-GP (Gulrajani et al. 2017): Wasserstein loss, gradient penalty, ``n_critic`` critic steps per G step.

Adam at the paper's (0, 0.9) and 1e-4. The critic (``networks/wgan.py``) has no batchnorm: the penalty is
taken per sample. An optional drift penalty on the real scores (ProGAN) gives their sign a meaning, which
ADA's overfitting heuristic reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from synthmed.gan import losses
from synthmed.gan.arch import Batch, Term
from synthmed.gan.archs import register
from synthmed.gan.archs.dcgan.family import ConvArch
from synthmed.gan.archs.wgan_gp import Options
from synthmed.gan.networks.wgan import wgan_critic, wgan_generator
from synthmed.gan.objectives import AdversarialObjective

if TYPE_CHECKING:
    from synthmed.gan.options import TrainConfig


class WassersteinGPObjective(AdversarialObjective):
    @property
    def d_steps(self) -> int:
        return self.opts.n_critic

    def d_real(self, logits: torch.Tensor) -> torch.Tensor:
        return losses.wasserstein_critic_real(logits, self.opts.drift)

    def d_fake(self, logits: torch.Tensor) -> torch.Tensor:
        return losses.wasserstein_critic_fake(logits)

    def g_adv(self, logits: torch.Tensor) -> torch.Tensor:
        return losses.wasserstein_generator(logits)

    def regularizers(self, real_a: torch.Tensor, fake_a: torch.Tensor, batch: Batch, step: int) -> list[Term]:
        def gp() -> torch.Tensor:
            return self.opts.gp_lambda * losses.gradient_penalty(self.kit.D_train, real_a, fake_a, batch.cond)

        return [Term("gp", gp, total=True, log=True)]


class WGANGP(ConvArch):
    name = "wgan-gp"
    summary = "WGAN-GP: Wasserstein loss with a gradient penalty"
    objective = WassersteinGPObjective
    options = Options
    defaults: ClassVar[dict[str, Any]] = {"lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.0, 0.9),
                                          "z_dim": 128, "width": 64, "max_width": 512}

    def build(self, resolution: int, channels: int, num_classes: int, **kw: Any) -> tuple[nn.Module, nn.Module]:
        z_dim, width, max_width, upsample = self.sizes(kw)
        return (wgan_generator(z_dim, num_classes, resolution, channels, width, max_width, upsample),
                wgan_critic(num_classes, resolution, channels, width, max_width, str(kw.get("critic_norm", "layer"))))

    def resolve(self, given: TrainConfig, out: TrainConfig) -> None:
        out.family["drift"] = _drift(given)
        if given.family.get("critic_norm") is None:
            # New runs get the per-channel critic (networks/wgan.py says why); a run resumed from a checkpoint made
            # before the option existed had the layer-norm one, whose weights would load into either silently.
            out.family["critic_norm"] = "layer" if given.resume else "instance"


def _drift(cfg: TrainConfig) -> float:
    """ADA raises its probability when the sign of D on reals is mostly positive; a Wasserstein critic's scores have
    no fixed zero without a drift penalty, so WGAN-GP with ADA gets ProGAN's 0.001 unless told otherwise."""
    if cfg.family.get("drift") is not None:
        return float(cfg.family["drift"])
    return 0.001 if cfg.aug == "ada" else 0.0


register(WGANGP())
