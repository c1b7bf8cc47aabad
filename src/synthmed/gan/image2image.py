"""Objectives of the two mask-conditioned GANs: pix2pix (mask -> image) and lesion injection (masked inpainting).

pix2pix (Isola et al. 2017, eq. 4): G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G), lambda = 100, with the
non-saturating generator loss and D's objective halved "to slow down the rate at which D learns relative to G"
(section 3.3). D is conditional: it judges (mask, class, image) triples patch by patch.

Injection (after SQ-AGGAN): the generator fills the masked region of a real image. Its loss has a global
adversarial term (a PatchGAN on the whole composite), a local one (a PatchGAN on a square crop around the lesion,
resampled to a fixed size), the reconstruction loss on real lesions, SQ-AGGAN's L_G,F: the L1 distance inside the
mask between the reconstruction and the real image, scaled by N_total / N_lesion so that small lesions weigh as
much as large ones, and a feature loss tying the generated lesion's mean intensity to the requested one (SQ-AGGAN's
feature term L_G,f, measured directly instead of by a feature classifier). SQ-AGGAN's background term L_G,B is
zero by construction: the composite keeps every pixel outside the mask.

All functions return scalars to minimise; logits may be patch maps (the mean runs over every patch).
"""

from __future__ import annotations

import torch

from synthmed.gan import losses

PIX2PIX_L1 = 100.0  # the paper's lambda


def lesion_features(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """SQ-AGGAN-style controllable features per image (N, 2): lesion area as a fraction of the image mapped to
    [-1, 1], and the lesion's mean intensity (over its pixels and channels) in the model range [-1, 1]."""
    m = (masks > 0.5).to(images.dtype)
    area = m.flatten(1).mean(1)
    inside = (images * m).flatten(1).sum(1) / (m.flatten(1).sum(1) * images.shape[1]).clamp_min(1)
    return torch.stack([area * 2 - 1, inside], dim=1)


def masked_mean(x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` (N, C, H, W) over the pixels where ``masks`` (N, 1, H, W) is set, per image (N,)."""
    m = (masks > 0.5).to(x.dtype)
    return (x * m).flatten(1).sum(1) / (m.flatten(1).sum(1) * x.shape[1]).clamp_min(1)


# -- pix2pix -------------------------------------------------------------------------------------
def pix2pix_d_real(real_logits: torch.Tensor) -> torch.Tensor:
    """D's real pass: half the logistic loss (the paper halves D's objective, section 3.3)."""
    return 0.5 * losses.d_logistic_real(real_logits)


def pix2pix_d_fake(fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * losses.d_logistic_fake(fake_logits)


def pix2pix_g_loss(fake_logits: torch.Tensor, fake: torch.Tensor, real: torch.Tensor,
                   l1_weight: float = PIX2PIX_L1) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-saturating adversarial loss + lambda * mean |G(x) - y|; returns (total, L1 term unweighted)."""
    l1 = (fake - real).abs().mean()
    return losses.g_nonsaturating(fake_logits) + l1_weight * l1, l1


# -- injection -----------------------------------------------------------------------------------
def reconstruction_loss(fake: torch.Tensor, real: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """SQ-AGGAN's L_G,F: mean over images of the lesion-region L1 distance per lesion pixel.

    Equal to E[|M * (G(x') - x)|_1] * N_total / N_lesion with the paper's normalisation done per image.
    """
    return masked_mean((fake - real).abs(), masks).mean()


def feature_loss(fake: torch.Tensor, masks: torch.Tensor, target_intensity: torch.Tensor) -> torch.Tensor:
    """|mean intensity of the generated lesion - the requested one|, averaged over images."""
    return (masked_mean(fake, masks) - target_intensity).abs().mean()
