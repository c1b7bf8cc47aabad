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
from synthmed.gan.archs import get_arch
from synthmed.metrics.cache import default_cache_dir
from synthmed.metrics.features import domain_cnn_for, extract
from synthmed.metrics.frechet import frechet_from_features


def domain_fid_hook(cfg: Any, max_images: int = 2000, seed: int = 0):
    """A ``metric_fn(G_ema, meta) -> {"fid_domain": value}`` for ``train_gan``; state is built on first use.

    The samples come from the family (``Arch.sample``): class-conditional ones from fixed latents with the real
    class proportions, image-to-image ones from the same training images' inputs (masks).
    """
    state: dict[str, Any] = {}

    def metric_fn(G: nn.Module, meta: dict[str, Any]) -> dict[str, float]:
        family = get_arch(meta.get("arch") or cfg.arch)
        if not state:
            ds = PreparedDataset.open(meta["dataset"])
            model, _ = domain_cnn_for(ds, default_cache_dir(), progress=False)
            n = min(len(ds.entries("train")), max_images)
            idx = torch.randperm(len(ds.entries("train")), generator=torch.Generator().manual_seed(seed))[:n]
            real, _ = ds.load_tensor("train", idx.numpy())
            state.update(model=model, real=extract(model, real), idx=idx, res=ds.resolution,
                         data=family.load_data(ds, meta.get("resolution") or ds.resolution))
        fake = family.sample(G, state["data"], state["idx"], meta["z_dim"], seed)
        if fake.shape[-1] != state["res"]:
            fake = F.interpolate(fake, size=(state["res"],) * 2, mode="bilinear", antialias=True, align_corners=False)
        return {"fid_domain": frechet_from_features(state["real"], extract(state["model"], fake))}

    return metric_fn
