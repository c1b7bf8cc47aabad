"""BAGAN-GP's own options (torch-free; the family is in ``family.py``): WGAN-GP's and the autoencoder phase."""

from __future__ import annotations

from pydantic import Field

from synthmed.gan.archs.wgan_gp import Options as WGANOptions


class Options(WGANOptions):
    """BAGAN-GP (Huang & Jafari 2021): an autoencoder phase, class Gaussians, then WGAN-GP."""

    ae_kimg: float | None = Field(None, ge=0, description="kimg of the autoencoder phase at the start of --kimg "
                                  "(default 30 epochs of the train split).")
