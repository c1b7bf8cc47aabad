"""The interface a GAN family implements, so that the training loop (``train.Trainer``) knows no family by name.

A family is two objects (the split follows stylegan2-ada-pytorch's ``training/loss.py``, where the loop
only asks the loss object for the gradients of each phase; this is written from scratch):

- :class:`Arch` (one instance per family, registered in ``synthmed.gan.archs``): the static part. Its name,
  its option defaults from the paper (learning rates, betas, widths), its own options (``options``, declared
  in the family's package, ``synthmed/gan/arch_options.py``), how it checks and fills the rest of
  the options (``resolve``), the network options stored in checkpoints (``net_kwargs``), how it builds
  (G, D), how it reads training data and cuts a batch, and which :class:`Objective` trains it.
- :class:`Objective` (one per run): what is minimised. It makes both optimizers (lazy-regularisation
  rescaling included), says how many D steps go with one G step, and returns each step's losses as
  :class:`Term` s. The Trainer owns everything else, the same for every family: batch order, DDP, AMP
  and its scalers, augmentation (through :class:`Kit`), EMA, logging, checkpoints, resume.

A :class:`Term` is one backward pass: D's real, fake and regulariser passes are separate terms (separate
graphs, so memory holds one at a time; under DDP the gradients are synchronised on the last one only).
The Trainer calls them in order, so the order of random draws, and with it exact resume, is the family's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from synthmed.errors import SynthmedError
from synthmed.gan.arch_options import FamilyOptions
from synthmed.gan.archs import get_arch
from synthmed.gan.data import TrainImages, load_train_images, to_model_range
from synthmed.gan.networks.dcgan import check_resolution
from synthmed.gan.runlog import grid_inputs, sample_grid

if TYPE_CHECKING:
    from synthmed.dataset import PreparedDataset
    from synthmed.gan.options import TrainConfig


@dataclass
class Batch:
    """One step's real data on the device. ``cond`` is what G and D are conditioned on: class labels (N,) for
    the built-in families; an image-to-image family may put its input images here (``G(z, cond)``, ``D(x, cond)``).
    ``extra`` carries anything else a family's terms need (e.g. paired targets)."""

    real: torch.Tensor
    cond: torch.Tensor
    extra: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class Term:
    """One loss to backpropagate. ``total``: added into the step's ``loss_D``/``loss_G`` statistic; ``log``:
    also logged under ``name`` (per-tick mean, as ``gp`` and ``r1`` are). ``loss()`` may return a dict with a
    ``"loss"`` entry and further scalars to log (e.g. an L1 term computed in the same forward pass)."""

    name: str
    loss: Callable[[], torch.Tensor | dict[str, torch.Tensor]]
    total: bool = True
    log: bool = False


@dataclass
class Kit:
    """What the Trainer lends an objective: the networks in each of their training forms and the shared tools.

    ``G`` and ``D`` are the plain modules (parameters, ``requires_grad``); ``G_fwd`` samples without gradients,
    ``G_train`` is G as the G step runs it (DDP, maybe compiled); ``D_train`` is D as D's passes run it (DDP);
    the G step uses the plain ``D`` (no gradient sync for D there). A family without a discriminator (a diffusion
    model) builds none: ``D`` and ``D_train`` are None, its objective has no D steps and returns no D optimizer.
    ``augment`` is applied to every image D sees; ``observe_real(logits)`` must get D's logits on augmented reals
    (ADA tunes its probability from them).
    ``data`` is the whole training set, set before the first step of every run, fresh or resumed (BAGAN-GP fits
    its class Gaussians to the encodings of all of it when its adversarial phase starts).
    """

    G: nn.Module
    D: nn.Module | None
    G_fwd: nn.Module
    G_train: nn.Module
    D_train: nn.Module | None
    device: torch.device
    augment: Callable[[torch.Tensor], torch.Tensor]
    observe_real: Callable[[torch.Tensor], None]
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    log: Callable[[str], None] = lambda text: None
    data: TrainImages | None = None


