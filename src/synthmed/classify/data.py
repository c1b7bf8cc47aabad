"""Training images in memory (small sets) or read lazily (large ones), class balancing and augmentation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch.utils.data import Dataset, WeightedRandomSampler

from synthmed.classify.options import AUGMENTS
from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError

# Below this many bytes of float32 pixels a set is loaded once; above, images are read per item.
IN_MEMORY_LIMIT = 1 << 30

Part = tuple[PreparedDataset, str, np.ndarray]


class ImageSet(Dataset):
    """Images from one or more (dataset, split, indices) parts: items (image, label, is_synthetic), the image as
    float32 (C, H, W) in [-1, 1]; ``synthetic[k]`` says whether part k is synthetic (default: none is), so the
    loss can treat synthetic images apart in a mixed batch."""

    def __init__(self, parts: list[Part], transform: Callable | None = None,
                 in_memory_limit: int = IN_MEMORY_LIMIT, synthetic: Sequence[bool] | None = None) -> None:
        self.items = [(ds, split, int(i)) for ds, split, idx in parts for i in idx]
        labels = [ds.labels(split)[np.asarray(idx, dtype=np.int64)] for ds, split, idx in parts]
        self.labels = torch.from_numpy(np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64))
        flags = synthetic if synthetic is not None else [False] * len(parts)
        if len(flags) != len(parts):
            raise ValueError(f"ImageSet: {len(flags)} synthetic flags for {len(parts)} parts")
        self.synthetic = torch.tensor([bool(f) for f, (_, _, idx) in zip(flags, parts, strict=True) for _ in idx],
                                      dtype=torch.bool)
        self.transform = transform
        self.images: torch.Tensor | None = None
        if self.items:
            ds0 = self.items[0][0]
            nbytes = len(self.items) * ds0.channels * ds0.resolution**2 * 4
            if nbytes <= in_memory_limit:
                tensors = [ds.load_tensor(split, idx)[0] for ds, split, idx in parts if len(idx)]
                self.images = torch.cat(tensors)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.images is not None:
            x = self.images[i]
        else:
            ds, split, idx = self.items[i]
            x = ds.load_tensor(split, [idx])[0][0]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.labels[i], self.synthetic[i]


def augmentation(kind: str, seed: int) -> Callable | None:
    """``traditional``: horizontal flip, rotation up to 10 degrees, +-10 % intensity scale and shift (MONAI).
    ``trivialaugment``: see :func:`trivial_augment`.

    No vertical flips: anatomy and ultrasound depth have an up and a down. Images stay clipped to [-1, 1].
    """
    if kind == "none":
        return None
    if kind == "trivialaugment":
        return trivial_augment(seed)
    if kind != "traditional":
        raise SynthmedError(f"--augment must be one of {', '.join(AUGMENTS)}, got '{kind}'")
    # lazy: MONAI's transforms take a second or more to import; only this (optional) augmentation uses them
    from monai.transforms import Compose, RandFlip, RandRotate, RandScaleIntensity, RandShiftIntensity

    compose = Compose([
        RandFlip(prob=0.5, spatial_axis=1),
        RandRotate(range_x=np.deg2rad(10), prob=0.5, padding_mode="border", keep_size=True),
        RandScaleIntensity(factors=0.1, prob=0.5),
        RandShiftIntensity(offsets=0.1, prob=0.5),
    ])
    compose.set_random_state(seed=int(seed) % (2**32))

    def apply(x: torch.Tensor) -> torch.Tensor:
        out = compose(x)
        out = out.as_tensor() if hasattr(out, "as_tensor") else torch.as_tensor(out)
        return out.clamp_(-1.0, 1.0)

    return apply


def trivial_augment(seed: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """torchvision's TrivialAugmentWide (Müller & Hutter 2021): per image one op of 14 (shear, translate, rotate,
    colour, contrast, posterize, equalize, ...) at a uniformly drawn strength, with no policy to search.

    Its ops expect uint8 images, so [-1, 1] floats go to 0..255 and back (a quantisation of at most half a grey
    level). torchvision draws from torch's global generator: each call runs under a forked one seeded from this
    transform's own sequence, so a run's augmentation depends on its seed only, like the MONAI one above.
    """
    from torchvision.transforms import TrivialAugmentWide  # lazy: as MONAI's in augmentation()
    policy = TrivialAugmentWide()
    draws = np.random.default_rng(int(seed) % (2**32))

    def apply(x: torch.Tensor) -> torch.Tensor:
        image = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(draws.integers(2**63 - 1)))
            out = policy(image)
        return out.to(torch.float32).div_(127.5).sub_(1.0)

    return apply


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """sklearn's 'balanced' weights n / (K * n_k); a class absent from training keeps weight 1."""
    weights = np.ones(num_classes, dtype=np.float64)
    present = np.unique(labels)
    weights[present] = compute_class_weight("balanced", classes=present, y=labels)
    return torch.tensor(weights, dtype=torch.float32)


def balanced_sampler(labels: np.ndarray, generator: torch.Generator) -> WeightedRandomSampler:
    """Draw every class equally often (with replacement), one epoch = as many draws as images."""
    counts = np.bincount(labels)
    weights = 1.0 / counts[labels]
    return WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double), num_samples=len(labels),
                                 replacement=True, generator=generator)
