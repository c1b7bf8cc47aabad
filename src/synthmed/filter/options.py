"""The filter's options, declared once: ``synthmed filter``'s command-line options and the pipeline's
``filter:`` section both take the rules from ``FilterRules`` (torch-free).

A rule is off at 0, on the command line and in the YAML alike (a config written before that spelling, with
``null``, still loads as 0).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# null (the older spelling of off in the YAML) reads as 0.
_OFF = BeforeValidator(lambda v: 0.0 if v is None else v)


class FilterRules(BaseModel):
    """Which synthetic images the filter keeps (every rate is a fraction of the real validation images)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    real_pass_rate: Annotated[float, _OFF] = Field(
        0.9, ge=0, le=1, description="Keep an image when a real-data classifier gives its class at least the "
        "probability this fraction of the real val images of that class reach (per class; 0: off).")
    min_confidence: Annotated[float, _OFF] = Field(
        0.0, ge=0, le=1, description="Also drop images whose class probability is below this fixed value "
        "(0: off; 0.5 was the old default).")
    realism_real_pass_rate: Annotated[float, _OFF] = Field(
        0.0, ge=0, le=1, description="Keep an image when its realism score is at least what this fraction of the "
        "real val images of its class reach (0: off).")
    drop_worst_realism: float = Field(0.0, ge=0, lt=1, description="Fraction of least realistic images of each "
                                      "class to drop (0: off).")
    drop_near_copies: bool = Field(True, description="Drop near copies of real training images (memorization).")

    def rule_kwargs(self) -> dict[str, Any]:
        """The rules as ``filter_synthetic``'s keyword options (None: a rule that is off)."""
        return {"real_pass_rate": self.real_pass_rate or None, "min_confidence": self.min_confidence or None,
                "realism_real_pass_rate": self.realism_real_pass_rate or None,
                "drop_worst_realism": self.drop_worst_realism, "drop_near_copies": self.drop_near_copies}

    @property
    def calibrated(self) -> bool:
        """Whether a rule is calibrated on real validation images."""
        return bool(self.real_pass_rate or self.realism_real_pass_rate)


class FilterOptions(FilterRules):
    """Filter a synthetic set; writes the kept images, filter_scores.csv and per-class counts."""

    synthetic: str = Field(description="Synthetic prepared dataset, DIR[:split].")
    real: str = Field(description="Real prepared dataset, DIR[:split] (the classifier and near-copy check use its "
                      "train split).")
    classifier: str | None = Field(None, description="Model folder from 'synthmed train-classifier' or a saved "
                                   "TorchScript module (default: a CNN trained on the real train split).")
    calibration: str | None = Field(None, description="Real images the pass rates are calibrated on, DIR[:split] "
                                    "(default: the --real dataset's val split).")
    cache_dir: str | None = Field(None, description="Model/feature cache (default: $SYNTHMED_CACHE or "
                                  "~/.cache/synthmed).")
    seed: int = Field(0, description="Seed for the default CNN.")
