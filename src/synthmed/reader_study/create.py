"""Build a study folder: a random sample of real and synthetic images, re-encoded identically.

Every image is decoded and written again the same way: 8-bit PNG, the real set's size and channels,
no metadata, and *no compression* (``compress_level=0``). Compressed PNG sizes depend on content, and
a GAN's images compress differently from scanner images, so file sizes could tell readers the truth;
stored (uncompressed) PNGs all have the same byte length for one size. Image ids are random
(``secrets.token_urlsafe``), the files are written in a random order, and the truth and class of each
id are kept only in the database.

Reproducible: the same seed and inputs choose the same images. Ids and tokens are secrets on purpose
(derivable ids would let someone who knows the seed recover the truth).
"""

from __future__ import annotations

import io
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.lesion.masks import border
from synthmed.reader_study import db
from synthmed.utils.atomic import atomic_dir, write_json

STUDY_FILE = "study.json"
IMAGES_DIR = "images"
ID_BYTES = 12  # token_urlsafe(12) -> 16 url-safe characters


@dataclass
class CreatedStudy:
    out: Path
    admin_token: str
    meta: dict[str, Any]


def create_study(real: str, synthetic: str, n_real: int, n_synthetic: int, out: str | Path,
                 per_class: bool = False, seed: int = 0, resize_synthetic: bool = False,
                 database_url: str | None = None, overwrite: bool = False, name: str | None = None,
                 outline: bool = False) -> CreatedStudy:
    """Sample ``n_real`` real and ``n_synthetic`` synthetic images (per class with ``per_class``).

    ``outline``: draw each image's lesion outline on it (injected or generated lesions and real ones alike, so the
    outline tells nothing about the truth); both sets need masks and the same size.
    """
    real_ds, real_split = PreparedDataset.open_spec(real, "test")
    syn_ds, syn_split = PreparedDataset.open_spec(synthetic, "train")
    _check_compatible(real_ds, syn_ds, per_class, resize_synthetic)
    if outline:
        _check_outline(real_ds, real_split, syn_ds, syn_split, resize_synthetic)
    if n_real < 0 or n_synthetic < 0 or n_real + n_synthetic == 0:
        raise SynthmedError("--n-real and --n-synthetic must be >= 0 and not both 0")
    rng = np.random.default_rng(seed)
    picks = [("real", real_ds, real_split, i) for i in _sample(real_ds, real_split, n_real, per_class, rng, "--real")]
    picks += [("synthetic", syn_ds, syn_split, i)
              for i in _sample(syn_ds, syn_split, n_synthetic, per_class, rng, "--synthetic")]

    out = Path(out)
    admin_token = db.new_token()
    study_uid = uuid.uuid4().hex
    # Random ids, then write (and list in the database) in id order: no trace of the sampling order.
    ids = _unique_ids(len(picks))
    order = sorted(range(len(picks)), key=lambda k: ids[k])
    rows = []
    with atomic_dir(out, overwrite=overwrite) as tmp:
        (tmp / IMAGES_DIR).mkdir()
        for k in order:
            truth, ds, split, index = picks[k]
            entry = ds.entries(split)[index]
            image = ds.load_image(entry)
            if outline:
                image = draw_outline(image, ds.load_mask(entry))
            (tmp / IMAGES_DIR / f"{ids[k]}.png").write_bytes(encode_png(image, ds.bit_depth, real_ds.resolution))
            label = int(entry["label"])
            rows.append({"id": ids[k], "truth": truth, "label": label, "class_name": ds.classes[label],
                         "source": f"{ds.root.absolute()}:{split}:{entry['path']}"})
        meta = _study_meta(study_uid, name or out.name, seed, real, synthetic, real_ds, syn_ds, real_split,
                           syn_split, n_real, n_synthetic, per_class, resize_synthetic, rows)
        meta["config"]["outline"] = outline
        write_json(tmp / STUDY_FILE, meta)
        # The database goes in last, inside the temporary folder (SQLite) or in the given server database.
        url = database_url or db.default_url(tmp)
        engine = db.make_engine(url)
        try:
            db.init_schema(engine, study_uid, db.hash_token(admin_token), seed, rows)
        finally:
            engine.dispose()
    return CreatedStudy(out=out, admin_token=admin_token, meta=meta)


