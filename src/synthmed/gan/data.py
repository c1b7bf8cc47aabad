"""Training images in memory, and a batch order that depends only on (seed, step).

A small medical dataset fits in memory as uint8, so the loader is a tensor index rather than a
DataLoader with workers. The order of images is a fresh permutation per epoch drawn from
``seed`` and the epoch number, and the global batch of step ``k`` is images ``k*B .. k*B+B-1`` of
the concatenated epochs; rank ``r`` of ``W`` takes its ``B/W`` slice of that global batch
(DistributedSampler-like sharding). Because the order is a pure function of the step, a resumed
run reads exactly the batches the uninterrupted run would have read, with no loader state to save.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from synthmed.dataset import PreparedDataset, to_unit_range


@dataclass
class TrainImages:
    images: torch.Tensor  # (N, C, R, R) uint8 at the model resolution
    labels: torch.Tensor  # (N,) int64
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # per-image tensors a GAN family adds (masks)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device) -> TrainImages:
        return TrainImages(self.images.to(device), self.labels.to(device),
                           {k: v.to(device) for k, v in self.extra.items()})


def load_train_images(ds: PreparedDataset, resolution: int, split: str = "train", chunk: int = 512) -> TrainImages:
    """Read a split as uint8 at ``resolution`` (28x28 MedMNIST is resized to 32, bilinear with antialias)."""
    entries = ds.entries(split)
    out = []
    for start in range(0, len(entries), chunk):
        idx = np.arange(start, min(start + chunk, len(entries)))
        x = torch.from_numpy(to_unit_range(ds.load_images(split, idx), ds.bit_depth)).permute(0, 3, 1, 2)
        if x.shape[-1] != resolution:
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True,
                              align_corners=False)
        out.append((x.clamp(0, 1) * 255).round().to(torch.uint8))
    return TrainImages(torch.cat(out).contiguous(), torch.from_numpy(ds.labels(split)))


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return torch.randperm(n, generator=g)


def batch_indices(n: int, batch: int, step: int, seed: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """Indices of this rank's share of the global batch of ``step``."""
    per_rank = batch // world_size
    start = step * batch + rank * per_rank
    pos = torch.arange(start, start + per_rank)
    epochs = pos // n
    out = torch.empty(per_rank, dtype=torch.long)
    for e in epochs.unique().tolist():
        sel = epochs == e
        out[sel] = epoch_permutation(n, seed, e)[pos[sel] % n]
    return out


def to_model_range(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return x_uint8.float() / 127.5 - 1.0
