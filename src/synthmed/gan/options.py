"""Training options: the dataclass a run is configured by, and how defaults depend on the architecture."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from synthmed.errors import SynthmedError

AUGS = ("none", "diffaug", "ada")

# Options a resumed run may change; everything else comes from the checkpoint.
RESUME_OVERRIDABLE = ("kimg", "device", "amp", "compile", "progress", "tick_kimg", "snapshot_kimg", "keep_last",
                      "metric_every_kimg")


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved as ``options.json`` and inside every checkpoint.

    ``None`` means "the architecture's default" and is replaced by :func:`resolve` (except ``kimg``,
    ``data`` and ``resolution`` on resume, which default to the checkpoint's values).
    """

    data: str | None = None          # prepared dataset folder (its train split is used)
    arch: str | None = None          # a registered family: dcgan | wgan-gp | stylegan2 | bagan-gp | ...
    out: str = "runs"                # parent folder of numbered run folders
    kimg: float | None = None        # training length in thousands of real images shown to D (default 10)
    batch: int = 32                  # global batch size (split over DDP ranks)
    resolution: int | None = None    # model resolution (default: the data's, 28 -> 32)
    aug: str = "none"                # none | diffaug | ada
    cond: bool = True                # class-conditional
    resume: str | None = None        # run folder or checkpoint file to continue
    seed: int = 0
    device: str = "auto"             # auto | cpu | cuda | cuda:N
    amp: bool = True                 # mixed precision on CUDA (bf16 where supported, else fp16 + scaler)
    compile: bool = False            # torch.compile the generator (CUDA)
    z_dim: int | None = None
    width: int | None = None         # channels at the last layer before the output (capacity)
    max_width: int | None = None
    lr_g: float | None = None
    lr_d: float | None = None
    betas: list[float] | None = None  # Adam (beta1, beta2) of both networks (default: the architecture's paper)
    n_critic: int = 5                # WGAN-GP critic steps per generator step
    gp_lambda: float = 10.0          # WGAN-GP penalty weight
    drift: float | None = None       # WGAN-GP drift penalty on real scores (default 0.001 with --aug ada, else 0)
    ae_kimg: float | None = None     # BAGAN-GP autoencoder phase, the first part of --kimg (default 30 epochs)
    r1_gamma: float | None = None    # StyleGAN2 R1 weight (default: 0.0002 R^2 / batch, the ADA heuristic)
    r1_interval: int = 16            # lazy regularisation: R1 every this many D steps
    ema_kimg: float | None = None    # half-life of G_ema in kimg (default batch * 10 / 32)
    ema_rampup: float = 0.05         # half-life at most this fraction of the images seen so far
    ada_target: float = 0.6
    ada_interval: int = 4            # D steps between ADA p updates
    ada_kimg: float = 100.0          # kimg for ADA's p to go 0 -> 1 (ADA's 500 suits long runs, not small CPU ones)
    diffaug_policy: str = "translation,cutout,color"
    tick_kimg: float = 1.0           # log a line of stats every this many kimg
    snapshot_kimg: float = 5.0       # grid + checkpoint every this many kimg
    keep_last: int = 3               # numbered checkpoints kept (plus last.pt and best.pt)
    metric_every_kimg: float | None = None
    best_metric: str = "fid_domain"  # lower is better
    grid_cols: int = 8
    grid_seed: int = 123
    progress: bool = True
    net_kwargs: dict[str, Any] = field(default_factory=dict)  # extra network options (e.g. StyleGAN2 mapping_layers)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def resolve(cfg: TrainConfig, data_resolution: int) -> TrainConfig:
    """Fill defaults (the architecture's from its paper) and check option values (one-line errors)."""
    from synthmed.gan.archs import get_arch

    family = get_arch(cfg.arch)
    if cfg.aug not in AUGS:
        raise SynthmedError(f"--aug must be one of {', '.join(AUGS)}, got {cfg.aug}")
    if cfg.batch < 2:
        raise SynthmedError(f"--batch must be at least 2, got {cfg.batch}")
    d = family.defaults
    out = TrainConfig.from_dict(cfg.to_dict())
    out.kimg = 10.0 if cfg.kimg is None else float(cfg.kimg)
    if out.kimg <= 0:
        raise SynthmedError(f"--kimg must be positive, got {cfg.kimg}")
    out.resolution = cfg.resolution or max(32, 1 << (int(data_resolution) - 1).bit_length())
    out.z_dim = cfg.z_dim or d["z_dim"]
    out.width = cfg.width or d["width"]
    out.max_width = cfg.max_width or d["max_width"]
    out.lr_g = cfg.lr_g or d["lr_g"]
    out.lr_d = cfg.lr_d or d["lr_d"]
    out.betas = [float(b) for b in (cfg.betas or d["betas"])]
    if len(out.betas) != 2 or not all(0 <= b < 1 for b in out.betas):
        raise SynthmedError(f"--betas takes two numbers in [0, 1) (Adam's beta1,beta2), got {cfg.betas}")
    out.r1_gamma = cfg.r1_gamma if cfg.r1_gamma is not None else 0.0002 * out.resolution**2 / cfg.batch
    if cfg.drift is not None and cfg.drift < 0:
        raise SynthmedError(f"--drift must be 0 or more, got {cfg.drift}")
    out.drift = 0.0  # families with a Wasserstein critic set their own
    out.ema_kimg = cfg.ema_kimg if cfg.ema_kimg is not None else cfg.batch * 10 / 32
    family.resolve(cfg, out)
    return out


def net_kwargs(cfg: TrainConfig) -> dict[str, Any]:
    """Options for ``build_networks`` (stored in checkpoints so ``load_generator`` rebuilds the same nets)."""
    from synthmed.gan.archs import get_arch

    return get_arch(cfg.arch).net_kwargs(cfg)
