"""Write a source into a prepared dataset (built in a temporary folder, renamed at the end)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from synthmed.dataset import DatasetWriter
from synthmed.prepare.medmnist_source import ArraySource
from synthmed.prepare.preprocess import PreprocessOptions, preprocess


def source_channels(images_by_split: list) -> int:
    """Majority channel count of the source (1 or 3); mixed sources convert to it."""
    counts: Counter[int] = Counter()
    for images in images_by_split:
        counts[1 if images.ndim == 3 or images.shape[-1] in (1, 2) else 3] += len(images)
    return counts.most_common(1)[0][0] if counts else 1


def build_from_arrays(source: ArraySource, out: Path, opts: PreprocessOptions, overwrite: bool = False,
                      progress: bool = True) -> dict:
    """Preprocess every image of an in-memory source and write the prepared dataset."""
    from tqdm import tqdm

    channels = opts.channels or source_channels([imgs for imgs, _ in source.splits.values()])
    total = sum(len(labels) for _, labels in source.splits.values())
    with DatasetWriter(out, source.classes, opts.resolution, channels, opts.bit_depth, overwrite) as writer:
        with tqdm(total=total, desc="prepare", unit="img", disable=not progress) as bar:
            for split, (images, labels) in source.splits.items():
                for image, label in zip(images, labels, strict=True):
                    writer.add(preprocess(image, opts, channels), int(label), split)
                    bar.update(1)
        meta = writer.finish(source=source.description,
                             preprocessing={**opts.to_dict(), "channels": channels})
    return meta
