"""The ``ddpm`` family: a class-conditional denoising diffusion model in the GAN families' contract.

Its "G" (:class:`DiffusionGenerator`) is the denoising UNet wrapped so that ``G(z, labels)`` runs a
deterministic DDIM sampler (eta 0) with classifier-free guidance from the initial noise ``z`` (a seeded latent of
``channels * resolution**2`` numbers, reshaped); so the shared training loop's EMA, checkpoints, exact resume,
grids, ``best.pt`` by domain FID, and generation, the filter's top-up and the memorization audit work unchanged.
It has no discriminator: ``build`` returns no D and the objective has no D steps; its one G term is the
denoising loss. ``G(x_t, labels, timesteps=t)`` is the UNet's prediction, the form training runs (through
DDP and ``torch.compile`` like any G).

Built on MONAI's diffusion components (``DiffusionModelUNet``, ``DDPMScheduler`` for the forward process and
``DDIMScheduler`` for sampling): MONAI is already a dependency, it is made for medical images (1-3 channels, 2D
or 3D), and its schedulers carry the epsilon / v targets and the standard noise schedules, so nothing of the
diffusion arithmetic is written here. diffusers would add a large dependency for the same pieces.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import monai.networks.nets.diffusion_model_unet as dmu
import torch
import torch.nn.functional as F
from monai.networks.nets import DiffusionModelUNet
from monai.networks.nets.diffusion_model_unet import DiffusionUNetResnetBlock
from monai.networks.schedulers import DDIMScheduler, DDPMScheduler
from torch import nn

from synthmed.errors import SynthmedError
from synthmed.gan.arch import Arch, Batch, Objective, Term
from synthmed.gan.archs import register
from synthmed.gan.archs.ddpm import Options

if TYPE_CHECKING:
    from synthmed.gan.options import TrainConfig

GROUPS = 8  # GroupNorm groups of every UNet block (so every level's channels must be a multiple of 8)
RESOLUTIONS = (16, 512)  # sides the family accepts (each must also halve evenly at every UNet level)


class _ConvMidBlock(nn.Module):
    """The UNet's middle block without self-attention: MONAI's ``AttnMidBlock`` less its attention layer.

    Why: MONAI always puts self-attention in the middle block, and its attention layer needs einops, which is not a
    dependency of synthmed; at the middle block's 4-16 px, attention also costs CPU time that the small networks
    this family runs on a CPU cannot spare. Same names (``resnet_1``, ``resnet_2``) and blocks as MONAI's.
    """

    def __init__(self, spatial_dims: int, in_channels: int, temb_channels: int, norm_num_groups: int,
                 norm_eps: float, **_: Any) -> None:
        super().__init__()
        kw = {"spatial_dims": spatial_dims, "in_channels": in_channels, "out_channels": in_channels,
              "temb_channels": temb_channels, "norm_num_groups": norm_num_groups, "norm_eps": norm_eps}
        self.resnet_1 = DiffusionUNetResnetBlock(**kw)
        self.resnet_2 = DiffusionUNetResnetBlock(**kw)

    def forward(self, hidden_states: torch.Tensor, temb: torch.Tensor,
                context: torch.Tensor | None = None) -> torch.Tensor:
        return self.resnet_2(self.resnet_1(hidden_states, temb), temb)


@contextlib.contextmanager
def _attention_free_middle() -> Iterator[None]:
    """While building a ``DiffusionModelUNet``, its middle block is :class:`_ConvMidBlock` (see there why)."""
    original = dmu.get_mid_block
    dmu.get_mid_block = lambda **kw: _ConvMidBlock(**kw)
    try:
        yield
    finally:
        dmu.get_mid_block = original


def build_unet(channels: int, num_classes: int, unet_channels: list[int], res_blocks: int) -> nn.Module:
    """MONAI's ``DiffusionModelUNet``, attention-free, with ``num_classes + 1`` class embeddings (the last is the
    null class of classifier-free guidance) or none when unconditional."""
    with _attention_free_middle():
        return DiffusionModelUNet(spatial_dims=2, in_channels=channels, out_channels=channels,
                                  channels=tuple(unet_channels), attention_levels=(False,) * len(unet_channels),
                                  num_res_blocks=res_blocks, norm_num_groups=GROUPS,
                                  num_class_embeds=num_classes + 1 if num_classes else None)


def drop_labels(labels: torch.Tensor, null: int, rate: float) -> torch.Tensor:
    """Each label replaced by the ``null`` class with probability ``rate`` (classifier-free guidance's training)."""
    if rate <= 0:
        return labels
    drop = torch.rand(labels.shape, device=labels.device) < rate
    return torch.where(drop, torch.full_like(labels, null), labels)


class DiffusionGenerator(nn.Module):
    """The denoising UNet as a generator: ``G(z, labels) -> (N, C, R, R)`` in [-1, 1] by DDIM from noise ``z``.

    ``num_classes`` is 0 when unconditional; the null class (the unconditional model) is index ``num_classes``.
    """

    def __init__(self, resolution: int, channels: int, num_classes: int, opts: Options) -> None:
        super().__init__()
        self.resolution, self.channels, self.num_classes = resolution, channels, num_classes
        self.z_dim = channels * resolution * resolution  # the latent is the initial noise
        self.prediction, self.schedule, self.train_timesteps = opts.prediction, opts.schedule, opts.train_timesteps
        self.sample_steps, self.guidance = opts.sample_steps, opts.guidance
        self.unet = build_unet(channels, num_classes, opts.unet_channels, opts.res_blocks)
        # No parameters or buffers: the schedule is recomputed from the options, never stored in checkpoints.
        self.noise = DDPMScheduler(opts.train_timesteps, opts.schedule, prediction_type=opts.prediction)

    @property
    def null_class(self) -> int:
        return self.num_classes

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, truncation_psi: float = 1.0, *,
                timesteps: torch.Tensor | None = None, steps: int | None = None,
                guidance: float | None = None) -> torch.Tensor:
        """With ``timesteps``: the UNet's prediction for the noisy images ``z`` (training). Without: samples from
        the initial noise ``z`` (N, z_dim) with ``steps`` DDIM steps and guidance scale ``guidance`` (None: the
        run's defaults). ``truncation_psi`` exists for the generator interface; diffusion has no truncation."""
        if timesteps is not None:
            return self.unet(z, timesteps, class_labels=labels if self.num_classes else None)
        if truncation_psi != 1:
            raise SynthmedError(f"truncation {truncation_psi}: a diffusion model has no truncation (use 1)")
        return self.sample(z, labels, steps or self.sample_steps,
                           self.guidance if guidance is None else float(guidance))

    @torch.no_grad()
    def sample(self, z: torch.Tensor, labels: torch.Tensor | None, steps: int, guidance: float) -> torch.Tensor:
        if not 1 <= steps <= self.train_timesteps:
            raise SynthmedError(f"--steps {steps}: must be between 1 and the {self.train_timesteps} training steps")
        if guidance < 0:
            raise SynthmedError(f"--guidance {guidance}: must be 0 or more")
        sampler = DDIMScheduler(self.train_timesteps, self.schedule, prediction_type=self.prediction,
                                clip_sample=True)
        sampler.set_timesteps(steps)
        x = z.reshape(len(z), self.channels, self.resolution, self.resolution)
        if labels is None or not self.num_classes:
            labels = torch.zeros(len(z), dtype=torch.long, device=z.device)
        for t in sampler.timesteps.tolist():
            out = self._guided(x, labels, torch.full((len(x),), t, device=x.device), guidance)
            x, _ = sampler.step(out.float(), t, x)
        return x.clamp(-1, 1)

    def _guided(self, x: torch.Tensor, labels: torch.Tensor, t: torch.Tensor, guidance: float) -> torch.Tensor:
        """Classifier-free guidance: u + s (c - u) of the unconditional (u) and conditional (c) predictions; s = 0
        and s = 1 need only one of them; otherwise both run as one batch."""
        null = torch.full_like(labels, self.null_class)
        if not self.num_classes or guidance == 1:
            return self(x, labels, timesteps=t)
        if guidance == 0:
            return self(x, null, timesteps=t)
        both = self(torch.cat([x, x]), torch.cat([labels, null]), timesteps=torch.cat([t, t]))
        cond, uncond = both.chunk(2)
        return uncond + guidance * (cond - uncond)


