"""The experiment config: pydantic models, three profiles (cpu, quality, gpu), YAML in and out.

Every field has a description; ``synthmed init`` writes them as comments above each key, so the
commented YAML can never drift from what the loader accepts. Unknown keys are errors
(``extra="forbid"``): a typo names the key instead of being silently ignored.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synthmed.classify.options import Augment
from synthmed.classify.options import ExperimentOptions as ClassifyExperimentOptions
from synthmed.errors import BadInputError, SynthmedError
from synthmed.gan.options import PipelineGanOptions, TrainConfig
from synthmed.metrics.options import PipelineMetricsOptions
from synthmed.utils.options import FurtherOptions, description, given, like

Profile = Literal["cpu", "quality", "gpu"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


SOURCE_KEYS = ("medmnist", "folder", "csv", "dicom", "nifti", "dataset")


class DataConfig(_Section):
    medmnist: str | None = Field("breastmnist", description="Source (exactly one of medmnist, folder, csv, dicom, "
                                 "nifti, dataset): a MedMNIST dataset name (breastmnist, pneumoniamnist, ...).")
    folder: str | None = Field(None, description="Source: a folder with one subfolder of images per class (PNG, JPEG, "
                               "TIFF, BMP, DICOM, NIfTI; NAME_mask.png beside NAME.png is its mask). Relative paths "
                               "are relative to the config file.")
    csv: str | None = Field(None, description="Source: a CSV with columns path,label[,patient_id][,split][,mask] "
                            "(paths relative to the CSV's folder).")
    dicom: str | None = Field(None, description="Source: a folder with one subfolder of DICOM files per class.")
    nifti: str | None = Field(None, description="Source: a folder with one subfolder of NIfTI volumes per class "
                              "(axial slices, see nifti_slices).")
    dataset: str | None = Field(None, description="Source: a folder already made by 'synthmed prepare'.")
    size: int = Field(28, description="MedMNIST file size to read: 28, 64, 128 or 224.")
    resolution: int | None = Field(None, ge=8, le=4096, description="Side of the prepared images in pixels; null: "
                                   "the MedMNIST size, a prepared dataset's own, or the files' most common side "
                                   "(at most 256). The GAN and classifiers train at their own resolution.")
    channels: Literal[1, 3] | None = Field(None, description="1 or 3 channels; null keeps the source's (RGB files "
                                                             "with three equal channels count as gray).")
    bit_depth: Literal[8, 16] = Field(8, description="PNG bit depth of file sources: 8 or 16 (grayscale).")
    square: Literal["pad", "crop"] = Field("pad", description="File sources: pad (zero, centred) or crop (centre) "
                                                              "to square.")
    resize_filter: Literal["lanczos", "bicubic", "bilinear", "area", "nearest"] = Field(
        "lanczos", description="Resize filter of file sources, and of the GAN's and classifiers' own resolutions.")
    window_center: float | None = Field(None, description="DICOM/NIfTI window centre (after rescale, e.g. HU); "
                                                          "null: min-max per image.")
    window_width: float | None = Field(None, gt=0, description="DICOM/NIfTI window width.")
    nifti_slices: str = Field("all", description="NIfTI axial slices: all, middle:N, or mask.")
    nifti_volume: int | None = Field(None, ge=0, description="Volume index of 4-D NIfTI files.")
    split_ratios: list[float] = Field([0.7, 0.15, 0.15], min_length=3, max_length=3,
                                      description="train, val, test fractions when the source has no split.")
    split_seed: int = Field(0, description="Seed of that split.")
    group_by_patient: bool = Field(True, description="Keep each CSV patient_id in one split (StratifiedGroupKFold).")
    skip_bad: bool = Field(False, description="Skip unreadable files (listed in the dataset's skipped.csv) "
                                              "instead of stopping.")
    max_pixels: int = Field(89_478_485, ge=1, description="Refuse images with more pixels than this (decompression "
                                                          "bombs) before decoding; skip_bad skips them.")
    allow_outside: bool = Field(False, description="Let CSV paths leave the CSV's folder (absolute or ../).")
    root: str | None = Field(None, description="Folder with the MedMNIST .npz files; null: $SYNTHMED_DATA_ROOT, "
                                               "then ~/.medmnist (not part of the cache key).")

    @field_validator("size")
    @classmethod
    def _size(cls, v: int) -> int:
        if v not in (28, 64, 128, 224):
            raise ValueError("must be one of 28, 64, 128, 224")
        return v

    @field_validator("split_ratios")
    @classmethod
    def _ratios(cls, v: list[float]) -> list[float]:
        if min(v) < 0 or v[0] <= 0 or abs(sum(v) - 1.0) > 1e-6:
            raise ValueError("three fractions train, val, test >= 0 summing to 1")
        return v

    @field_validator("nifti_slices")
    @classmethod
    def _slices(cls, v: str) -> str:
        from synthmed.prepare.readers import parse_slice_mode

        try:
            parse_slice_mode(v)
        except SynthmedError:
            raise ValueError("all, mask or middle:N (N > 0)") from None
        return v

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        chosen = [k for k in SOURCE_KEYS if getattr(self, k) is not None]
        if len(chosen) != 1:
            got = f"got {' and '.join(chosen)}" if chosen else "got none"
            raise ValueError(f"give exactly one source of {', '.join(SOURCE_KEYS)} ({got})")
        if (self.window_center is None) != (self.window_width is None):
            raise ValueError("give both window_center and window_width, or neither")
        return self

    @property
    def source(self) -> str:
        """Which source key is set: medmnist, folder, csv, dicom, nifti or dataset."""
        return next(k for k in SOURCE_KEYS if getattr(self, k) is not None)

    @property
    def source_path(self) -> str | None:
        return None if self.source == "medmnist" else getattr(self, self.source)


class GanConfig(_Section):
    # arch, kimg, batch and aug are train-gan's options (values and bounds declared once, in TrainConfig) with the
    # pipeline's defaults (the profiles change them).
    arch: like(TrainConfig, "arch") = Field("dcgan", description=description(TrainConfig, "arch"))
    kimg: like(TrainConfig, "kimg") = Field(40.0, description="Training length in thousands of real images shown "
                                            "to D.")
    batch: like(TrainConfig, "batch") = Field(32, description=description(TrainConfig, "batch"))
    aug: like(TrainConfig, "aug") = Field("diffaug", description=description(TrainConfig, "aug") + " Against "
                                          "overfitting on small data.")
    subset_kimg_power: float = Field(0.5, ge=0, le=1, description="The GAN of a real fraction f < 1 (trained on "
                                     "that subset only) trains for kimg * f ** this (0: as long as the full one).")
    resolution: int | None = Field(None, ge=8, le=1024, description="Side of the images the GAN learns and makes; "
                                   "null: the prepared resolution, at most 32 (cpu profile), 64 (quality) or 256 "
                                   "(gpu).")
    options: PipelineGanOptions = Field(default_factory=PipelineGanOptions,
                                        description="Further train-gan options by field name (width: 32, "
                                        "r1_interval: 4, ...; 'synthmed train-gan --help' lists them).")


class GenerateConfig(_Section):
    per_class: int | None = Field(None, ge=1, description="Synthetic images per class (balanced); null: what the "
                                                         "largest ratio needs, times 'oversample'.")
    oversample: float = Field(2.5, ge=1, description="With per_class null and the filter on: generate this many times "
                              "the images the classifier grid needs, for the filter to choose from (1.25 without "
                              "the filter).")
    strategy: Literal["proportional", "balanced", "top-up", "minority"] = Field(
        "proportional", description="How a grid cell's synthetic images (ratio % of its real ones) are split among "
        "classes: proportional (like the real ones), balanced (equally), top-up (the smallest classes first, up to "
        "the largest), minority (only classes below the median count, smallest first).")
    trunc: float = Field(1.0, gt=0, le=2, description="Truncation psi (1.0 = no truncation).")
    batch: int = Field(64, ge=1, description="Generation batch size.")


class MetricsConfig(_Section):
    enabled: bool = Field(True, description="Compute realism/diversity/memorization metrics.")
    max_images: int | None = Field(300, ge=2, description="Images per side used by the metrics (null: all).")
    per_class: bool = Field(True, description="Also compute every metric per class.")
    features: str | None = Field(None, description="Feature extractor for FID-like metrics (null: the stage's "
                                                   "default).")
    frd_max_images: int | None = Field(60, ge=2, description="Images per side for the radiomics FRD (slow on CPU: "
                                                              "about 1 s per image).")
    skip: list[Literal["frd", "inception"]] = Field([], description="Metric families to leave out (frd, inception).")
    options: PipelineMetricsOptions = Field(default_factory=PipelineMetricsOptions,
                                            description="Further 'synthmed metrics' options by field name "
                                            "(msssim_pairs, kid_subsets, workers, cache_dir, ...).")


class FilterConfig(_Section):
    enabled: bool = Field(True, description="Filter the synthetic images before training classifiers.")
    real_pass_rate: float | None = Field(0.9, gt=0, le=1, description="Keep an image when a real-data classifier "
                                         "gives its class at least the probability this fraction of the real "
                                         "val images of that class reach (per class; null: off).")
    min_confidence: float | None = Field(None, ge=0, le=1, description="Also drop images whose class probability "
                                         "is below this fixed value (null: off; 0.5 was the old default).")
    realism_real_pass_rate: float | None = Field(None, gt=0, le=1, description="Keep an image when its realism "
                                                 "score is at least what this fraction of the real val images of "
                                                 "its class reach (null: off).")
    drop_worst_realism: float = Field(0.0, ge=0, lt=1, description="Fraction of least realistic images to drop.")
    drop_near_copies: bool = Field(True, description="Drop near-copies of real training images (memorization).")
    top_up_factor: float = Field(20.0, ge=1, description="When the filter leaves a class short of what the grid "
                                 "needs, generate more of it: at most this many times its need in all (1: never; "
                                 "20 feeds a class down to a 5 % pass rate).")
    when_short: Literal["best", "drop"] = Field("best", description="A class still short after the top-up: 'best' "
                                                "fills it with its best-scoring images the confidence rule rejected "
                                                "(never near copies; the report says how many), 'drop' leaves out "
                                                "the grid's conditions it cannot feed.")


# The cpu profile's budget per classifier run: what the default grid's full-data run on BreastMNIST sees
# (8 epochs of 9 batches of 64 over its 546 images), the run the 15-minute quick job was sized on. A larger
# set trains on this many of its images instead of taking proportionally longer.
CPU_IMAGES_PER_RUN = 8 * 9 * 64


class ClassifyConfig(_Section):
    arch: str = Field("cnn", description="Classifier architecture: cnn (small, CPU) or a timm name (resnet18, ...).")
    epochs: int = Field(8, ge=1, description="Training epochs per run (the best-validation-AUC epoch is kept).")
    batch: int = Field(64, ge=1, description="Batch size.")
    lr: float = Field(1e-3, gt=0, description="Learning rate.")
    seeds: list[int] = Field([0, 1, 2], min_length=1, description="Classifier seeds: every grid cell runs once per "
                                                              "seed (confidence intervals come from these).")
    ratios: list[int] = Field([0, 50, 100], min_length=1,
                                description="Synthetic images as % of the real images used (0 = real only).")
    real_fractions: list[float] = Field([1.0, 0.25], min_length=1,
                                        description="Fractions of the real training split used.")
    augment: list[Augment] = Field(["none", "traditional"], min_length=1,
                                   description="Augmentations of the grid's runs: none, traditional (flip, rotation, "
                                   "intensity) and trivialaugment (TrivialAugmentWide, an automatic policy).")
    synthetic_only: bool = Field(True, description="Also train on synthetic images only (as many as the real).")
    use_filtered: bool = Field(True, description="Use the filtered synthetic set when the filter stage runs.")
    oracle_gan: bool = Field(False, description="Give the real fractions below 1 the whole train split's GAN instead "
                             "of a GAN of their own subset: an upper bound, labelled so in the report.")
    budget: Literal["steps", "epochs"] = Field("steps", description="steps: every run of a real fraction takes the "
                                               "optimizer steps of its real-only run at 'epochs' (runs differ only "
                                               "in data); epochs: 'epochs' passes over each run's own set.")
    resolution: int | None = Field(None, ge=8, le=1024, description="Side of the images classifiers train and test "
                                   "on (real and synthetic resized with data.resize_filter); null: the prepared "
                                   "resolution, at most 32 (cpu profile), 64 (quality) or 256 (gpu).")
    options: ClassifyExperimentOptions = Field(default_factory=ClassifyExperimentOptions,
                                               description="Further train-classifier options by field name "
                                               "(patience, balance, lr_schedule, ...); the class mix of the "
                                               "synthetic images is generate.strategy.")
    images_per_run: int | None = Field(CPU_IMAGES_PER_RUN, ge=1, description="Compute budget: the most training "
                                       "images one classifier run sees (epochs keep their count, with fewer steps "
                                       "each), so the grid's time does not grow with the dataset; null: no cap "
                                       "(the gpu profile's).")
    # How the grid runs, not what it computes: not part of the stage's cache key (each run records its threads).
    workers: int | Literal["auto"] = Field("auto", description="Runs at once: auto (one-thread runs on every core, "
                                           "or 4 runs per GPU), N (N > 1: Ray tasks), or 1 (one after another in "
                                           "the main process).")
    threads: int | None = Field(None, ge=1, description="Intra-op threads per run (workers x threads <= cores); "
                                "null: 1 with several workers, torch's default with one.")
    ray_address: str | None = Field(None, description="Run the grid on this Ray cluster (HOST:PORT of 'ray start "
                                    "--head'); null: this machine.")

    @field_validator("workers")
    @classmethod
    def _workers(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("workers must be >= 1 or 'auto'")
        return v

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("seeds must be unique")
        return v

    @field_validator("ratios")
    @classmethod
    def _ratios(cls, v: list[int]) -> list[int]:
        if any(r < 0 for r in v):
            raise ValueError("ratios are percentages >= 0")
        return sorted(set(v))

    @field_validator("real_fractions")
    @classmethod
    def _fractions(cls, v: list[float]) -> list[float]:
        if any(not 0 < f <= 1 for f in v):
            raise ValueError("real fractions must be in (0, 1]")
        return sorted(set(v), reverse=True)


class StatsConfig(_Section):
    baseline: str = Field("real", description="The condition every other one is compared with.")


class ReportConfig(_Section):
    samples_per_class: int = Field(16, ge=1, le=64, description="Images per class in the sample grids.")


class ExperimentConfig(_Section):
    name: str = Field("breastmnist-cpu", pattern=r"^[A-Za-z0-9_.-]+$",
                      description="Run name; the default output folder is runs/<name>.")
    profile: Profile = Field("cpu", description="cpu (small, 2 cores, <= 15 min), quality (DCGAN-ADA at 64 px on "
                             "a CPU, aimed at <= 90 min on BreastMNIST) or gpu (StyleGAN2-ADA at 128).")
    seed: int = Field(0, description="Seed of the GAN, generation, filtering and of the real subsets "
                                       "(classifier seeds: classify.seeds).")
    device: str = Field("auto", description="auto, cpu or cuda[:N].")
    data: DataConfig = Field(default_factory=DataConfig)
    gan: GanConfig = Field(default_factory=GanConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    filter: FilterConfig = Field(default_factory=FilterConfig)
    classify: ClassifyConfig = Field(default_factory=ClassifyConfig)
    stats: StatsConfig = Field(default_factory=StatsConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        for key, value in (("gan.resolution", self.gan.resolution), ("data.resolution", self.data.resolution)):
            if value is not None and value & (value - 1) and self.gan.arch.startswith("stylegan"):
                raise ValueError(f"{key} {value}: StyleGAN2 needs a power of two")
        if not self.device.startswith(("auto", "cpu", "cuda", "mps")):
            raise ValueError(f"device '{self.device}': expected auto, cpu, cuda or cuda:N")
        return self


# The GAN's and the classifiers' resolution when the config leaves it null: the prepared one, at most this.
# cpu: 32, the size the BreastMNIST default trains at (28, padded to 32 by the GAN). Measured on the RBC crops
# (2026-12-02, 2 cores): DCGAN at 64 px shows D about 5x fewer images per second than at 32 (benchmarks/README:
# 104 vs 525 img/s), so 40 kimg plus the 0.25-subset GAN's 20 alone took longer than the 15 minutes the cpu profile
# promises; classifiers cost about (side / 32)^2 more per image. Set gan.resolution / classify.resolution for more.
# quality: 64, the size of the README's 64 px GAN recipes (BreastMNIST 64).
MAX_TRAIN_RESOLUTION = {"cpu": 32, "quality": 64, "gpu": 256}


def gan_resolution(cfg: ExperimentConfig, prepared: int) -> int:
    return cfg.gan.resolution or min(prepared, MAX_TRAIN_RESOLUTION[cfg.profile])


def classify_resolution(cfg: ExperimentConfig, prepared: int) -> int:
    return cfg.classify.resolution or min(prepared, MAX_TRAIN_RESOLUTION[cfg.profile])



# What --profile gpu changes from the defaults (the cpu profile).
GPU_PROFILE: dict[str, Any] = {
    "name": "breastmnist-gpu",
    "profile": "gpu",
    "device": "cuda",
    "data": {"size": 128},  # resolution null: the file size, 128
    "gan": {"arch": "stylegan2", "kimg": 1000.0, "batch": 32, "aug": "ada"},
    "metrics": {"max_images": None, "frd_max_images": 1000},
    "classify": {"arch": "resnet18", "epochs": 30, "images_per_run": None, "seeds": [0, 1, 2, 3, 4],
                 "ratios": [0, 25, 50, 75, 100, 200],
                 "real_fractions": [1.0, 0.5, 0.25, 0.1]},
    "report": {"samples_per_class": 16},
}


# What --profile quality changes from the defaults (the cpu profile): the CPU "quality" run of issue 16 for
# BreastMNIST at 64 px, meant to finish within 90 minutes on this project's 2-core machine.
# Timed: `synthmed run --profile quality` took 40 min 06 s from a fresh clone on the idle 2-core CPU (2026-12-03;
# GANs 14:03 + 6:13 + 3:48 at about 210 img/s, metrics 2:25, the 120-run grid 13:19). The values are still the
# STARTING POINT of issue 16's recipe search (benchmarks/quality_recipes.py; every recipe tried and its validation
# result go in benchmarks/results/quality/recipes.md). They come from the README's measured 64 px
# table: DCGAN width 32 with ADA for 180 kimg (35 min on a loaded thread then) for the full train split (546 images);
# the subset GANs of the 0.25 and 0.1 fractions train for 180 * f ** gan.subset_kimg_power kimg (90 and 57 at
# the default 0.5, see stages.scope_kimg); the grid is the small CNN at 64 px over 5 seeds.
# synthetic_weight 0.5 (each synthetic image counts half a real one in the loss): chosen on the real VALIDATION
# split by that search (2026-12-03; benchmarks/results/quality/recipes.md): with the dcgan-ada GANs, over 3 seeds,
# the best of the five classifier recipes tried at the 10 % fraction (+0.064 val AUC over real-only at ratio 50,
# plain mixing +0.028) and second at 25 % (+0.076 ± 0.037; "pretrain" scored +0.113 in one cell but with sd 0.13
# across its cells, too noisy to choose on 78 validation images).
QUALITY_PROFILE: dict[str, Any] = {
    "name": "breastmnist-quality",
    "profile": "quality",
    "data": {"size": 64},  # resolution null: the file size, 64
    "gan": {"arch": "dcgan", "kimg": 180.0, "aug": "ada", "options": {"width": 32}},
    "classify": {"arch": "cnn", "seeds": [0, 1, 2, 3, 4], "ratios": [0, 50, 100],
                 "real_fractions": [1.0, 0.25, 0.1], "augment": ["none", "traditional"], "synthetic_only": True,
                 "options": {"synthetic_weight": 0.5}},
}
# Every profile and what it changes (the keys are the Profile literal's values; a test checks they agree).
PROFILES: dict[str, dict[str, Any]] = {"cpu": {}, "quality": QUALITY_PROFILE, "gpu": GPU_PROFILE}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("options",):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def profile_defaults(profile: str) -> dict[str, Any]:
    if profile not in PROFILES:
        raise SynthmedError(f"unknown profile '{profile}' (expected {', '.join(get_args(Profile))})")
    return deep_merge(ExperimentConfig().model_dump(), PROFILES[profile])


def build_config(data: dict[str, Any] | None = None, profile: str | None = None, source: str = "config",
                 **overrides: Any) -> ExperimentConfig:
    """Profile defaults, then the file's values, then command-line overrides (``data.root=...``)."""
    data = dict(data or {})
    chosen = profile or data.get("profile") or "cpu"
    defaults = profile_defaults(str(chosen))
    given = data.get("data")
    if isinstance(given, dict) and any(k in given for k in SOURCE_KEYS):
        # The file names its source: the profile's default (BreastMNIST) is not a second one.
        defaults["data"] = {**defaults["data"], **dict.fromkeys(SOURCE_KEYS)}
        # Without a name, runs/<name> follows the data: an RBC run must not land in runs/breastmnist-cpu.
        defaults["name"] = _name_from_source(given, str(chosen)) or defaults["name"]
    merged = deep_merge(defaults, data)
    merged["profile"] = chosen
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = merged
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    try:
        return ExperimentConfig.model_validate(merged)
    except ValidationError as exc:
        raise SynthmedError(f"{source}: {format_errors(exc)}") from None


