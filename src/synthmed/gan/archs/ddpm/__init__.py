"""``ddpm``: a class-conditional denoising diffusion model in pixel space (Ho et al. 2020), sampled with DDIM
(Song et al. 2021) and classifier-free guidance (Ho & Salimans 2022). This module only declares the family's
options (torch-free, read by option parsing); the family itself is in ``family.py``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from synthmed.gan.arch_options import FamilyOptions


class Options(FamilyOptions):
    """The diffusion family's own options: network, noise schedule, training target, sampler."""

    # The bounds are checked by the validator below, not by Field(min_length=...): the command line reads a list
    # option as a comma list only when its type is a plain list.
    unet_channels: list[int] = Field([32, 64, 64], description="UNet channels per level, finest first (2 to 5 "
                                     "levels, each halving the side; each a multiple of 8).")
    res_blocks: int = Field(1, ge=1, le=4, description="Residual blocks per UNet level.")
    # v_prediction chosen on validation: BreastMNIST 32 px, 3 kimg at lr 1e-3, in-training domain FID 23.3 against
    # epsilon's 32.7, and smoother samples this early (the README's diffusion section).
    prediction: Literal["epsilon", "v_prediction"] = Field("v_prediction", description="What the UNet predicts: "
                                                           "the noise (epsilon) or the velocity (v_prediction).")
    schedule: Literal["linear_beta", "scaled_linear_beta", "cosine"] = Field(
        "linear_beta", description="Noise schedule over the training timesteps.")
    train_timesteps: int = Field(1000, ge=10, le=4000, description="Diffusion timesteps in training.")
    cond_drop: float = Field(0.1, ge=0, lt=1, description="Label dropout rate in training: this fraction of the "
                             "labels become the null class, which teaches the unconditional model that "
                             "classifier-free guidance needs (0: no guidance possible).")
    sample_steps: int = Field(25, ge=1, le=1000, description="DDIM steps per image (grids, in-training metric and "
                              "the default of 'synthmed generate --steps').")
    guidance: float = Field(1.0, ge=0, le=20, description="Classifier-free guidance scale (grids, metric and the "
                            "default of 'synthmed generate --guidance'): 0 = the unconditional model, 1 = the "
                            "conditional one, above 1 = guided (two UNet passes per step).")

    @field_validator("unet_channels")
    @classmethod
    def _levels(cls, value: list[int]) -> list[int]:
        if not 2 <= len(value) <= 5:
            raise ValueError(f"unet_channels {value}: 2 to 5 levels")
        if any(c < 8 or c % 8 for c in value):
            raise ValueError(f"unet_channels {value}: each must be a multiple of 8 (GroupNorm's 8 groups)")
        return value