class DenoisingObjective(Objective):
    """The simple DDPM loss (Ho et al. 2020): MSE between the UNet's prediction for x_t and its target (the noise,
    or the velocity of Salimans & Ho 2022), t uniform over the training steps; labels dropped to the null class at
    ``cond_drop``. No D: no D steps, no D optimizer."""

    @property
    def d_steps(self) -> int:
        return 0

    def optimizers(self) -> tuple[torch.optim.Optimizer, None]:
        return torch.optim.Adam(self.kit.G.parameters(), lr=self.cfg.lr_g, betas=tuple(self.cfg.betas)), None

    def d_terms(self, batch: Batch, step: int) -> list[Term]:
        return []

    def g_terms(self, batch: Batch) -> list[Term]:
        k, G = self.kit, self.kit.G
        rate = self.opts.cond_drop

        def denoise() -> torch.Tensor:
            x0 = batch.real
            noise = torch.randn_like(x0)
            t = torch.randint(0, G.train_timesteps, (len(x0),), device=x0.device)
            labels = drop_labels(batch.cond, G.null_class, rate) if G.num_classes else batch.cond
            x_t = G.noise.add_noise(x0, noise, t)
            target = noise if G.prediction == "epsilon" else G.noise.get_velocity(x0, noise, t)
            with k.autocast():
                pred = k.G_train(x_t, labels, timesteps=t)
            return F.mse_loss(pred.float(), target)

        return [Term("denoise", denoise)]


