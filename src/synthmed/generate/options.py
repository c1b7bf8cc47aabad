"""The generation stage's options, declared once: ``synthmed generate``'s command-line options and the
pipeline's ``generate:`` section both take the sampling options from ``Sampling`` (torch-free)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Sampling(BaseModel):
    """How many images of each class, and how they are drawn from the generator."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    per_class: int | None = Field(None, ge=1, description="Synthetic images of every class; null: 'synthmed run' "
                                  "sizes the pool from the classifier grid (times oversample), 'synthmed generate' "
                                  "takes --total or --balance-to instead.")
    trunc: float = Field(1.0, gt=0, le=2, description="Truncation psi (1 = none; lower = more typical, less "
                         "diverse).")
    batch: int = Field(64, ge=1, description="Generation batch size.")


class GenerateOptions(Sampling):
    """Sample a trained GAN into a prepared dataset, with provenance per image."""

    checkpoint: str = Field(description="Run folder (its best checkpoint) or checkpoint file.")
    total: int | None = Field(None, ge=1, description="N images in the real train class proportions.")
    balance_to: int | None = Field(None, ge=1, description="Top every class up to N given the real train counts.")
    seed: int = Field(0, description="Seed of the images' latents (each image's own seed derives from it).")
    resolution: int | None = Field(None, ge=8, description="Output side (default: the training data's).")
    device: str = Field("cpu", description="cpu, cuda or cuda:N.")
    progress: bool = Field(True, description="Show a progress bar.")
    masks: str | None = Field(None, description="pix2pix runs: DATASET[:split] whose masks (and classes) the images "
                              "are drawn for; the output has (image, mask, label).")
    copies: int = Field(1, ge=1, description="With --masks: images per mask, each with its own transform.")
    mask_augment: bool = Field(True, description="With --masks: random flip, rotation, zoom and elastic warp per "
                               "image.")
