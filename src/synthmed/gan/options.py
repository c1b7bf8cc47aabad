"""Training options: the model a run is configured by (declared once: ``train-gan``'s options, the pipeline's
``gan.options`` and the Python API all come from it), and how defaults depend on the architecture."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthmed.errors import SynthmedError
from synthmed.gan.archs import get_arch, names, option_fields, options_model
from synthmed.utils.options import auto_or_at_least, flag, format_errors, optional_copy

AUGS = ("none", "diffaug", "ada")
ArchName = Literal[names()]  # the registered GAN families (a new module in synthmed/gan/archs adds one)

# Options a resumed run may change; everything else comes from the checkpoint.
RESUME_OVERRIDABLE = ("kimg", "device", "amp", "compile", "progress", "tick_kimg", "snapshot_kimg", "keep_last",
                      "metric_every_kimg")

_NO_CLI = {"cli": False}


AutoBatch = Annotated[int | Literal["auto"], auto_or_at_least(2)]
AutoWidth = Annotated[int | Literal["auto"] | None, auto_or_at_least(1)]


class TrainConfig(BaseModel):
    """Train a (class-conditional) GAN on a prepared dataset; one numbered run folder per run.

    Everything a training run depends on; saved as ``options.json`` and inside every checkpoint. ``None`` means
    "the architecture's default" and is replaced by :func:`resolve` (except ``kimg``, ``data`` and
    ``resolution`` on resume, which default to the checkpoint's values).
    """

    model_config = ConfigDict(extra="forbid")

    data: str | None = Field(None, description="Prepared dataset folder (its train split is used).")
    arch: ArchName | None = Field(None, description="GAN family: " + ", ".join(names()) + ".")
    out: str = Field("runs", description="Parent folder of the numbered run folders.")
    kimg: float | None = Field(None, gt=0, description="Training length in thousands of real images shown to D "
                               "(default 10; on --resume: continue up to this many).")
    batch: AutoBatch = Field("auto", description="Global batch size (split over torchrun processes); auto: the "
                             "family's for the device (32 for the built-in families on either).")
    resolution: int | None = Field(None, ge=1, description="32, 64, 128 or 256 (default: the data's; 28 -> 32).")
    aug: Literal["none", "diffaug", "ada"] = Field("none", description="D augmentation: none, diffaug or ada.")
    cond: bool = Field(True, description="Condition on the class label.")
    resume: str | None = Field(None, description="Run folder (or checkpoint file) to continue.")
    seed: int = Field(0, description="Seeds the weights, the batch order and the noise.")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    amp: bool = Field(True, description="Mixed precision on CUDA (bf16 where supported, else fp16 + scaler).")
    compile: bool = Field(False, description="torch.compile the generator (CUDA).")
    z_dim: int | None = Field(None, ge=1, description="Latent size (default 128; StyleGAN2 512).")
    width: AutoWidth = Field("auto", description="Network width: channels near the output; auto: the paper's on a "
                             "GPU, a CPU-sized one on a CPU (StyleGAN2 16 instead of the paper's; DCGAN/WGAN-GP 64 on "
                             "either); null: the paper's.")
    max_width: int | None = Field(None, ge=1, description="Cap on channels per layer (default 512).")
    lr_g: float | None = Field(None, gt=0, description="G's Adam learning rate (default: the family's paper's).")
    lr_d: float | None = Field(None, gt=0, description="D's Adam learning rate (default: the family's paper's).")
    betas: list[float] | None = Field(None, min_length=2, max_length=2, description="Adam's beta1,beta2 for G and "
                                      "D, each in [0, 1) (default: the paper's: DCGAN 0.5,0.999; WGAN-GP 0,0.9; "
                                      "StyleGAN2 0,0.99; BAGAN-GP 0.5,0.9).")
    ema_kimg: float | None = Field(None, ge=0, description="Half-life of G_ema in kimg (default batch * 10 / 32).")
    ema_rampup: float | None = Field(0.05, ge=0, description="G_ema's half-life at most this fraction of the "
                                     "images seen so far (0 or null: no ramp-up).")
    ada_target: float = Field(0.6, description="ADA: target of the sign of D on reals (overfitting heuristic).")
    ada_interval: int = Field(4, ge=1, description="ADA: D steps between updates of the augmentation probability.")
    ada_kimg: float = Field(100.0, gt=0, description="ADA: kimg for the probability to go 0 -> 1 (ADA's 500 suits "
                            "long runs, not small CPU ones).")
    ada_ops: str = Field("default", description="ADA: ops, comma separated: xflip, rotate90, translation, scale, "
                         "rotate, aniso, xfrac, brightness, contrast, saturation, cutout; or a preset: default "
                         "(xflip, rotate90, translation, brightness, contrast, saturation, cutout) or bgc (the ADA "
                         "paper's blit + geometric + colour: default's ops less cutout, plus scale, rotate, aniso, "
                         "xfrac).")
    diffaug_policy: str = Field("translation,cutout,color", description="DiffAugment transforms, comma separated.")
    tick_kimg: float = Field(1.0, gt=0, description="Stats line every this many kimg.")
    snapshot_kimg: float = Field(5.0, gt=0, description="Grid + checkpoint every this many kimg.")
    keep_last: int = Field(3, ge=1, description="Numbered checkpoints to keep (plus last.pt and best.pt).")
    metric_every_kimg: float | None = Field(None, gt=0, description="Domain FID against the train set every N kimg "
                                            "(chooses best.pt).")
    best_metric: str = Field("fid_domain", description="Metric that chooses best.pt (lower is better).")
    grid_cols: int = Field(8, ge=1, description="Images per row of the sample grids.")
    grid_seed: int = Field(123, description="Seed of the sample grids' fixed latents.")
    progress: bool = Field(True, description="Show a progress bar.")
    sized_for: Literal["cpu", "gpu"] | None = Field(None, json_schema_extra=_NO_CLI,
                                                    description="Set by resolve: the device an auto width or batch "
                                                    "was sized for (null: none was auto).")
    family: dict[str, Any] = Field(default_factory=dict, json_schema_extra=_NO_CLI,
                                   description="The family's own options (declared in its package, e.g. "
                                               "synthmed/gan/archs/wgan_gp/__init__.py: n_critic, ...); given "
                                               "by their names like any other option.")

    @model_validator(mode="before")
    @classmethod
    def _gather_family_options(cls, data: Any) -> Any:
        """A family's options are given by name like the shared ones (``n_critic=3``, ``--n-critic 3``, YAML
        ``n_critic: 3``) and kept in ``family``; which family takes which is checked by :func:`resolve`. Not
        given (None) is left out, so the family's default applies."""
        if not isinstance(data, dict):
            return data
        fields = option_fields()
        flat = {k: data[k] for k in data if k in fields and k not in cls.model_fields}
        if not flat:
            return data
        rest = {k: v for k, v in data.items() if k not in flat}
        return {**rest, "family": {**(rest.get("family") or {}),
                                   **{k: v for k, v in flat.items() if v is not None}}}

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """From a saved config (a checkpoint's, options.json): known keys only, trusted (not re-validated, so a
        run made before a bound existed still resumes). Configs saved before families declared their own options
        kept them among the shared ones (``n_critic``) and in ``net_kwargs``: those the family takes move to
        ``family``."""
        known = {k: v for k, v in d.items() if k in cls.model_fields}
        if d.get("arch") in names() and "family" not in d:
            takes = options_model(d["arch"]).model_fields
            legacy = {**{k: v for k, v in d.items() if k in takes}, **(d.get("net_kwargs") or {})}
            known["family"] = {k: v for k, v in legacy.items() if k in takes and v is not None}
        return cls.model_construct(**{**cls().model_dump(), **known})


