"""The experiment config: pydantic models, three profiles (cpu, quality, gpu), YAML in and out.

Every field has a description; ``synthmed init`` writes them as comments above each key, so the
commented YAML can never drift from what the loader accepts. Unknown keys are errors
(``extra="forbid"``): a typo names the key instead of being silently ignored.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synthmed.classify.options import MAX_SYNTHETIC_RATIO, Augment
from synthmed.classify.options import ExperimentOptions as ClassifyExperimentOptions
from synthmed.errors import BadInputError, SynthmedError
from synthmed.filter.options import FilterRules
from synthmed.gan.options import PipelineGanOptions, TrainConfig
from synthmed.generate.options import Sampling
from synthmed.metrics.options import MetricsOptions, PipelineMetricsOptions
from synthmed.prepare.options import SOURCE_KEYS, PrepareOptions
from synthmed.utils.options import NOT_IN_KEY, FurtherOptions, description, given, like

Profile = Literal["cpu", "quality", "gpu"]


class _Section(BaseModel):
    # allow_inf_nan False: '.inf' and '.nan' in the YAML are refused by name, as any other bad number.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def key_fields(model: BaseModel) -> dict[str, Any]:
    """Every field of a config model, nested models included, except those marked ``NOT_IN_KEY``: a stage's
    cache key takes its sections whole, so a new option is in the key without another edit. A null field is
    left out (a model's fields are fixed, so absent still means null, and the plan stays readable)."""
    out: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("cache_key") is False:
            continue
        value = getattr(model, name)
        if value is not None:
            out[name] = key_fields(value) if isinstance(value, BaseModel) else value
    return out


class DataConfig(_Section, PrepareOptions):
    """The data source and how it is prepared (``prepare.options.PrepareOptions``, the same as 'synthmed
    prepare''s options)."""


class GanConfig(_Section):
    # arch, kimg, batch and aug are train-gan's options (values and bounds declared once, in TrainConfig) with the
    # pipeline's defaults (the profiles change them).
    arch: like(TrainConfig, "arch") = Field("dcgan", description=description(TrainConfig, "arch"))
    kimg: like(TrainConfig, "kimg") = Field(40.0, description="Training length in thousands of real images shown "
                                            "to D.")
    batch: like(TrainConfig, "batch") = Field(32, description=description(TrainConfig, "batch"))
    aug: like(TrainConfig, "aug") = Field("diffaug", description=description(TrainConfig, "aug") + " Against "
                                          "overfitting on small data (none for a diffusion model: no D).")
    subset_kimg_power: float = Field(0.5, ge=0, le=1, description="The GAN of a real fraction f < 1 (trained on "
                                     "that subset only) trains for kimg * f ** this (0: as long as the full one).")
    resolution: int | None = Field(None, ge=8, le=1024, description="Side of the images the GAN learns and makes; "
                                   "null: the prepared resolution, at most 32 (cpu profile), 64 (quality) or 256 "
                                   "(gpu).")
    options: PipelineGanOptions = Field(default_factory=PipelineGanOptions,
                                        description="Further train-gan options by field name (width: 32, "
                                        "r1_interval: 4, ...; 'synthmed train-gan --help' lists them).")


class GenerateConfig(_Section, Sampling):
    """The sampling options (``generate.options.Sampling``, the same as 'synthmed generate''s), plus how the
    pipeline sizes and splits the pool."""

    oversample: float = Field(2.5, ge=1, description="With per_class null and the filter on: generate this many times "
                              "the images the classifier grid needs, for the filter to choose from (1.25 without "
                              "the filter).")
    strategy: Literal["proportional", "balanced", "top-up", "minority"] = Field(
        "proportional", description="How a grid cell's synthetic images (ratio % of its real ones) are split among "
        "classes: proportional (like the real ones), balanced (equally), top-up (the smallest classes first, up to "
        "the largest), minority (only classes below the median count, smallest first).")


class MetricsConfig(_Section):
    # The keys shared with 'synthmed metrics' take its declarations (MetricsOptions), with the pipeline's sizes.
    enabled: bool = Field(True, description="Compute realism/diversity/memorization metrics.")
    max_images: like(MetricsOptions, "max_images", optional=True) = Field(
        300, description=description(MetricsOptions, "max_images"))
    per_class: like(MetricsOptions, "per_class") = Field(True, description=description(MetricsOptions, "per_class"))
    features: like(MetricsOptions, "features", optional=True) = Field(
        None, description=description(MetricsOptions, "features"))
    frd_max_images: like(MetricsOptions, "frd_max_images", optional=True) = Field(
        60, description=description(MetricsOptions, "frd_max_images"))
    skip: like(MetricsOptions, "skip") = Field([], description=description(MetricsOptions, "skip"))
    options: PipelineMetricsOptions = Field(default_factory=PipelineMetricsOptions,
                                            description="Further 'synthmed metrics' options by field name "
                                            "(msssim_pairs, kid_subsets, workers, cache_dir, ...).")


class FilterConfig(_Section, FilterRules):
    """The filter's rules (``filter.options.FilterRules``, the same as 'synthmed filter''s options), plus how the
    pipeline uses it."""

    enabled: bool = Field(True, description="Filter the synthetic images before training classifiers.")
    top_up_factor: float = Field(20.0, ge=1, description="When the filter leaves a class short of what the grid "
                                 "needs, generate more of it: at most this many times its need in all (1: never; "
                                 "20 feeds a class down to a 5 % pass rate).")
    when_short: Literal["best", "drop"] = Field("best", description="A class still short after the top-up: 'best' "
                                                "fills it with its best-scoring images the confidence rule rejected "
                                                "(never near copies; the report says how many), 'drop' leaves out "
                                                "the grid's conditions it cannot feed.")


# The cpu profile's budget per classifier run: what the default grid's full-data run on BreastMNIST sees
# (8 epochs of 9 batches of 64 over its 546 images), the run the cpu profile's time on 2 cores was sized on. A
# larger set trains on this many of its images instead of taking proportionally longer.
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
                                           "the main process).", json_schema_extra=NOT_IN_KEY)
    threads: int | None = Field(None, ge=1, description="Intra-op threads per run (workers x threads <= cores); "
                                "null: 1 with several workers, torch's default with one.", json_schema_extra=NOT_IN_KEY)
    ray_address: str | None = Field(None, description="Run the grid on this Ray cluster (HOST:PORT of 'ray start "
                                    "--head'); null: this machine.", json_schema_extra=NOT_IN_KEY)

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
        if any(not 0 <= r <= MAX_SYNTHETIC_RATIO for r in v):
            raise ValueError(f"ratios are percentages in 0..{MAX_SYNTHETIC_RATIO:g} (synthetic images per 100 "
                             "real ones)")
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
    """Everything ``synthmed run`` does, one section per stage; ``synthmed init`` writes it with every key."""

    name: str = Field("breastmnist-cpu", pattern=r"^[A-Za-z0-9_.-]+$",
                      description="Run name; the default output folder is runs/<name>.")
    profile: Profile = Field("cpu", description="cpu (small, 2 cores, <= 15 min), quality (DCGAN-ADA at 64 px on "
                             "a CPU, aimed at <= 90 min on BreastMNIST) or gpu (StyleGAN2-ADA at 128).")
    seed: int = Field(0, description="Seed of the GAN, generation, filtering and of the real subsets "
                                       "(classifier seeds: classify.seeds).")
    device: str = Field("auto", description="auto, cpu or cuda[:N].", json_schema_extra=NOT_IN_KEY)
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
        where = _non_finite(self.model_dump())
        if where:  # values that no field's allow_inf_nan reaches (a family's own options, free-form mappings)
            raise ValueError(f"{where}: must be a finite number")
        return self