class DDPM(Arch):
    name = "ddpm"
    summary = "DDPM: class-conditional denoising diffusion, DDIM sampling with classifier-free guidance"
    objective = DenoisingObjective
    options = Options
    # Adam (0.9, 0.999) as in Ho et al. 2020, but at 1e-3 rather than their 2e-4: the few thousand steps a CPU
    # affords need the faster rate (BreastMNIST 32 px, 3 kimg, validation by the in-training domain FID: 32.7 at
    # 1e-3 against 38.3 at 2e-4; denoising loss 0.037 against 0.114). lr_d, z_dim, width and max_width have no
    # meaning here (the latent is the initial noise; widths are unet_channels).
    defaults: ClassVar[dict[str, Any]] = {"lr_g": 1e-3, "lr_d": None, "betas": (0.9, 0.999), "z_dim": None,
                                          "width": None, "max_width": None}

    def check_resolution(self, resolution: int) -> None:
        low, high = RESOLUTIONS
        if not low <= resolution <= high:
            raise SynthmedError(f"ddpm: resolution must be between {low} and {high}, got {resolution}")

    def resolve(self, given: TrainConfig, out: TrainConfig) -> None:
        # A resumed run's saved config comes back here as ``given``: its z_dim (the noise's size, set from the
        # built network) and width (unet_channels[0]) are accepted when they are what this family sets.
        opts = self.opts(out)  # validated by the shared resolve
        side = out.resolution
        if given.z_dim is not None and given.z_dim not in (side * side, 3 * side * side):
            raise SynthmedError(f"--z-dim {given.z_dim}: ddpm's latent is the initial noise (channels x "
                                f"resolution^2); leave --z-dim unset")
        if given.width not in ("auto", None, opts.unet_channels[0]):
            raise SynthmedError(f"--width {given.width}: ddpm's widths are its unet_channels option")
        for name, flag in (("lr_d", "--lr-d"), ("max_width", "--max-width")):
            if getattr(given, name) is not None:
                raise SynthmedError(f"{flag}: ddpm has no discriminator and no width cap; leave {flag} unset")
        if given.aug != "none":
            raise SynthmedError(f"--aug {given.aug}: ddpm has no discriminator to augment for; use --aug none")
        if out.resolution % 2 ** (len(opts.unet_channels) - 1):
            raise SynthmedError(f"ddpm: resolution {out.resolution} does not halve evenly through "
                                f"{len(opts.unet_channels)} UNet levels (unet_channels {opts.unet_channels})")
        out.width, out.sized_for = opts.unet_channels[0], None  # no auto width: unet_channels as given

    def net_kwargs(self, cfg: TrainConfig) -> dict[str, Any]:
        """All of the family's options: the network's, and the sampler's defaults that ``G(z, labels)`` uses."""
        return self.opts(cfg).model_dump()

    def build(self, resolution: int, channels: int, num_classes: int, **kw: Any) -> tuple[nn.Module, None]:
        return DiffusionGenerator(resolution, channels, num_classes, Options.model_validate(kw)), None

    def sampling_kwargs(self, G: nn.Module, trunc: float, steps: int | None, guidance: float | None) -> dict[str, Any]:
        if trunc != 1:
            raise SynthmedError(f"--trunc {trunc}: a diffusion model has no truncation (use 1)")
        return {"steps": steps or G.sample_steps, "guidance": G.guidance if guidance is None else float(guidance)}


register(DDPM())
