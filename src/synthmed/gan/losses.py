"""GAN losses: non-saturating logistic (DCGAN, StyleGAN2) and Wasserstein with gradient penalty.

Each function takes logits from the discriminator/critic and returns a scalar to minimise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def d_logistic_real(real_logits: torch.Tensor) -> torch.Tensor:
    """-log sigmoid(D(x)): push real logits up."""
    return F.softplus(-real_logits).mean()


def d_logistic_fake(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log(1 - sigmoid(D(G(z)))): push fake logits down."""
    return F.softplus(fake_logits).mean()


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log sigmoid(D(G(z))) (Goodfellow et al.'s non-saturating generator loss)."""
    return F.softplus(-fake_logits).mean()


def wasserstein_critic_real(real_scores: torch.Tensor, drift: float = 0.0) -> torch.Tensor:
    """The critic's loss on reals, -E[D(x)], plus ProGAN's drift penalty ``drift * E[D(x)^2]`` (Karras et al. 2018).

    The Wasserstein loss only sees score differences, so the critic's scores float freely; the drift term keeps
    them near 0, which gives their sign a meaning (ADA's overfitting heuristic reads the sign of D on reals).
    """
    return -real_scores.mean() + drift * real_scores.square().mean()


def wasserstein_critic_fake(fake_scores: torch.Tensor) -> torch.Tensor:
    """E[D(G(z))]: push fake scores down (with the real term, the negated Wasserstein estimate)."""
    return fake_scores.mean()


def wasserstein_generator(fake_scores: torch.Tensor) -> torch.Tensor:
    return -fake_scores.mean()


def gradient_penalty(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None,
                     alpha: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP penalty E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = a*real + (1-a)*fake, a ~ U(0,1) per sample.

    Not multiplied by lambda. ``alpha`` (N,) may be given for a deterministic value (tests).
    Computed in float32 with ``create_graph`` so its gradient reaches D's weights.
    """
    real, fake = real.detach().float(), fake.detach().float()
    if alpha is None:
        alpha = torch.rand(real.shape[0], device=real.device)
    a = alpha.to(real.device, torch.float32).view(-1, *([1] * (real.ndim - 1)))
    x_hat = (a * real + (1 - a) * fake).requires_grad_(True)
    with torch.autocast(device_type=x_hat.device.type, enabled=False):
        scores = D(x_hat, labels)
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
        penalty = ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
    # 0 * scores keeps every parameter of D in the graph (a final bias has no second derivative), so
    # DistributedDataParallel's reducer sees a gradient for each of them.
    return penalty + 0.0 * scores.sum()
