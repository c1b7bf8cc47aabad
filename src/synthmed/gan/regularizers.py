"""Discriminator regularisers for StyleGAN2 training.

``r1_penalty`` is the R1 gradient penalty of Mescheder et al. 2018 ("Which training methods for GANs do actually
converge?"), used by StyleGAN2 in its lazy form: computed every ``r1_interval`` minibatches (16 in the paper) and
scaled by the interval so its average strength is unchanged. The caller applies the weight, e.g.::

    loss_r1 = r1_penalty(D, augment(real), labels) * (gamma / 2) * r1_interval
    loss_r1.backward()
"""

from __future__ import annotations

import torch
from torch import nn


def r1_penalty(D: nn.Module, real: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Mean over the batch of ||dD(x)/dx||^2 at the real images x (no gamma/2 factor: the caller applies it).

    ``real`` is detached and made a leaf here, so pass the images exactly as D sees them (augmented, if the
    training augments reals). Computed in float32 with autocast off (the penalty is sensitive to rounding).

    DDP: the gradient is taken with ``torch.autograd.grad`` with respect to the input only (parameter ``.grad``
    is untouched until the caller's backward), and ``0 * logits.sum()`` is added so every parameter of D
    (including the final bias, which has no second derivative) is part of the graph and DDP's reducer sees
    gradients for all of them.
    """
    x = real.detach().float().requires_grad_(True)
    with torch.autocast(device_type=x.device.type, enabled=False):
        logits = D(x, labels)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
        penalty = grad.square().flatten(1).sum(dim=1).mean()
    return penalty + 0.0 * logits.sum()
