"""A prepared dataset at another resolution: every image resized with prepare's filter, masks nearest-neighbour.

The main job prepares once at the data's resolution and trains the GAN and the classifiers at their own
(``gan.resolution``, ``classify.resolution``); synthetic images reach the classifier's size the same way.
Entries keep their labels, splits, order and extra keys (patient_id, provenance), so a resized dataset
lines up entry for entry with its source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from synthmed.dataset import DatasetWriter, PreparedDataset, to_unit_range
from synthmed.prepare.preprocess import ResizeFilter, quantize, resize


def resize_dataset(src: PreparedDataset, out: Path, resolution: int, resize_filter: ResizeFilter = "lanczos",
                   overwrite: bool = False) -> PreparedDataset:
    """Write ``src`` at ``resolution`` into ``out`` (built in a temporary sibling, renamed when complete)."""
    with DatasetWriter(Path(out), src.classes, resolution, src.channels, src.bit_depth, overwrite) as writer:
        for split in src.split_names:
            for entry in src.entries(split):
                image = to_unit_range(src.load_image(entry), src.bit_depth)
                pixels = quantize(resize(image, resolution, resize_filter), src.bit_depth)
                mask = src.load_mask(entry)
                if mask is not None:
                    mask = resize(mask.astype("float32")[:, :, None], resolution, "nearest")[:, :, 0] > 0.5
                    mask = mask.astype("uint8") * 255
                extra: dict[str, Any] = {k: v for k, v in entry.items() if k not in ("path", "label", "mask")}
                writer.add(pixels if src.channels == 3 else pixels[:, :, 0], int(entry["label"]), split,
                           mask=mask, **extra)
        keep = {k: v for k, v in src.meta.items() if k in ("split", "conversions", "skipped", "name")}
        writer.finish(source={"type": "prepared", "path": str(src.root), "content_hash": src.content_hash,
                              "resolution": src.resolution, "of": src.meta.get("source", {})},
                      preprocessing={**src.meta.get("preprocessing", {}), "resolution": resolution,
                                     "resized_from": src.resolution, "resize_filter": resize_filter}, **keep)
    return PreparedDataset.open(out)


def resized_view(src: PreparedDataset, cache: Path, resolution: int, resize_filter: ResizeFilter) -> PreparedDataset:
    """``src`` itself at its own resolution, else a resized copy cached under ``cache`` by content and size.

    The copy is a pure function of (content hash, resolution, filter), so stages may share it; it appears
    only when complete (``resize_dataset`` builds it atomically), and a killed build leaves nothing.
    """
    if resolution == src.resolution:
        return src
    folder = Path(cache) / f"{src.content_hash[:16]}-{resolution}-{resize_filter}"
    if PreparedDataset.exists(folder):
        return PreparedDataset.open(folder)
    return resize_dataset(src, folder, resolution, resize_filter)
