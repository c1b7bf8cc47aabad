"""WGAN-GP's own options (torch-free; the family is in ``family.py``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from synthmed.gan.archs.dcgan import NETWORK
from synthmed.gan.archs.dcgan import Options as ConvOptions


class Options(ConvOptions):
    """WGAN-GP (Gulrajani et al. 2017): critic steps, gradient penalty, drift, critic normalisation."""

    # No batchnorm: its coupling of the samples in a batch breaks the per-sample gradient penalty.
    critic_norm: Literal["instance", "layer", "none"] | None = Field(
        None, json_schema_extra=NETWORK,
        description="Critic normalisation: instance (default; per channel and sample), layer (the paper's) or none.")
    n_critic: int = Field(5, ge=1, description="Critic steps per generator step.")
    gp_lambda: float = Field(10.0, ge=0, description="Gradient penalty weight.")
    drift: float | None = Field(None, ge=0, description="Drift penalty weight on the critic's real scores (ProGAN; "
                                "default 0.001 with --aug ada, which reads their sign, else 0).")