def _non_finite(value: Any, where: str = "") -> str | None:
    """The dotted key of the first NaN or infinity in ``value`` (nested dicts and lists), or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "the config"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite(item, f"{where}.{shown_key(key)}" if where else shown_key(key))
        if found:
            return found
    return None


# The GAN's and the classifiers' resolution when the config leaves it null: the prepared one, at most this.
# cpu: 32, the size the BreastMNIST default trains at (28, padded to 32 by the GAN). Measured on the RBC crops
# (2026-12-02, 2 cores): DCGAN at 64 px shows D about 5x fewer images per second than at 32 (benchmarks/README:
# 104 vs 525 img/s), so 40 kimg plus the 0.25-subset GAN's 20 alone took longer than the 15 minutes the cpu profile
# promises; classifiers cost about (side / 32)^2 more per image. Set gan.resolution / classify.resolution for more.
# quality: 64, the size of the measured 64 px GAN recipes (docs/studies/gan-architectures.md).
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


# What --profile quality changes from the defaults (the cpu profile): a CPU run for BreastMNIST at 64 px, meant to
# finish within 90 minutes on a 2-core machine. Timed: `synthmed run --profile quality` took 40 min 06 s from a fresh
# clone on an idle 2-core Intel Xeon VM (2026-12-03; GANs 14:03 + 6:13 + 3:48 at about 210 img/s, metrics 2:25, the
# 120-run grid 13:19). The GAN and grid come from the measured 64 px table (docs/studies/gan-architectures.md): DCGAN
# width 32 with ADA for 180 kimg for the full train split (546 images); the subset GANs of the 0.25 and 0.1 fractions
# train for 180 * f ** gan.subset_kimg_power kimg (90 and 57 at the default 0.5, see stages.scope_kimg); the grid is
# the small CNN at 64 px over 5 seeds.
# synthetic_weight 0.5 (each synthetic image counts half a real one in the loss): chosen on the real VALIDATION
# split by the recipe search (benchmarks/quality_recipes.py; every recipe tried is in
# benchmarks/results/quality/recipes.md): with the dcgan-ada GANs, over 3 seeds, the best of the five classifier
# recipes tried at the 10 % fraction (+0.064 val AUC over real-only at ratio 50, plain mixing +0.028) and second at
# 25 % (+0.076 ± 0.037; "pretrain" scored +0.113 in one cell but with sd 0.13 across its cells, too noisy to choose
# on 78 validation images); best over the two fractions together.
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
    """Profile defaults, then the file's values, then command-line overrides (``data.root=...``).

    ``generator`` is another name of the ``gan`` section (it holds any generator family, diffusion models too).
    """
    data = dict(data or {})
    if "generator" in data:
        if "gan" in data:
            raise SynthmedError(f"{source}: give the generator section as 'generator' or as 'gan', not both")
        data["gan"] = data.pop("generator")
    overrides = {("gan" + k.removeprefix("generator") if k.startswith("generator.") else k): v
                 for k, v in overrides.items()}
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
        where = ".".join(shown_key(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; 'synthmed init' lists every key)"
        parts.append(f"{where}: {msg}" if where else msg)  # a rule across keys names its keys itself
    return "; ".join(parts)


def shown_key(key: Any) -> str:
    """A key as a message shows it: as written, or quoted with escapes when it holds a line break or other
    unprintable character (the message stays one line)."""
    text = str(key)
    return text if text.isprintable() and text.strip() == text and text else repr(text)


def load_config(path: str | Path | None, profile: str | None = None, **overrides: Any) -> ExperimentConfig:
    """Read a YAML config (or none: the profile's defaults) and validate it."""
    if path is None:
        return build_config({}, profile, source="defaults", **overrides)
    path = Path(path)
    if not path.is_file():
        raise SynthmedError(f"{path}: config file not found (write one with 'synthmed init > {path.name}')")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInputError(path, f"not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.load(text, Loader=_unique_keys_loader())  # a SafeLoader subclass: no arbitrary objects
    except DuplicateKeyError as exc:
        raise BadInputError(path, str(exc)) from None
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


class DuplicateKeyError(ValueError):
    """A YAML mapping names one key twice (PyYAML keeps the last silently)."""


def _unique_keys_loader():
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping, naming it and both lines: with the
    plain loader the second value wins without a word, and a user edits the first."""
    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            first: dict[Any, int] = {}
            merging = any(k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value)  # '<<': overrides are meant
            for key_node, _ in [] if merging else node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    if key in first:
                        where = f"on line {line}" if first[key] == line else f"on lines {first[key]} and {line}"
                        raise DuplicateKeyError(f"key {str(key)!r} is given twice ({where}); keep one")
                    first[key] = line
                except TypeError:  # an unhashable key: the base class names it
                    continue
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


def with_source_paths_from(cfg: ExperimentConfig, base: Path) -> ExperimentConfig:
    """Relative data source paths are relative to the config file; the resolved config holds absolute ones."""
    rel = cfg.data.source_path
    if rel is None or Path(rel).is_absolute():
        return cfg
    absolute = str((base / rel).absolute())
    return cfg.model_copy(update={"data": cfg.data.model_copy(update={cfg.data.source: absolute})})


def to_commented_yaml(cfg: ExperimentConfig, chosen: set[str] | None = None) -> str:
    """The config as YAML with each field's description as a comment above it.

    ``chosen``: the dotted keys the user chose (``synthmed init``: the profile and the data source); every
    other key is written commented out, with the profile's value for reading, so that the file records only
    those choices and ``--profile`` still sets all the rest. None: every key set (a resolved config).
    """
    lines = [
        "# synthmed experiment config: 'synthmed run THIS_FILE' runs every stage from it.",
        "# Stages are cached by the hash of their options: change a value and re-run; only what depends on it",
        "# runs again. 'synthmed run THIS_FILE --dry-run' prints the plan without running it.",
    ]
    if chosen is not None:
        lines += [
            f"# Keys written as '# key: value' are not set: they take the profile's value (shown: the "
            f"{cfg.profile} profile's),",
            "# also under 'synthmed run THIS_FILE --profile OTHER'. Uncomment a key (and its section's line) to "
            "set it.",
        ]
    _emit(cfg, lines, indent="", chosen=chosen)
    return "\n".join(lines) + "\n"


def _emit(model: BaseModel, lines: list[str], indent: str, chosen: set[str] | None = None, prefix: str = "",
          off: bool = False) -> None:
    """``off``: inside a section none of whose keys is chosen (its header is commented out too)."""
    for name, field in type(model).model_fields.items():
        value, key = getattr(model, name), prefix + name
        if isinstance(value, FurtherOptions):  # a stage's further options: the given ones, inline
            value = given(value)
        elif isinstance(value, BaseModel):
            section_off = off or (chosen is not None and not any(c.startswith(key + ".") for c in chosen))
            lines.append("")
            lines.append(f"{indent}{'# ' if section_off else ''}{name}:")
            _emit(value, lines, indent + "  ", chosen, key + ".", section_off)
            continue
        if field.description:
            lines.append(f"{indent}# {field.description}")
        dumped = yaml.safe_dump({name: value}, default_flow_style=True, sort_keys=False, width=1000).strip()
        unset = off or (chosen is not None and key not in chosen)
        lines.append(f"{indent}{'# ' if unset else ''}{dumped.removeprefix('{').removesuffix('}')}")


def profile_overrides(data: dict[str, Any], profile: str) -> list[str]:
    """``key value (profile: its value)`` for each key a config file sets to other than ``profile``'s value.

    What ``synthmed run FILE --profile P`` keeps from the file instead of P; the run says so rather than
    running a silent mix of two profiles.
    """
    base = profile_defaults(profile)
    out: list[str] = []

    def walk(given_: Any, default: Any, key: str) -> None:
        if isinstance(given_, dict) and isinstance(default, dict) and not key.endswith("options"):
            for k, v in given_.items():
                walk(v, default.get(k), f"{key}.{k}" if key else str(k))
        elif key not in ("profile", "name", *(f"data.{k}" for k in SOURCE_KEYS)) and given_ != default:
            out.append(f"{key} {given_!r} ({profile}: {default!r})")

    walk(data, base, "")
    return out
