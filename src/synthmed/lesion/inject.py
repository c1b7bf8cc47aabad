"""``synthmed inject``: put a generated lesion of a chosen class, shape and place into real background images.

For each output image (its own seed, from NumPy's SeedSequence of the run seed and the image index):

1. a background: the next image of a seeded permutation of the background set (a prepared dataset, whose own
   lesions are avoided or replaced, or a folder of normal images);
2. a mask: a real lesion mask from a dataset, randomly transformed (``masks.augment_mask``), or a drawn ellipse
   of ``lesion_size`` (fraction of the image area);
3. a place: ``free`` puts the lesion where it touches no lesion of the background (``masks.place_mask``), and
   the output mask is every lesion of the image (the background's own and the injected one), as a segmentation
   label must be; ``replace`` covers the background's own lesion (dilated by ``margin`` pixels, united with the
   transformed mask) and fills it with a lesion of the chosen class, so the image holds one lesion, the new one;
4. the injection generator (``networks.pix2pix.InpaintGenerator``) fills the mask given the class and the lesion
   features (area; mean intensity given or drawn from the class's real lesions), and the 8-bit output is
   composited again in pixel space, so every pixel outside the mask *is* the background's byte for byte.

Provenance per image: background id, mask source (and its seed), place, features, checkpoint hash.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from tqdm import tqdm

from synthmed.dataset import DatasetWriter, PreparedDataset, parse_spec
from synthmed.errors import SynthmedError
from synthmed.gan.archs import get_arch
from synthmed.gan.checkpoint import load_generator
from synthmed.gan.networks.pix2pix import inpaint_condition
from synthmed.lesion.masks import MaskAugment, augment_mask, place_mask, random_ellipse

PLACES = ("free", "replace")


@dataclass
class InjectOptions:
    classes: list[str]                  # class name(s) of the injected lesions (cycled)
    n: int                              # images to write
    masks: str | None = None            # DIR[:split] with masks to draw shapes from; None = ellipses
    lesion_size: float = 0.08           # ellipse area as a fraction of the image (masks=None)
    augment: MaskAugment = field(default_factory=MaskAugment)
    intensity: float | None = None      # lesion mean intensity in [0, 1] (None: drawn from the class's real lesions)
    place: str = "free"
    margin: int = 3                     # pixels kept between the new lesion and the background's (free) / dilation
    seed: int = 0
    tries: int = 20                     # backgrounds tried per image before the image is skipped

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["augment"] = self.augment.to_dict()
        return d


@dataclass
class Backgrounds:
    """Background images (N, R, R, C) uint8, their ids, and their lesion masks (N, R, R) bool where known."""

    images: np.ndarray
    ids: list[str]
    masks: np.ndarray | None
    source: str

    @classmethod
    def load(cls, spec: str, resolution: int, channels: int) -> Backgrounds:
        path, _ = parse_spec(spec)
        if PreparedDataset.exists(path):
            ds, split = PreparedDataset.open_spec(spec, "train")
            if ds.resolution != resolution or ds.channels != channels:
                raise SynthmedError(f"{ds.root}: backgrounds are {ds.resolution} px with {ds.channels} channel(s); "
                                    f"the injection model makes {resolution} px with {channels}")
            if ds.bit_depth != 8:
                raise SynthmedError(f"{ds.root}: backgrounds must be 8-bit images")
            entries = ds.entries(split)
            masks = ds.load_masks(split) if ds.has_masks(split) else None
            ids = [f"{ds.name}:{split}:{e.get('source_file') or e['path']}" for e in entries]
            return cls(ds.load_images(split), ids, masks, f"{ds.root}:{split}")
        return cls._folder(path, resolution, channels)

    @classmethod
    def _folder(cls, folder: Path, resolution: int, channels: int) -> Backgrounds:
        """A folder of normal (lesion-free) images: read, converted to the model's channels, resized (Lanczos)."""
        if not folder.is_dir():
            raise SynthmedError(f"{folder}: not a prepared dataset or a folder of images")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif")
                       and not p.name.startswith(".") and not p.stem.endswith("_mask"))
        if not files:
            raise SynthmedError(f"{folder}: no images (png, jpg, bmp, tif)")
        images = []
        for f in files:
            try:
                with Image.open(f) as im:
                    im = im.convert("L" if channels == 1 else "RGB")
                    if im.size != (resolution, resolution):
                        if im.size[0] != im.size[1]:
                            raise SynthmedError(f"{f}: background images must be square, got {im.size[0]}x"
                                                f"{im.size[1]}")
                        im = im.resize((resolution, resolution), Image.Resampling.LANCZOS)
                    arr = np.asarray(im)
            except OSError as exc:
                raise SynthmedError(f"{f}: cannot read image ({exc})") from None
            images.append(arr[:, :, None] if arr.ndim == 2 else arr)
        return cls(np.stack(images), [f.name for f in files], None, str(folder))


