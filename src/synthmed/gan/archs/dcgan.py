"""DCGAN (Radford et al. 2016), class-conditional: batchnorm D, non-saturating logistic loss, no regulariser."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from torch import nn

from synthmed.errors import SynthmedError
from synthmed.gan.arch import Arch
from synthmed.gan.archs import register
from synthmed.gan.networks.dcgan import UPSAMPLING, DCGANDiscriminator, DCGANGenerator
from synthmed.gan.objectives import LogisticObjective

if TYPE_CHECKING:
    from synthmed.gan.options import TrainConfig


class ConvArch(Arch):
    """The DCGAN convolutional skeleton's options (shared with WGAN-GP): width, max_width, upsample."""

    def resolve(self, given: TrainConfig, out: TrainConfig) -> None:
        upsample = given.net_kwargs.get("upsample")
        if upsample is not None and upsample not in UPSAMPLING:
            raise SynthmedError(f"--upsample {upsample}: DCGAN and WGAN-GP take {' or '.join(UPSAMPLING)} "
                                f"(StyleGAN2 has its own upsampling)")

    @staticmethod
    def sizes(kw: dict[str, Any]) -> tuple[int, int, int, str]:
        """z_dim, width, max_width, upsample; checkpoints from before --upsample carry no such key: they were
        made with transposed convolutions."""
        return (int(kw.get("z_dim", 128)), int(kw.get("width", 64)), int(kw.get("max_width", 512)),
                str(kw.get("upsample", "transposed")))


class DCGAN(ConvArch):
    name = "dcgan"
    summary = "DCGAN: small and fast (CPU)"
    objective = LogisticObjective
    defaults: ClassVar[dict[str, Any]] = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999),
                                          "z_dim": 128, "width": 64, "max_width": 512}

    def build(self, resolution: int, channels: int, num_classes: int, **kw: Any) -> tuple[nn.Module, nn.Module]:
        z_dim, width, max_width, upsample = self.sizes(kw)
        return (DCGANGenerator(z_dim, num_classes, resolution, channels, width, max_width, upsample=upsample),
                DCGANDiscriminator(num_classes, resolution, channels, width, max_width, norm="batch"))

    def resolve(self, given: TrainConfig, out: TrainConfig) -> None:
        super().resolve(given, out)
        refuse_critic_norm(given)
        refuse_drift(given)


def refuse_critic_norm(given: TrainConfig) -> None:
    if given.net_kwargs.get("critic_norm") is not None:
        raise SynthmedError(f"--critic-norm {given.net_kwargs['critic_norm']}: the WGAN-GP critic takes "
                            f"instance, layer or none (DCGAN's D uses batchnorm, StyleGAN2's none)")


def refuse_drift(given: TrainConfig) -> None:
    if given.drift:
        raise SynthmedError(f"--drift is a WGAN-GP option; {given.arch} has no Wasserstein critic")


register(DCGAN())
