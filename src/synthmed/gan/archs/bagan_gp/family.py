"""BAGAN-GP: an autoencoder phase, class Gaussians in its latent space, then WGAN-GP from the autoencoder's weights.

Written from BAGAN (Mariani et al. 2018, "BAGAN: Data Augmentation with Balancing GAN", arXiv:1803.09655) and
BAGAN-GP (Huang & Jafari 2021, "Enhanced balancing GAN: minority-class image generation", Neural Computing and
Applications); ``autoencoder.py`` beside this file describes the three steps, ``latent.py`` the class Gaussians
and ``networks.py`` the networks. Defaults from BAGAN-GP: Adam(2e-4, betas 0.5, 0.9) for the autoencoder and
both adversarial networks, gradient penalty 10, a 30-epoch autoencoder phase (``--ae-kimg``, default 30 passes over
the training split). The critic is normalised per channel (``--critic-norm``, the project's WGAN-GP default; the
paper's has none) for the reason ``networks/wgan.py`` gives; ``--n-critic`` as WGAN-GP's.

How the phases map onto the Trainer's steps: every step is one batch of the run's order and counts towards
``--kimg`` (the autoencoder phase is the first ``--ae-kimg`` of it), so checkpoints, ticks, grids and exact resume
work in both phases. In the autoencoder phase an iteration is one D step and one G step on the same batch: the D
step updates the encoder (the critic's trunk and its latent head) and the G step the decoder, both on the
reconstruction loss (block-coordinate steps on one loss; the Trainer steps D's and G's optimizers separately).
At the first adversarial step the class Gaussians are fitted to the encodings of every training image and stored
in G (its buffers, so G_ema, checkpoints and ``synthmed generate`` have them), and both optimizers start afresh.
During the autoencoder phase the Gaussians are also refitted before each snapshot, so the grids show class samples.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from synthmed.gan import losses
from synthmed.gan.arch import Batch, Kit, Term
from synthmed.gan.archs import register
from synthmed.gan.archs.bagan_gp import Options
from synthmed.gan.archs.bagan_gp.autoencoder import (
    AE_EPOCHS,
    fit_latent_model,
    latent_summary,
    reconstruction_loss,
    uniform_labels,
)
from synthmed.gan.archs.bagan_gp.networks import bagan_networks
from synthmed.gan.archs.wgan_gp.family import WGANGP, WassersteinGPObjective

if TYPE_CHECKING:
    from synthmed.gan.options import TrainConfig


class BAGANObjective(WassersteinGPObjective):
    def __init__(self, cfg: TrainConfig, kit: Kit) -> None:
        super().__init__(cfg, kit)
        self.phase = "autoencoder"
        self.next_step = 0          # the D step the next iteration starts with
        self.ae_nimg: int | None = None  # fixed on first use (the default depends on the training set's size)
        self.latent: dict[str, Any] = {}

    # phases --------------------------------------------------------------------------------------------------
    def _ae_nimg(self) -> int:
        if self.ae_nimg is None:
            if self.opts.ae_kimg is not None:
                self.ae_nimg = round(self.opts.ae_kimg * 1000)
            else:
                self.ae_nimg = AE_EPOCHS * len(self.kit.data)
            total = math.ceil(self.cfg.kimg * 1000)
            self.kit.log(f"bagan-gp: autoencoder phase for the first {self.ae_nimg / 1000:.3f} kimg"
                         + ("" if self.ae_nimg < total else f" (the whole of this run's {total / 1000:.3f} kimg)"))
        return self.ae_nimg

    def _in_autoencoder(self, step: int) -> bool:
        return step * self.cfg.batch < self._ae_nimg()

    @property
    def d_steps(self) -> int:
        return 1 if self._in_autoencoder(self.next_step) else self.opts.n_critic

    def optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        self._optimizers = super().optimizers()
        return self._optimizers

    def _fit(self) -> dict[str, Any]:
        k = self.kit
        model = fit_latent_model(k.G, k.D, k.data.images, k.data.labels, k.device)
        classes = [str(c) for c in range(k.G.num_classes)] if k.G.num_classes else ["all"]
        return latent_summary(model, classes)

    def _start_adversarial(self) -> None:
        self.latent = self._fit()
        for opt in self._optimizers:  # the adversarial phase starts with fresh Adam moments
            opt.state.clear()
        self.phase = "adversarial"
        self.kit.log("bagan-gp: autoencoder phase done; class Gaussians (images, Ledoit-Wolf shrinkage): "
                     + ", ".join(f"{c} {v['n']}/{v['shrinkage']:.2f}" for c, v in self.latent.items()))

    def _refit_before_snapshot(self, step: int) -> None:
        """In the autoencoder phase, fit the Gaussians when this step's iteration ends at a snapshot (grids)."""
        prev, now = step * self.cfg.batch, (step + 1) * self.cfg.batch
        every = max(1, round(self.cfg.snapshot_kimg * 1000))
        if now // every > prev // every or now >= math.ceil(self.cfg.kimg * 1000):
            self.latent = self._fit()

    # terms ---------------------------------------------------------------------------------------------------
    def d_terms(self, batch: Batch, step: int) -> list[Term]:
        self.next_step = step + 1
        if self._in_autoencoder(step):
            self._refit_before_snapshot(step)
            return [Term("reconstruction", lambda: self._encoder_loss(batch), log=True)]
        if self.phase == "autoencoder":
            self._start_adversarial()
        return self._critic_terms(batch)

    def g_terms(self, batch: Batch) -> list[Term]:
        if self._in_autoencoder(self.next_step - 1):
            return [Term("reconstruction", lambda: self._decoder_loss(batch), log=True)]
        return [Term("adversarial", lambda: self._generator_loss(batch))]

    def _encoder_loss(self, batch: Batch) -> torch.Tensor:
        """Reconstruction through the decoder, gradients for the encoder only (G's parameters are left out)."""
        k = self.kit
        k.G.requires_grad_(False)
        try:
            codes = k.D_train(batch.real, None, encode=True)
            rec = k.G(codes, batch.cond, decode=True)
        finally:
            k.G.requires_grad_(True)
        return reconstruction_loss(rec, batch.real)

    def _decoder_loss(self, batch: Batch) -> torch.Tensor:
        k = self.kit
        with torch.no_grad():
            codes = k.D(batch.real, None, encode=True)
        return reconstruction_loss(k.G_train(codes, batch.cond, decode=True), batch.real)

    def _critic_terms(self, batch: Batch) -> list[Term]:
        """WGAN-GP's passes with balanced fake labels (BAGAN) and class-balancing weights on the real images
        (:meth:`_balancing_weights`); the penalty at the real labels, as BAGAN-GP's."""
        k = self.kit
        n = batch.real.shape[0]
        z = self.sample_z(n)
        fake_labels = uniform_labels(n, k.G.num_classes, k.device)
        with torch.no_grad(), k.autocast():
            fake = k.G_fwd(z, fake_labels).float()
        real_a, fake_a = k.augment(batch.real), k.augment(fake)

        def real() -> torch.Tensor:
            with k.autocast():
                logits = k.D_train(real_a, batch.cond).float()
            k.observe_real(logits)
            weights = self._balancing_weights()[batch.cond] if batch.cond is not None and k.G.num_classes else 1.0
            return -(weights * logits).mean() + self.opts.drift * logits.square().mean()

        def fake_pass() -> torch.Tensor:
            with k.autocast():
                logits = k.D_train(fake_a.detach(), fake_labels).float()
            return self.d_fake(logits)

        def gp() -> torch.Tensor:
            return self.opts.gp_lambda * losses.gradient_penalty(k.D_train, real_a, fake_a, batch.cond)

        return [Term("real", real), Term("fake", fake_pass), Term("gp", gp, log=True)]

    def _balancing_weights(self) -> torch.Tensor:
        """Per class ``(1/K) / p(class)``: weighting each real image by it gives the real side the fakes' uniform
        label distribution.

        Why: with balanced fake labels and data-proportional real ones, a projection critic can score the label
        alone. Its term ``<e_y, sum h(x)>`` has a part almost constant in the image (the features are centred per
        channel), which the gradient penalty, a bound on the image gradient, leaves free, so the real-fake gap grows
        with the label frequencies' difference for ever: on RBC (32 px, 6 classes, 6.3:1) loss_D fell linearly to
        -47 within 19 kimg of the adversarial phase and the samples lost their cells. With these weights both sides
        have the same label distribution and the gap stays bounded.
        """
        if getattr(self, "_weights", None) is None:
            k = self.kit
            counts = torch.bincount(k.data.labels.cpu(), minlength=k.G.num_classes).double().clamp(min=1)
            self._weights = (counts.sum() / (len(counts) * counts)).float().to(k.device)
        return self._weights

    def _generator_loss(self, batch: Batch) -> torch.Tensor:
        k = self.kit
        n = batch.real.shape[0]
        z = self.sample_z(n)
        labels = uniform_labels(n, k.G.num_classes, k.device)
        with k.autocast():
            logits = k.D(k.augment(k.G_train(z, labels)), labels).float()
        return self.g_adv(logits)

    # checkpoint ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "next_step": self.next_step, "ae_nimg": self.ae_nimg, "latent": self.latent}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.phase, self.next_step = str(state["phase"]), int(state["next_step"])
        self.ae_nimg = None if state["ae_nimg"] is None else int(state["ae_nimg"])
        self.latent = dict(state.get("latent") or {})


class BAGANGP(WGANGP):
    name = "bagan-gp"
    summary = "BAGAN-GP: autoencoder start and class Gaussians, for rare classes"
    objective = BAGANObjective
    options = Options
    defaults: ClassVar[dict[str, Any]] = {"lr_g": 2e-4, "lr_d": 2e-4, "betas": (0.5, 0.9),
                                          "z_dim": 128, "width": 64, "max_width": 512}

    def build(self, resolution: int, channels: int, num_classes: int, **kw: Any) -> tuple[nn.Module, nn.Module]:
        z_dim, width, max_width, upsample = self.sizes(kw)
        return bagan_networks(z_dim, num_classes, resolution, channels, width, max_width, upsample,
                              str(kw.get("critic_norm", "instance")))

    def resolve(self, given: TrainConfig, out: TrainConfig) -> None:
        super().resolve(given, out)
        # WGANGP gives resumed runs without the option the layer-norm critic of old WGAN-GP checkpoints; BAGAN-GP
        # checkpoints always carry the option, so its default is simply the per-channel critic.
        if given.family.get("critic_norm") is None:
            out.family["critic_norm"] = "instance"


register(BAGANGP())
