"""The metrics stage's options, declared once: ``synthmed metrics``' command-line options, the pipeline's
``metrics.options`` and ``compute_metrics``' keyword options all come from this model (torch-free)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from synthmed.utils.options import optional_copy


class MetricsOptions(BaseModel):
    """Compare a synthetic set with real images: FRD, domain FID/KID/PRDC, MS-SSIM, memorization, Inception."""

    model_config = ConfigDict(extra="forbid")

    real: str = Field(description="Real prepared dataset, DIR[:split] (default split: train).")
    fake: str = Field(description="Synthetic prepared dataset, DIR[:split] (default split: train).")
    per_class: bool = Field(True, description="Also compute every metric per class, with a reference row per "
                            "class: the real train split against the real val split.")
    features: str | None = Field(None, description="Your own feature extractor, saved as TorchScript; "
                                 "default: a CNN trained on the real train split.")
    inception_weights: str | None = Field(None, description="pt_inception-2015-12-05-6726825d.pth (default: look in "
                                          "$TORCH_HOME/hub/checkpoints, then download when online).")
    allow_download: bool = Field(True, json_schema_extra={"flag": "download"},
                                 description="May download the Inception weights when they are not found.")
    max_images: int | None = Field(None, ge=2, description="Use at most this many images per set (null: all).")
    frd_max_images: int | None = Field(300, ge=0, description="Radiomics (~0.25 s/img/core) on at most this many "
                                       "images per set; 0 or null = all.")
    cache_dir: str | None = Field(None, description="Feature cache (default: $SYNTHMED_CACHE or ~/.cache/synthmed).")
    skip: list[Literal["frd", "inception"]] = Field([], description="Leave out a family: frd or inception "
                                                    "(repeatable, or comma separated).")
    workers: int | None = Field(None, ge=1, description="Processes for radiomics (default: all cores).")
    seed: int = Field(0, description="Seed for subsampling, KID subsets, MS-SSIM pairs, the CNN.")
    msssim_pairs: int = Field(200, ge=1, description="Random image pairs per set for the MS-SSIM diversity score.")
    kid_subsets: int = Field(100, ge=1, description="Subsets averaged for KID.")

    def compute_kwargs(self) -> dict[str, Any]:
        """The keyword options of ``compute_metrics`` (everything but the two sets)."""
        kw = self.model_dump(exclude={"real", "fake"})
        kw["cache_dir"] = kw["cache_dir"] if kw["cache_dir"] is not None else "default"
        kw["frd_max_images"] = kw["frd_max_images"] or None
        kw["skip"] = tuple(kw["skip"])
        return kw


# The pipeline's ``metrics.options``: the options its ``metrics`` section does not have as keys, optional.
PipelineMetricsOptions = optional_copy(
    MetricsOptions, "MetricsOptions",
    exclude={"real", "fake", "per_class", "features", "max_images", "frd_max_images", "skip", "seed"},
    doc="Further 'synthmed metrics' options by field name (msssim_pairs, kid_subsets, workers, ...).")
