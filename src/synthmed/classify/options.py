"""The classifier's options, declared once: ``train-classifier``'s command-line options, the pipeline's
``classify.options`` and ``train_classifier(**options)`` are all :class:`TrainConfig`; ``synthmed experiment``'s
are :class:`GridConfig`, whose per-run classifier options are TrainConfig's fields (torch-free, so ``--help`` is
fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from synthmed.utils.options import auto_or_at_least, optional_copy

_NO_CLI = {"cli": False}
_COMMA = {"comma": True}  # one text option, a comma list: --ratios 0,25,50
# The most synthetic images a run may add, as % of its real ones: ten per real image, beyond any ratio the
# augmentation literature reports helping, and a bound that keeps a typo (50000) from asking for millions.
MAX_SYNTHETIC_RATIO = 1000.0

Head = Literal["linear", "bn-leakyrelu"]
# trivialaugment: an automatic policy (TrivialAugmentWide, Müller & Hutter 2021), the strongest real-only
# baseline's third option beside none and the hand-chosen traditional one.
Augment = Literal["none", "traditional", "trivialaugment"]
AUGMENTS: tuple[str, ...] = get_args(Augment)
LrSchedule = Literal["constant", "cosine"]
Balance = Literal["none", "weights", "sampler"]
Source = Literal["real", "synthetic", "mixed"]
Draw = Literal["stratified", "proportional", "balanced", "top-up", "minority"]  # stratified: older name of proportional
Budget = Literal["steps", "epochs"]
SyntheticSchedule = Literal["mixed", "pretrain"]


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
    head: Head = Field("linear", description="Classifier head: linear or bn-leakyrelu.")
    augment: Augment = Field("none", description="none, traditional (flip, rotation, intensity) or trivialaugment "
                             "(torchvision's TrivialAugmentWide: one random op of 14 at a random strength).")
    epochs: int = Field(30, ge=1, description="Most epochs (early stopping may end sooner).")
    batch_size: int = Field(128, ge=2, description="Batch size (128 as in the MedMNIST v2 baselines).")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate.")
    lr_schedule: LrSchedule = Field("constant", description="constant, or cosine (annealed to 0 over --epochs, "
                                    "stepped once per epoch).")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay.")
    patience: int | None = Field(10, ge=0, description="Stop after this many epochs without a better val AUC "
                                 "(0 or null: never).")
    # "none": AUC needs no reweighting and the threshold is picked on validation (Youden). On BreastMNIST 28 the
    # class-weighted loss cost ResNet-18 0.028 test AUC (0.859 with it, 0.887 without, seed 0).
    balance: Balance = Field("none", description="Imbalance: none (the decision threshold is chosen on validation), "
                             "weights (class-weighted loss) or sampler (balanced batches).")
    seed: int = Field(0, description="Seeds the data subset, synthetic draw, weights and batches.")
    input_size: int | None = Field(None, ge=8, description="Upsample images to this side first.")
    channel_mode: Literal["native", "repeat"] = Field("native", description="native (in_chans = image channels) or "
                                                      "repeat (gray copied to 3 channels).")
    positive_class: str | int | None = Field(None, description="Binary: class name or index (default: minority "
                                             "class of the real training split).")
    device: str = Field("auto", description="auto, cpu or cuda.")
    # How synthetic images enter a mixed (real + synthetic) set. A real-only or synthetic-only set ignores all
    # three, and their defaults train exactly as before they existed (the same weights, batch for batch).
    synthetic_weight: float = Field(1.0, gt=0, le=1, description="Mixed sets: loss weight of each synthetic image "
                                    "(real images: 1); the loss is the weighted mean over the batch.")
    synthetic_smoothing: float = Field(0.0, ge=0, lt=0.5, description="Mixed sets: label smoothing of the synthetic "
                                       "images' targets only (real targets stay one-hot).")
    synthetic_schedule: SyntheticSchedule = Field(
        "mixed", description="Mixed sets: mixed (one shuffled set) or pretrain (the synthetic part first, then "
        "fine-tune on the real part; the same total steps, split in whole epochs by the parts' sizes; validation, "
        "early stopping and the best checkpoint only while fine-tuning).")
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


def _per_run(name: str, **changes: Any) -> Any:
    """TrainConfig's field ``name`` (bounds, description) with ``changes``: a classifier option every grid run
    gets, declared once in TrainConfig; the grid's own default or help where it has one."""
    return FieldInfo.merge_field_infos(TrainConfig.model_fields[name], **changes)


def parse_seeds(value: Any) -> list[int]:
    """Seeds as ``1,2,5``, ``1..5`` (inclusive) or a mix ``1..3,7`` (text or a list of such items), repeats once."""
    items = value.split(",") if isinstance(value, str) else value if isinstance(value, list | tuple) else [value]
    seeds: list[int] = []
    for item in items:
        text = str(item).strip()
        try:
            if ".." in text:
                lo, hi = text.split("..")
                seeds += list(range(int(lo), int(hi) + 1))
            elif text:
                seeds.append(int(text))
        except ValueError:
            raise ValueError(f"expected integers like 1,2,3 or 1..5, got '{text}'") from None
    return list(dict.fromkeys(seeds))


