"""The in-training fidelity metric: domain FID of G_ema's samples against the training images.

Uses the metrics stage's domain CNN (trained once on the real train split and cached by its
content hash) and its Fréchet distance, on as many generated images as there are real ones, with
the real class proportions. Meant to be cheap enough to run every few kimg and to choose
``best.pt``; the full report comes from ``synthmed metrics`` after training.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from synthmed.dataset import PreparedDataset


def domain_fid_hook(cfg: Any, max_images: int = 2000, seed: int = 0):
    """A ``metric_fn(G_ema, meta) -> {"fid_domain": value}`` for ``train_gan``; state is built on first use."""
    state: dict[str, Any] = {}

    def metric_fn(G: nn.Module, meta: dict[str, Any]) -> dict[str, float]:
        from synthmed.metrics.cache import default_cache_dir
        from synthmed.metrics.features import domain_cnn_for, extract
        from synthmed.metrics.frechet import frechet_from_features

        if not state:
            ds = PreparedDataset.open(meta["dataset"])
            model, _ = domain_cnn_for(ds, default_cache_dir(), progress=False)
            n = min(len(ds.entries("train")), max_images)
            idx = torch.randperm(len(ds.entries("train")), generator=torch.Generator().manual_seed(seed))[:n]
            real, labels = ds.load_tensor("train", idx.numpy())
            state.update(model=model, real=extract(model, real), labels=labels, res=ds.resolution)
        fake = sample(G, state["labels"], meta["z_dim"], state["res"], seed)
        return {"fid_domain": frechet_from_features(state["real"], extract(state["model"], fake))}

    return metric_fn


@torch.no_grad()
def sample(G: nn.Module, labels: torch.Tensor, z_dim: int, resolution: int, seed: int,
           batch: int = 128) -> torch.Tensor:
    """Images of the given labels at the data's resolution, in [-1, 1], on the CPU (fixed latents)."""
    device = next(G.parameters()).device
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(0, len(labels), batch):
        lab = labels[i:i + batch]
        x = G(torch.randn(len(lab), z_dim, generator=g).to(device), lab.to(device)).float().clamp(-1, 1)
        if x.shape[-1] != resolution:
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
        out.append(x.cpu())
    return torch.cat(out)
