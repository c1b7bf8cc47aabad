"""Training diagnostics logged with each tick.

``input_gradient_cosine``: the mean cosine similarity between D's input gradients at different real images.
Near 1, D is close to a linear function of the image: it compares one projection of the mean image, which
the generator can match in a step, so its gradients carry no information about texture or shape. A layer-norm
WGAN-GP critic drifted there on BreastMNIST (0.996) while its real-fake gap sat at 0 and the samples stayed
blurred (networks/wgan.py); the per-channel critic that replaced it ended the 64 px run of
docs/studies/gan-architectures.md at 0.44.
"""

from __future__ import annotations

import torch
from torch import nn


def input_gradient_cosine(D: nn.Module, images: torch.Tensor, labels: torch.Tensor | None) -> float:
    """Mean pairwise cosine of dD(x_i)/dx_i over the batch (N >= 2), in float32; D's parameters get no gradient."""
    if images.shape[0] < 2:
        raise ValueError("input_gradient_cosine needs at least 2 images")
    x = images.detach().float().requires_grad_(True)
    with torch.autocast(device_type=x.device.type, enabled=False):
        (grad,) = torch.autograd.grad(D(x, labels).sum(), x)
    unit = torch.nn.functional.normalize(grad.flatten(1), dim=1)
    n = unit.shape[0]
    cos = unit @ unit.T
    return float((cos.sum() - cos.diagonal().sum()) / (n * (n - 1)))
