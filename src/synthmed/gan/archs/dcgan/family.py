"""DCGAN (Radford et al. 2016), class-conditional: batchnorm D, non-saturating logistic loss, no regulariser."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import nn

from synthmed.gan.arch import Arch
from synthmed.gan.archs import register
from synthmed.gan.archs.dcgan import Options
from synthmed.gan.networks.dcgan import DCGANDiscriminator, DCGANGenerator
from synthmed.gan.objectives import LogisticObjective


class ConvArch(Arch):
    """The DCGAN convolutional skeleton (shared with WGAN-GP and BAGAN-GP): width, max_width, upsample."""

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
    options = Options
    defaults: ClassVar[dict[str, Any]] = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.999),
                                          "z_dim": 128, "width": 64, "max_width": 512}

    def build(self, resolution: int, channels: int, num_classes: int, **kw: Any) -> tuple[nn.Module, nn.Module]:
        z_dim, width, max_width, upsample = self.sizes(kw)
        return (DCGANGenerator(z_dim, num_classes, resolution, channels, width, max_width, upsample=upsample),
                DCGANDiscriminator(num_classes, resolution, channels, width, max_width, norm="batch"))


register(DCGAN())
