"""The training loss: cross-entropy, optionally class-weighted, with synthetic images weighted and smoothed apart.

``synthetic_weight`` and ``synthetic_smoothing`` (``TrainConfig``) act on the synthetic images of a mixed batch.
At their defaults the loss is torch's own ``cross_entropy(weight=class_weight)``, called exactly as before, so
existing runs train batch for batch as they did.

Normalisation: the weighted mean ``sum(w_i l_i) / sum(w_i)`` with ``w_i = class_weight[y_i] * s_i`` (``s_i``:
``synthetic_weight`` for a synthetic image, 1 for a real one), not ``/ N``. It is torch's own convention for
class weights (``reduction="mean"`` divides by the summed weights of the batch's targets), so with
``synthetic_weight`` 1 and no smoothing this is the same number as the default loss, and the loss scale does not
shrink in batches that happen to hold more synthetic images: the weight sets how much a synthetic image counts
against the real images beside it, not the step size. (In a batch of synthetic images only, it cancels.)

Smoothing: a synthetic image's target is ``(1 - eps) * one_hot + eps / K`` (as torch's ``label_smoothing``); its
``l_i`` is the cross-entropy against that target, weighted as a whole by its label's class weight (torch's
``label_smoothing`` with class weights instead weights each class's share of the target, and divides by N; one
weight per image keeps the normalisation above exact).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def make_loss(class_weight: torch.Tensor | None = None, synthetic_weight: float = 1.0,
              synthetic_smoothing: float = 0.0) -> Loss:
    """``loss(logits, labels, is_synthetic)``: torch's cross-entropy at the defaults, else the weighted one."""
    if synthetic_weight == 1.0 and synthetic_smoothing == 0.0:
        return lambda logits, y, is_synthetic: F.cross_entropy(logits, y, weight=class_weight)
    return lambda logits, y, is_synthetic: weighted_cross_entropy(logits, y, is_synthetic, class_weight,
                                                                  synthetic_weight, synthetic_smoothing)


def weighted_cross_entropy(logits: torch.Tensor, y: torch.Tensor, is_synthetic: torch.Tensor,
                           class_weight: torch.Tensor | None, synthetic_weight: float,
                           synthetic_smoothing: float) -> torch.Tensor:
    """``sum(w_i l_i) / sum(w_i)`` (see the module docstring); targets smoothed for synthetic images only."""
    k = logits.shape[1]
    log_p = F.log_softmax(logits, dim=1)
    eps = is_synthetic.to(log_p.dtype) * synthetic_smoothing
    target = F.one_hot(y, k).to(log_p.dtype) * (1.0 - eps)[:, None] + (eps / k)[:, None]
    per_image = -(target * log_p).sum(dim=1)
    w = torch.where(is_synthetic, torch.tensor(synthetic_weight, dtype=log_p.dtype, device=log_p.device),
                    torch.ones((), dtype=log_p.dtype, device=log_p.device))
    if class_weight is not None:
        w = w * class_weight.to(log_p.dtype)[y]
    return (w * per_image).sum() / w.sum()
