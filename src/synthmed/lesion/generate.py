"""``synthmed generate --masks``: a pix2pix run turns (transformed) real masks into labeled (image, mask) pairs.

Image ``i`` takes mask ``i // copies`` of the mask set (so every mask is used ``copies`` times), transforms it with
its own seed (``masks.augment_mask``: flip, rotation, zoom, elastic; MONAI), and the generator draws the image for
that mask and the mask's class, its dropout seeded from the image seed. The output is a prepared dataset (split
train) whose entries carry the mask, the label and the provenance: mask source, mask seed, image seed, checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from synthmed.dataset import DatasetWriter, PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.gan.archs import get_arch
from synthmed.gan.checkpoint import load_generator
from synthmed.gan.networks.pix2pix import pack_condition
from synthmed.lesion.masks import NO_AUGMENT, MaskAugment, augment_mask


def image_seeds(seed: int, index: int) -> tuple[int, int]:
    """(mask seed, image seed) of output image ``index``: independent streams from NumPy's SeedSequence."""
    a, b = np.random.SeedSequence([seed, index]).generate_state(2)
    return int(a), int(b)


def generate_from_masks(checkpoint: str | Path, masks: str, out: str | Path, copies: int = 1,
                        augment: MaskAugment | None = MaskAugment(), seed: int = 0, device: str = "cpu",
                        overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    G, meta = load_generator(checkpoint, device=device)
    get_arch(meta["arch"]).check_condition(meta, "mask", "generate --masks")
    if copies < 1:
        raise SynthmedError(f"--copies must be at least 1, got {copies}")
    ds, split = PreparedDataset.open_spec(masks, "train")
    if not ds.has_masks(split):
        raise SynthmedError(f"{ds.root}: split '{split}' has images without masks")
    classes, res = list(meta["classes"]), int(meta["resolution"])
    if ds.classes != classes:
        raise SynthmedError(f"{ds.root}: classes {ds.classes} differ from the model's {classes}")
    if ds.resolution != res:
        raise SynthmedError(f"{ds.root}: masks are {ds.resolution} px, the model makes {res} px")
    aug = augment or NO_AUGMENT
    bank, labels, entries = ds.load_masks(split), ds.labels(split), ds.entries(split)
    n = len(bank) * copies
    with DatasetWriter(Path(out), classes, res, int(meta["channels"]), overwrite=overwrite) as writer:
        for i in tqdm(range(n), desc="generate", unit="img", disable=not progress):
            k = i // copies
            mask_seed, img_seed = image_seeds(seed, i)
            mask = augment_mask(bank[k], mask_seed, aug)
            if not mask.any():  # transformed out of the image: keep the real shape
                mask = bank[k]
            m = torch.from_numpy(mask[None, None].astype(np.float32)).to(device)
            y = torch.tensor([int(labels[k])], device=device)
            with torch.no_grad(), torch.random.fork_rng(devices=[]):
                torch.manual_seed(img_seed)
                x = G(pack_condition(m, y)).clamp(-1, 1)
            image = ((x[0] + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
            writer.add(image if image.shape[2] == 3 else image[:, :, 0], int(labels[k]), "train",
                       mask=(mask * 255).astype(np.uint8), source="synthetic",
                       mask_source=f"{ds.name}:{split}:{entries[k].get('source_file') or entries[k]['path']}",
                       mask_seed=mask_seed, image_seed=img_seed, index=i, class_name=classes[int(labels[k])])
        return writer.finish(
            source={"type": "synthetic", "name": f"synthetic-{meta['arch']}", "arch": meta["arch"],
                    "checkpoint": meta["checkpoint_path"], "checkpoint_sha256": meta["checkpoint_sha256"],
                    "seed": seed, "masks": f"{ds.root}:{split}", "masks_hash": ds.content_hash,
                    "nimg": meta["nimg"], "real_dataset_hash": meta.get("dataset_hash")},
            preprocessing={"resolution": res, "copies": copies, "mask_augment": aug.to_dict()},
        )