def _name_from_source(data: dict[str, Any], profile: str) -> str | None:
    """``<source name>-<profile>``: the MedMNIST name, the folder's name, or the CSV's (its folder's for labels.csv)."""
    import re

    key = next((k for k in SOURCE_KEYS if isinstance(data.get(k), str) and data.get(k)), None)
    if key is None:
        return None
    path = Path(data[key])
    stem = data[key] if key == "medmnist" else path.stem if key == "csv" and path.stem != "labels" else (
        path.parent.name if key == "csv" else path.name)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.")
    return f"{stem}-{profile}" if stem else None


def format_errors(exc: ValidationError) -> str:
    """One line: ``classify.epochs: Input should be greater than or equal to 1; ...``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; 'synthmed init' lists every key)"
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)


def load_config(path: str | Path | None, profile: str | None = None, **overrides: Any) -> ExperimentConfig:
    """Read a YAML config (or none: the profile's defaults) and validate it."""
    if path is None:
        return build_config({}, profile, source="defaults", **overrides)
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SynthmedError(f"{path}: config file not found (write one with 'synthmed init > {path.name}')")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(path, f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
        raise BadInputError(path, f"not valid YAML ({where}{problem})") from None
    except RecursionError:
        raise BadInputError(path, "not valid YAML (nested too deeply)") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInputError(path, "the top level must be a mapping of keys to values")
    return with_source_paths_from(build_config(data, profile, source=str(path), **overrides), path.parent)


def with_source_paths_from(cfg: ExperimentConfig, base: Path) -> ExperimentConfig:
    """Relative data source paths are relative to the config file; the resolved config holds absolute ones."""
    rel = cfg.data.source_path
    if rel is None or Path(rel).is_absolute():
        return cfg
    absolute = str((base / rel).absolute())
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={cfg.data.source: absolute})})


def to_commented_yaml(cfg: ExperimentConfig) -> str:
    """The config as YAML with each field's description as a comment above it."""
    lines = [
        "# synthmed experiment config: 'synthmed run THIS_FILE' runs every stage from it.",
        "# Stages are cached by the hash of their options: change a value and re-run; only what depends on it",
        "# runs again. 'synthmed run THIS_FILE --dry-run' prints the plan without running it.",
    ]
    _emit(cfg, lines, indent="")
    return "\n".join(lines) + "\n"


def _emit(model: BaseModel, lines: list[str], indent: str) -> None:
    import yaml

    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, FurtherOptions):  # a stage's further options: the given ones, inline
            value = given(value)
        elif isinstance(value, BaseModel):
            lines.append("")
            lines.append(f"{indent}{name}:")
            _emit(value, lines, indent + "  ")
            continue
        if field.description:
            lines.append(f"{indent}# {field.description}")
        dumped = yaml.safe_dump({name: value}, default_flow_style=True, sort_keys=False, width=1000).strip()
        lines.append(f"{indent}{dumped.removeprefix('{').removesuffix('}')}")