@dataclass
class MaskBank:
    """Real lesion masks (N, R, R) bool with their labels, to draw shapes from."""

    masks: np.ndarray
    labels: np.ndarray
    ids: list[str]

    @classmethod
    def load(cls, spec: str, resolution: int) -> MaskBank:
        ds, split = PreparedDataset.open_spec(spec, "train")
        if not ds.has_masks(split):
            raise SynthmedError(f"{ds.root}: split '{split}' has images without masks (--masks needs one per image)")
        if ds.resolution != resolution:
            raise SynthmedError(f"{ds.root}: masks are {ds.resolution} px, the model makes {resolution} px")
        return cls(ds.load_masks(split), ds.labels(split), [f"{ds.name}:{split}:{e['path']}" for e in
                                                              ds.entries(split)])


def draw_mask(opts: InjectOptions, bank: MaskBank | None, resolution: int, rng: np.random.Generator,
              mask_seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The lesion shape for one image, and where it came from."""
    if bank is None:
        return random_ellipse(resolution, opts.lesion_size, rng), {"mask_source": "ellipse",
                                                                    "lesion_size": opts.lesion_size}
    k = int(rng.integers(len(bank.masks)))
    shape = augment_mask(bank.masks[k], mask_seed, opts.augment)
    if not shape.any():  # transformed out of the image: keep the real shape
        shape = bank.masks[k]
    return shape, {"mask_source": bank.ids[k], "mask_seed": mask_seed}


def position(shape: np.ndarray, own: np.ndarray | None, opts: InjectOptions,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """(region to fill, output mask) for one background, or None when the lesion does not fit."""
    if opts.place == "replace":
        if own is None or not own.any():
            return None
        covered = ndimage.binary_dilation(own, iterations=opts.margin) if opts.margin else own
        region = covered | _fit_on(shape, own)
        return region, region
    placed = place_mask(shape, own, rng, margin=opts.margin)
    if placed is None:
        return None
    return placed, placed | own if own is not None else placed


def _fit_on(shape: np.ndarray, own: np.ndarray) -> np.ndarray:
    """``shape`` zoomed (nearest) so its bounding box's longer side equals ``own``'s and centred on ``own``'s box:
    the new lesion takes the old one's place and size (cropped at the image edge)."""
    ys, xs = np.nonzero(shape)
    oy, ox = np.nonzero(own)
    crop = shape[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    side = max(oy.max() - oy.min() + 1, ox.max() - ox.min() + 1)
    scale = side / max(crop.shape)
    crop = ndimage.zoom(crop.astype(np.uint8), scale, order=0).astype(bool)
    out = np.zeros_like(own, dtype=bool)
    top = round((oy.min() + oy.max() + 1) / 2 - crop.shape[0] / 2)
    left = round((ox.min() + ox.max() + 1) / 2 - crop.shape[1] / 2)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + crop.shape[0], own.shape[0]), min(left + crop.shape[1], own.shape[1])
    out[y0:y1, x0:x1] = crop[y0 - top:y1 - top, x0 - left:x1 - left]
    return out


def generate_lesions(G: torch.nn.Module, backgrounds: np.ndarray, regions: np.ndarray, labels: list[int],
                     features: np.ndarray, seed: int, device: str | torch.device = "cpu") -> np.ndarray:
    """Run the injection generator (its dropout drawn from ``seed``) and composite again in uint8: outside
    ``regions`` the output is the background's bytes."""
    x = torch.from_numpy(backgrounds).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(device)
    m = torch.from_numpy(regions[:, None].astype(np.float32)).to(device)
    y = torch.tensor(labels, dtype=torch.long, device=device)
    f = torch.from_numpy(features.astype(np.float32)).to(device)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = G(inpaint_condition(x, m, y, f))
    gen = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return np.where(regions[:, :, :, None], gen, backgrounds)


def feature_vector(region: np.ndarray, intensity: float) -> np.ndarray:
    """The generator's feature input: area fraction mapped to [-1, 1] and the mean intensity in [-1, 1]."""
    return np.array([region.mean() * 2 - 1, intensity * 2 - 1], dtype=np.float32)


def inject_dataset(checkpoint: str | Path, backgrounds: str, out: str | Path, opts: InjectOptions,
                   device: str = "cpu", overwrite: bool = False, progress: bool = True) -> dict[str, Any]:
    """Write a prepared dataset (split train) of injected images with masks, labels and provenance."""
    G, meta = load_generator(checkpoint, device=device)
    get_arch(meta["arch"]).check_condition(meta, "mask-in-image", "synthmed inject")
    classes, res, channels = list(meta["classes"]), int(meta["resolution"]), int(meta["channels"])
    labels = _class_indices(opts.classes, classes)
    _check(opts, res)
    bg = Backgrounds.load(backgrounds, res, channels)
    bank = MaskBank.load(opts.masks, res) if opts.masks else None
    stats = G.intensity_stats.cpu().numpy()  # real lesions' mean intensity per class: mean, std
    order = np.random.default_rng(opts.seed).permutation(len(bg.images))
    cursor, skipped = 0, 0
    with DatasetWriter(Path(out), classes, res, channels, overwrite=overwrite) as writer:
        for i in tqdm(range(opts.n), desc="inject", unit="img", disable=not progress):
            rng = np.random.default_rng(np.random.SeedSequence([opts.seed, i]))
            label = labels[i % len(labels)]
            shape, source = draw_mask(opts, bank, res, rng, int(rng.integers(2**31)))
            for _ in range(opts.tries):
                b = int(order[cursor % len(order)])
                cursor += 1
                own = bg.masks[b] if bg.masks is not None else None
                placed = position(shape, own, opts, rng)
                if placed is not None:
                    break
            else:
                skipped += 1
                continue
            region, out_mask = placed
            intensity = opts.intensity if opts.intensity is not None else _draw_intensity(stats, label, rng)
            feats = feature_vector(region, intensity)
            image = generate_lesions(G, bg.images[b:b + 1], region[None], [label], feats[None],
                                     int(rng.integers(2**31)), device)[0]
            writer.add(image if channels == 3 else image[:, :, 0], label, "train",
                       mask=(out_mask * 255).astype(np.uint8), source="injected", background=bg.ids[b],
                       place=opts.place, lesion_area=float(region.mean()), lesion_intensity=float(intensity),
                       background_had_lesion=bool(own is not None and own.any()), index=i, **source)
        if writer.splits.get("train") is None:
            raise SynthmedError(f"{backgrounds}: no lesion fitted in any background (try a smaller lesion or "
                                f"--place replace)")
        return writer.finish(
            source={"type": "injected", "name": "injected", "checkpoint": meta["checkpoint_path"],
                    "checkpoint_sha256": meta["checkpoint_sha256"], "backgrounds": bg.source,
                    "real_dataset_hash": meta.get("dataset_hash")},
            preprocessing={"resolution": res, "inject": opts.to_dict(), "skipped": skipped},
        )


def _class_indices(names: list[str], classes: list[str]) -> list[int]:
    out = []
    for name in names:
        if name not in classes:
            raise SynthmedError(f"--class {name}: the model knows {', '.join(classes)}")
        out.append(classes.index(name))
    if not out:
        raise SynthmedError("--class is required")
    return out


def _check(opts: InjectOptions, resolution: int) -> None:
    if opts.place not in PLACES:
        raise SynthmedError(f"--place must be {' or '.join(PLACES)}, got {opts.place}")
    if opts.n < 1:
        raise SynthmedError(f"--n must be at least 1, got {opts.n}")
    if opts.intensity is not None and not 0 <= opts.intensity <= 1:
        raise SynthmedError(f"--intensity is a mean grey level in [0, 1], got {opts.intensity}")
    if opts.margin < 0 or opts.margin > resolution // 4:
        raise SynthmedError(f"--margin must be in 0..{resolution // 4} pixels, got {opts.margin}")


def _draw_intensity(stats: np.ndarray, label: int, rng: np.random.Generator) -> float:
    """A mean lesion intensity in [0, 1] drawn from a normal fitted to the class's real lesions (kept in G)."""
    mean, std = stats[label if label < len(stats) else 0]
    return float(np.clip(rng.normal(mean, std), 0.0, 1.0))