class GridConfig(BaseModel):
    """Train and evaluate every combination; one row per run in OUT/results.csv and results.jsonl.

    Every option of ``synthmed experiment``: the sets, the grid's axes (sources x ratios x real fractions x
    augmentations x seeds), the classifier options every run shares and where the runs go."""

    model_config = ConfigDict(extra="forbid")

    real: str = Field(description="Real prepared dataset (train split used; val/test as below).")
    synthetic: str | None = Field(None, description="Synthetic prepared dataset.")
    out: Path = Field(description="Experiment folder (re-run to resume).")
    ratios: list[Annotated[float, Field(ge=0, le=MAX_SYNTHETIC_RATIO)]] = Field([0.0, 25.0, 50.0, 75.0, 100.0],
                                                                               min_length=1,
                                                       json_schema_extra=_COMMA,
                                                       description="Synthetic as % of the real count used.")
    real_fractions: list[Annotated[float, Field(gt=0, le=1)]] = Field(
        [1.0], min_length=1, json_schema_extra=_COMMA,
        description="Fractions of the real training set, e.g. 1,0.5,0.25,0.1.")
    sources: list[Source] = Field(["real", "synthetic", "mixed"], min_length=1, json_schema_extra=_COMMA,
                                  description="Comma list of real, synthetic, mixed.")
    augment: list[Augment] = Field(["none"], min_length=1, json_schema_extra=_COMMA,
                                   description="Comma list of none, traditional, trivialaugment.")
    seeds: list[int] = Field([1], min_length=1, json_schema_extra=_COMMA,
                             description="Comma list or range, e.g. 1..5.")
    arch: str = _per_run("arch", default="cnn")
    epochs: int = _per_run("epochs")
    val: str | None = Field(None, description="Default: REAL:val.")
    test: str | None = Field(None, description="Default: REAL:test.")
    pretrained: str = _per_run("pretrained")
    head: Head = _per_run("head")
    batch_size: int = _per_run("batch_size")
    lr: float = _per_run("lr")
    lr_schedule: LrSchedule = _per_run("lr_schedule", description="constant, or cosine (annealed to 0 over --epochs).")
    patience: int | None = _per_run("patience", description="0: never stop early.")
    balance: Balance = _per_run("balance", description="none, weights or sampler (see train-classifier).")
    synthetic_weight: float = _per_run("synthetic_weight")
    synthetic_smoothing: float = _per_run("synthetic_smoothing")
    synthetic_schedule: SyntheticSchedule = _per_run("synthetic_schedule")
    draw: Draw = Field("stratified", description="Synthetic class mix: proportional (= stratified), balanced, top-up "
                       "or minority (see 'synthmed run' generate.strategy).")
    budget: Budget = Field("steps", description="steps: every run of a real fraction takes its real-only run's "
                           "optimizer steps; epochs: every run makes --epochs passes over its own set.")
    device: str = _per_run("device")
    workers: Annotated[int | Literal["auto"], auto_or_at_least(1)] = Field(
        "auto", description="Runs at once: auto (one-thread runs on every core; on a GPU, 4 runs per GPU), N, or 1 "
        "(one after another in this process). More than 1 runs them as Ray tasks.")
    threads: int | None = Field(None, ge=1, description="Intra-op threads per run (default: 1 with several workers; "
                                "torch's default with --workers 1).")
    ray_address: str | None = Field(None, json_schema_extra={"envvar": "RAY_ADDRESS"},
                                    description="Run the grid on this Ray cluster (HOST:PORT of 'ray start --head'; "
                                    "also $RAY_ADDRESS).")

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_ranges(cls, value: Any) -> list[int]:
        return parse_seeds(value)

    def run_kwargs(self) -> dict[str, Any]:
        """``run_experiment``'s options after the real set, the synthetic set and the folder."""
        return {"ratios": self.ratios, "real_fractions": self.real_fractions, "sources": self.sources,
                "augments": self.augment, "seeds": self.seeds, "arch": self.arch, "epochs": self.epochs,
                "val": self.val, "test": self.test, "draw": self.draw, "budget": self.budget,
                "pretrained": self.pretrained, "head": self.head, "batch_size": self.batch_size, "lr": self.lr,
                "lr_schedule": self.lr_schedule, "patience": self.patience or None, "balance": self.balance,
                "synthetic_weight": self.synthetic_weight, "synthetic_smoothing": self.synthetic_smoothing,
                "synthetic_schedule": self.synthetic_schedule,
                "device": self.device, "workers": None if self.workers == "auto" else self.workers,
                "threads": self.threads, "ray_address": self.ray_address}