def family_option_fields() -> dict[str, tuple[Any, Any]]:
    """Every family's options as optional fields (name -> (type, Field)), for the command line and the pipeline's
    YAML: one declaration (in the family's package), None = the family's default; the help names the families."""
    out = {}
    for name, (field, families) in option_fields().items():
        annotation = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
        out[name] = (annotation | None, Field(None, description=f"{', '.join(families)}: {field.description}",
                                              json_schema_extra=field.json_schema_extra))
    return out


# The pipeline's ``gan.options``: every TrainConfig field the pipeline does not set itself, and every family's
# own options, optional.
PipelineGanOptions = optional_copy(
    TrainConfig, "GanOptions", exclude={"data", "arch", "out", "kimg", "batch", "aug", "seed", "device", "resume",
                                        "progress", "sized_for", "family"},
    doc="Further train-gan options (any 'synthmed train-gan' option by its field name, e.g. width: 32).",
    extra=family_option_fields())


def resolve(cfg: TrainConfig, data_resolution: int, device_type: str = "cpu") -> TrainConfig:
    """Fill defaults (the architecture's from its paper; ``auto`` width and batch sized for ``device_type``) and
    check option values (one-line errors)."""
    family = get_arch(cfg.arch)
    if cfg.aug not in AUGS:
        raise SynthmedError(f"--aug must be one of {', '.join(AUGS)}, got {cfg.aug}")
    if cfg.aug == "ada":
        from synthmed.gan.augment import parse_ada_ops

        try:
            parse_ada_ops(cfg.ada_ops)
        except SynthmedError as err:
            raise SynthmedError(f"--ada-ops: {err}") from None
    d = family.defaults
    sized = {**d, **(family.cpu_defaults if device_type == "cpu" else {})}
    out = TrainConfig.from_dict(cfg.to_dict())
    out.batch = int(sized.get("batch", 32)) if cfg.batch == "auto" else cfg.batch
    if out.batch < 2:
        raise SynthmedError(f"--batch must be at least 2, got {cfg.batch}")
    if "auto" in (cfg.batch, cfg.width):
        out.sized_for = "cpu" if device_type == "cpu" else "gpu"
    out.kimg = 10.0 if cfg.kimg is None else float(cfg.kimg)
    if out.kimg <= 0:
        raise SynthmedError(f"--kimg must be positive, got {cfg.kimg}")
    out.resolution = cfg.resolution or max(32, 1 << (int(data_resolution) - 1).bit_length())
    out.z_dim = cfg.z_dim or d["z_dim"]
    out.width = sized["width"] if cfg.width == "auto" else cfg.width or d["width"]
    out.max_width = cfg.max_width or d["max_width"]
    out.lr_g = cfg.lr_g or d["lr_g"]
    out.lr_d = cfg.lr_d or d["lr_d"]
    out.betas = [float(b) for b in (cfg.betas or d["betas"])]
    if len(out.betas) != 2 or not all(0 <= b < 1 for b in out.betas):
        raise SynthmedError(f"--betas takes two numbers in [0, 1) (Adam's beta1,beta2), got {cfg.betas}")
    out.family = _family_options(cfg)
    out.ema_kimg = cfg.ema_kimg if cfg.ema_kimg is not None else out.batch * 10 / 32
    family.resolve(cfg, out)
    return out


def _family_options(cfg: TrainConfig) -> dict[str, Any]:
    """The family's own options, checked against its declaration, with its defaults filled (one-line errors)."""
    model = options_model(cfg.arch)
    for name in cfg.family:
        if name not in model.model_fields:
            takes = option_fields().get(name, (None, ()))[1]
            where = f"an option of {', '.join(takes)}" if takes else "not an option of any family"
            raise SynthmedError(f"{flag(name)} is {where}; --arch {cfg.arch} has no such option")
    try:
        return model.model_validate(cfg.family).model_dump()
    except ValidationError as exc:
        raise SynthmedError(format_errors(exc)) from None


def net_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """Options for ``build_networks`` (stored in checkpoints so ``load_generator`` rebuilds the same nets)."""
    return get_arch(cfg.arch).net_kwargs(cfg)