def encode_png(image: np.ndarray, bit_depth: int, resolution: int) -> bytes:
    """The one encoding every study image gets: 8-bit, ``resolution`` square, stored PNG, no metadata."""
    if bit_depth == 16 or image.dtype == np.uint16:
        image = np.round(image.astype(np.float64) / 257.0).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    im = Image.fromarray(image.astype(np.uint8))
    if im.size != (resolution, resolution):
        im = im.resize((resolution, resolution), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    # compress_level=0: stored deflate blocks, so the byte length depends only on width, height, channels.
    im.save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def draw_outline(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with its mask's border (one pixel inside the lesion) set to the brightest value, green for RGB."""
    out = image.copy()
    top = np.iinfo(image.dtype).max
    colour = [0, top, 0] if image.shape[2] == 3 else [top]
    out[border(mask)] = colour
    return out


def _check_outline(real: PreparedDataset, real_split: str, syn: PreparedDataset, syn_split: str,
                   resize: bool) -> None:
    for ds, split in ((real, real_split), (syn, syn_split)):
        if not ds.has_masks(split):
            raise SynthmedError(f"{ds.root}: --outline needs a mask for every image of split '{split}'")
    if resize:
        raise SynthmedError("--outline draws on the images at their own size; generate the synthetic set at the "
                            "real size instead of --resize-synthetic")


def _check_compatible(real: PreparedDataset, syn: PreparedDataset, per_class: bool, resize: bool) -> None:
    if real.channels != syn.channels:
        raise SynthmedError(f"{syn.root}: {syn.channels} channel(s) but the real images have {real.channels}; "
                            "a study must show every image the same way")
    if real.resolution != syn.resolution and not resize:
        raise SynthmedError(f"{syn.root}: images are {syn.resolution}px but the real ones are {real.resolution}px; "
                            "generate at the real size or pass --resize-synthetic (Lanczos)")
    if per_class and real.classes != syn.classes:
        raise SynthmedError(f"{syn.root}: classes {syn.classes} differ from the real set's {real.classes}; "
                            "--per-class needs the same classes")


def _sample(ds: PreparedDataset, split: str, n: int, per_class: bool, rng: np.random.Generator,
            option: str) -> list[int]:
    labels = ds.labels(split)
    if not per_class:
        if n > len(labels):
            raise SynthmedError(f"{ds.root}: {option} split '{split}' has {len(labels)} images, {n} requested")
        return sorted(rng.choice(len(labels), size=n, replace=False).tolist())
    chosen: list[int] = []
    for label, cname in enumerate(ds.classes):
        pool = np.flatnonzero(labels == label)
        if n > len(pool):
            raise SynthmedError(f"{ds.root}: {option} split '{split}' has {len(pool)} '{cname}' images, "
                                f"{n} requested per class")
        chosen += rng.choice(pool, size=n, replace=False).tolist()
    return sorted(chosen)


def _unique_ids(n: int) -> list[str]:
    ids: set[str] = set()
    while len(ids) < n:
        ids.add(secrets.token_urlsafe(ID_BYTES))
    return list(ids)


def _study_meta(uid: str, name: str, seed: int, real_spec: str, syn_spec: str, real: PreparedDataset,
                syn: PreparedDataset, real_split: str, syn_split: str, n_real: int, n_synthetic: int,
                per_class: bool, resize: bool, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """study.json: the resolved configuration; aggregate counts only, never a per-image truth."""
    return {
        "format": "synthmed-reader-study", "version": 1, "study_uid": uid, "name": name,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seed": seed,
        "config": {"real": real_spec, "synthetic": syn_spec, "n_real": n_real, "n_synthetic": n_synthetic,
                   "per_class": per_class, "resize_synthetic": resize},
        "sources": {
            "real": {"path": str(real.root.absolute()), "split": real_split, "content_hash": real.content_hash},
            "synthetic": {"path": str(syn.root.absolute()), "split": syn_split, "content_hash": syn.content_hash},
        },
        "images": {"count": len(rows), "format": "png", "bit_depth": 8, "compress_level": 0,
                   "resolution": real.resolution, "channels": real.channels,
                   "resized_synthetic_from": syn.resolution if syn.resolution != real.resolution else None},
        "counts": {"real": sum(r["truth"] == "real" for r in rows),
                   "synthetic": sum(r["truth"] == "synthetic" for r in rows)},
    }
