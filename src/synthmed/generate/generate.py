"""``generate_dataset``: a trained generator -> a prepared dataset, streamed in batches.

Every image gets its own latent seed (derived from the run seed and the image index with NumPy's
SeedSequence), so any single image can be regenerated from its provenance: checkpoint hash, seed,
image seed, class and truncation. Images are written batch by batch; memory stays flat however
many are asked for (only the manifest entries accumulate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from synthmed.dataset import DatasetWriter
from synthmed.errors import SynthmedError
from synthmed.gan.archs import get_arch
from synthmed.gan.checkpoint import load_generator
from synthmed.utils.allocation import allocate


def class_targets(classes: list[str], train_counts: dict[str, int], per_class: int | list[int] | None = None,
                  total: int | None = None, balance_to: int | None = None) -> list[int]:
    """Images to generate per class.

    ``per_class``: N for every class, or a list with each class's count (the main job's generation strategy).
    ``total``: N split in the real train proportions (largest remainder, so the counts add up exactly).
    ``balance_to``: tops each class up to N given its real count (0 for classes that already have N or more).
    """
    given = [x is not None for x in (per_class, total, balance_to)]
    if sum(given) != 1:
        raise SynthmedError("choose exactly one of --per-class, --total, --balance-to")
    if isinstance(per_class, list | tuple):
        if len(per_class) != len(classes) or min(per_class, default=0) < 0:
            raise SynthmedError(f"per-class counts {list(per_class)}: need one count >= 0 for each of {classes}")
        return [int(n) for n in per_class]
    value = per_class if per_class is not None else total if total is not None else balance_to
    if value is None or value < 0:
        raise SynthmedError(f"the number of images must be 0 or more, got {value}")
    real = [int(train_counts.get(c, 0)) for c in classes]
    if per_class is not None:
        return [per_class] * len(classes)
    if balance_to is not None:
        return [max(0, balance_to - r) for r in real]
    weights = np.array(real, dtype=np.float64) if sum(real) else np.ones(len(classes))
    return [int(n) for n in allocate(value, weights)]


def image_seed(seed: int, index: int) -> int:
    """The latent seed of image ``index`` of a run with ``seed`` (independent streams, no collisions by offset)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def latents(seeds: list[int], z_dim: int) -> torch.Tensor:
    return torch.stack([torch.randn(z_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])


def to_uint8(x: torch.Tensor, resolution: int) -> np.ndarray:
    """(N, C, R, R) in [-1, 1] -> (N, r, r, C) uint8, resized (antialiased) to ``resolution`` if needed."""
    x = x.float().clamp(-1, 1)
    if x.shape[-1] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def generate_dataset(checkpoint: str | Path, out: str | Path, per_class: int | list[int] | None = None,
                     total: int | None = None, balance_to: int | None = None, trunc: float = 1.0, seed: int = 0,
                     batch: int = 64, resolution: int | None = None, device: str = "cpu", overwrite: bool = False,
                     progress: bool = True, first_index: int = 0, steps: int | None = None,
                     guidance: float | None = None) -> dict[str, Any]:
    """Write a prepared dataset of generated images; return its ``dataset.json`` content.

    ``first_index``: the index of the first image, so that a later batch of the same run (the pipeline's
    top-up of a class the filter left short) gets new latent seeds, never the earlier images again.

    ``resolution``: output side (default: the training data's, e.g. 28 for a model trained at 32 on
    28x28 MedMNIST, so real and synthetic sets mix directly).

    ``steps``, ``guidance``: a diffusion model's DDIM steps and classifier-free guidance scale (None: the values
    the run was trained with; refused by a GAN).
    """
    if batch < 1:
        raise SynthmedError(f"--batch must be at least 1, got {batch}")
    if not 0 < trunc <= 2:
        raise SynthmedError(f"--trunc must be in (0, 2] (1 = no truncation), got {trunc}")
    if resolution is not None and not 8 <= resolution <= 4096:
        raise SynthmedError(f"--resolution must be between 8 and 4096, got {resolution}")
    G, meta = load_generator(checkpoint, device=device)
    largest = max(int(meta["resolution"]), int(meta.get("data_resolution") or 0))
    if resolution is not None and resolution > largest:  # upsampling a model's output adds no detail
        raise SynthmedError(f"--resolution {resolution}: above the model's {meta['resolution']} px and its "
                            f"training data's {meta.get('data_resolution')} px: a larger side would only "
                            f"upsample (give at most {largest})")
    family = get_arch(meta["arch"])
    family.check_generates(meta)
    classes = list(meta["classes"])
    if not meta["cond"] and len(classes) > 1:
        raise SynthmedError(f"{meta['checkpoint_path']}: the model is unconditional; it cannot make images of a "
                            "chosen class")
    targets = class_targets(classes, meta["train_counts"], per_class, total, balance_to)
    res = int(resolution or meta.get("data_resolution") or meta["resolution"])
    sampling = family.sampling_kwargs(G, trunc, steps, guidance)  # e.g. a diffusion model's sampler steps
    jobs = [(label, i) for label, n in enumerate(targets) for i in range(n)]
    provenance = {"checkpoint": meta["checkpoint_path"], "checkpoint_sha256": meta["checkpoint_sha256"],
                  "arch": meta["arch"], "truncation": trunc, "seed": seed,
                  **{k: v for k, v in sampling.items() if k in ("steps", "guidance")}}
    with DatasetWriter(Path(out), classes, res, int(meta["channels"]), overwrite=overwrite) as writer:
        with tqdm(total=len(jobs), unit="img", desc="generate", disable=not progress) as bar:
            for start in range(0, len(jobs), batch):
                chunk = jobs[start:start + batch]
                seeds = [image_seed(seed, first_index + start + k) for k in range(len(chunk))]
                labels = torch.tensor([label for label, _ in chunk], dtype=torch.long, device=device)
                z = latents(seeds, meta["z_dim"]).to(device)
                with torch.no_grad():
                    images = to_uint8(G(z, labels, **sampling), res)
                for k, (label, _) in enumerate(chunk):
                    writer.add(images[k], label, "train", source="synthetic",
                               checkpoint_sha256=meta["checkpoint_sha256"], seed=seed, image_seed=seeds[k],
                               index=first_index + start + k, class_name=classes[label], truncation=trunc)
                bar.update(len(chunk))
        return writer.finish(
            source={"type": "synthetic", "name": f"synthetic-{meta['arch']}", **provenance,
                    "model_resolution": meta["resolution"], "nimg": meta["nimg"],
                    "real_train_counts": meta["train_counts"], "real_dataset_hash": meta.get("dataset_hash")},
            preprocessing={"resolution": res, "resize": "bilinear-antialias" if res != meta["resolution"] else None,
                           "requested": {"per_class": per_class, "total": total, "balance_to": balance_to,
                                         "first_index": first_index}},
        )
