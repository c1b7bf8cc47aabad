"""The adversarial objective the built-in families share, as ``arch.Objective`` s.

:class:`AdversarialObjective`: sample fakes, augment reals and fakes, then D's real pass, fake pass and the
family's regularisers as separate terms; G's non-regularised adversarial loss. A family picks its loss
(:meth:`d_real`, :meth:`d_fake`, :meth:`g_adv`) and regularisers. :class:`LogisticObjective` is the
non-saturating logistic loss of DCGAN and StyleGAN2 (the Wasserstein one is in ``archs/wgan_gp.py``).
"""

from __future__ import annotations

import torch

from synthmed.gan import losses
from synthmed.gan.arch import Batch, Objective, Term


class AdversarialObjective(Objective):
    def d_real(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def d_fake(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_adv(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def regularizers(self, real_a: torch.Tensor, fake_a: torch.Tensor, batch: Batch, step: int) -> list[Term]:
        """Extra D terms after the real and fake passes (on the augmented images)."""
        return []

    def d_terms(self, batch: Batch, step: int) -> list[Term]:
        k = self.kit
        z = self.sample_z(batch.real.shape[0])
        with torch.no_grad(), k.autocast():
            fake = k.G_fwd(z, batch.cond).float()
        real_a, fake_a = k.augment(batch.real), k.augment(fake)

        def real() -> torch.Tensor:
            with k.autocast():
                logits = k.D_train(real_a, batch.cond).float()
            k.observe_real(logits)
            return self.d_real(logits)

        def fake_pass() -> torch.Tensor:
            with k.autocast():
                logits = k.D_train(fake_a.detach(), batch.cond).float()
            return self.d_fake(logits)

        return [Term("real", real), Term("fake", fake_pass), *self.regularizers(real_a, fake_a, batch, step)]

    def g_terms(self, batch: Batch) -> list[Term]:
        k = self.kit

        def adversarial() -> torch.Tensor:
            z = self.sample_z(batch.real.shape[0])
            with k.autocast():
                fake = k.G_train(z, batch.cond)
                logits = k.D(k.augment(fake), batch.cond).float()  # plain D: no DDP sync for D here
            return self.g_adv(logits)

        return [Term("adversarial", adversarial)]


class LogisticObjective(AdversarialObjective):
    """Non-saturating logistic loss (Goodfellow et al.): DCGAN as it is, StyleGAN2 with lazy R1 on top."""

    def d_real(self, logits: torch.Tensor) -> torch.Tensor:
        return losses.d_logistic_real(logits)

    def d_fake(self, logits: torch.Tensor) -> torch.Tensor:
        return losses.d_logistic_fake(logits)

    def g_adv(self, logits: torch.Tensor) -> torch.Tensor:
        return losses.g_nonsaturating(logits)