class Objective:
    """Base objective: Adam for both networks with the options' lrs and betas, one D step per G step, no
    extra state. Subclasses define :meth:`d_terms` and :meth:`g_terms`."""

    def __init__(self, cfg: TrainConfig, kit: Kit) -> None:
        self.cfg, self.kit = cfg, kit
        self.opts = get_arch(cfg.arch).opts(cfg)  # the family's own options (resolved)

    @property
    def d_steps(self) -> int:
        """D steps per G step (the EMA's half-life counts all their images). 0: no D; the G step then takes a
        batch of its own."""
        return 1

    def optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer | None]:
        betas = tuple(self.cfg.betas)
        return (torch.optim.Adam(self.kit.G.parameters(), lr=self.cfg.lr_g, betas=betas),
                torch.optim.Adam(self.kit.D.parameters(), lr=self.cfg.lr_d, betas=betas))

    def sample_z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.cfg.z_dim, device=self.kit.device)

    def d_terms(self, batch: Batch, step: int) -> list[Term]:
        """The D step's passes for global D step ``step`` (counted from 0, also across resumes)."""
        raise NotImplementedError

    def g_terms(self, batch: Batch) -> list[Term]:
        """The G step's losses; ``batch`` is the last D step's."""
        raise NotImplementedError

    def before_training(self, data: TrainImages, batches: Callable[[int], Batch]) -> None:
        """Called once on a fresh run (not on resume), after seeding and before the first step: a family with a
        phase before the adversarial one (e.g. an autoencoder) runs it here and keeps what it needs in its state.
        ``batches(k)`` is the k-th batch of the run's own order."""

    def state_dict(self) -> dict[str, Any]:
        """Extra checkpoint state (tensors and plain values only: checkpoints load with ``weights_only``)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, the checkpoint has {sorted(state)}")


class Arch:
    """A GAN family. Subclass, fill the class attributes and :meth:`build`, and ``register`` an instance in a
    module of ``synthmed.gan.archs`` (every module there is imported when the registry is first used)."""

    name: str = ""
    summary: str = ""  # one line for --help and errors
    # What G makes an image from, which says which tool generates with it: "label" (a latent and a class:
    # synthmed generate), "mask" (a lesion mask and a class: generate --masks), "mask-in-image" (a background
    # image, a mask and a class: synthmed inject).
    condition: ClassVar[str] = "label"
    objective: type[Objective] = Objective
    # The family's own options: the ``Options`` of its package's torch-free ``__init__.py`` (none by default).
    options: ClassVar[type[FamilyOptions]] = FamilyOptions
    # TrainConfig defaults from the family's paper, used where the option is None.
    defaults: ClassVar[dict[str, Any]] = {}
    # What ``--width auto`` / ``--batch auto`` become on a CPU where the paper's networks would take days (the
    # paper's, in ``defaults``, on a GPU); ``batch`` defaults to 32 on both.
    cpu_defaults: ClassVar[dict[str, Any]] = {}

    def build(self, resolution: int, channels: int, num_classes: int,
              **kw: Any) -> tuple[nn.Module, nn.Module | None]:
        """(G, D); ``num_classes`` is 0 for an unconditional pair; ``kw`` is :meth:`net_kwargs`' output. D is None
        for a family without a discriminator."""
        raise NotImplementedError

    def check_resolution(self, resolution: int) -> None:
        check_resolution(resolution, self.name)

    def resolve(self, given: TrainConfig, out: TrainConfig) -> None:
        """Fill the defaults that depend on other options into ``out`` and check combinations (one-line
        ``SynthmedError`` s). ``given`` is the config as the user gave it (None = default); ``out`` has the shared
        defaults and the family's declared ones (``out.family``, validated against :attr:`options`) filled."""

    def opts(self, cfg: TrainConfig) -> FamilyOptions:
        """The family's own options of a resolved config, typed."""
        return self.options.model_validate({k: v for k, v in cfg.family.items() if k in self.options.model_fields})

    def network_options(self, cfg: TrainConfig) -> dict[str, Any]:
        """The family options marked ``network`` (their ``json_schema_extra``), as given to :meth:`build`."""
        return {k: cfg.family[k] for k, f in self.options.model_fields.items()
                if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("network")
                and cfg.family.get(k) is not None}

    def net_kwargs(self, cfg: TrainConfig) -> dict[str, Any]:
        """Network options stored in checkpoints, so ``load_generator`` rebuilds the same networks."""
        return {"z_dim": cfg.z_dim, **self.network_options(cfg), "width": cfg.width, "max_width": cfg.max_width}

    def load_data(self, ds: PreparedDataset, resolution: int) -> TrainImages:
        return load_train_images(ds, resolution)

    def batch(self, data: TrainImages, idx: torch.Tensor, device: torch.device,
              memory_format: torch.memory_format) -> Batch:
        """The images at ``idx`` of the training data, in [-1, 1] on ``device``, and their condition."""
        real = to_model_range(data.images[idx]).to(device).contiguous(memory_format=memory_format)
        return Batch(real, data.labels[idx].to(device))

    # What generation (``synthmed generate``) asks of the family.
    def check_condition(self, meta: dict[str, Any], condition: str, tool: str) -> None:
        """One line when the checkpoint's family (``meta``, from ``load_generator``) does not make images from
        ``condition``, which ``tool`` needs."""
        if self.condition != condition:
            raise SynthmedError(f"{meta.get('checkpoint_path')}: {tool} needs a run of a family that makes images "
                                f"from a {condition.replace('-', ' ')}; this one is {self.name}")

    def check_generates(self, meta: dict[str, Any]) -> None:
        """Raise a one-line ``SynthmedError`` when this family's G cannot make images from latents and labels alone
        (an image-to-image family); ``meta`` is the checkpoint's (``load_generator``)."""

    def sampling_kwargs(self, G: nn.Module, trunc: float, steps: int | None, guidance: float | None) -> dict[str, Any]:
        """G's keyword arguments for generation: the truncation, and a diffusion family's sampler steps and
        guidance scale (None: the run's defaults); a family refuses what it has no use for."""
        if steps is not None or guidance is not None:
            raise SynthmedError(f"--steps and --guidance set a diffusion sampler; {self.name} makes an image in one "
                                f"pass")
        return {"truncation_psi": trunc}

    # What the Trainer and the fidelity metric ask of G besides training: a family whose G is not G(z, labels)
    # (pix2pix and injection take condition planes) overrides these two.
    def grid(self, G: nn.Module, data: TrainImages, cfg: TrainConfig, num_classes: int,
             device: torch.device) -> np.ndarray:
        """The snapshot grid (uint8 image): fixed latents, one row per class."""
        z, labels = grid_inputs(num_classes, cfg.grid_cols, cfg.z_dim, cfg.grid_seed)
        return sample_grid(G, z, labels, cfg.grid_cols, device)

    @torch.no_grad()
    def sample(self, G: nn.Module, data: TrainImages, idx: torch.Tensor, z_dim: int, seed: int,
               batch: int = 128) -> torch.Tensor:
        """Images (N, C, R, R) in [-1, 1] on the CPU, one per training image ``idx`` (of its class; an
        image-to-image family also takes its input), from fixed latents: the in-training fidelity metric's."""
        device = next(G.parameters()).device
        g = torch.Generator().manual_seed(seed)
        out = []
        for i in range(0, len(idx), batch):
            labels = data.labels[idx[i:i + batch]]
            z = torch.randn(len(labels), z_dim, generator=g).to(device)
            out.append(G(z, labels.to(device)).float().clamp(-1, 1).cpu())
        return torch.cat(out)

