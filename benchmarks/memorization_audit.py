"""Does the memorization audit catch near copies of training images? Planted copies among real held-out images.

Not a test: prints one JSON object. BreastMNIST 64 (official splits) is prepared into ``--work``; the
"synthetic" set is 200 untouched held-out real images (the 156 test images and the first 44 validation
images) plus copies of 35 distinct training images, 5 of each kind:

    exact        the training image as it is
    noise2       + Gaussian noise, sigma 2/255 (then rounded to 8 bits)
    noise4       + Gaussian noise, sigma 4/255
    flip         mirrored (3 left-right, 2 up-down)
    shift        moved by 2 px (edges repeated), in x or y
    brightness   + or - 10/255 on every pixel
    blur         Gaussian blur, sigma 0.7 px (measured to show the audit's limit)

The audit runs as ``synthmed metrics --real DATA:train --fake SET`` does (threshold calibrated on real
images, leave-one-out within the training split). Printed: found per kind, and the flag rate on the
untouched real images (the test images alone too: 7 of BreastMNIST's 156 test images are near copies of
training images, so a few real flags are correct).

    OMP_NUM_THREADS=2 python benchmarks/memorization_audit.py --data-root ../shared/data/medmnist
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

KINDS = ("exact", "noise2", "noise4", "flip", "shift", "brightness", "blur")
PER_KIND = 5
N_VAL_EXTRA = 44  # 156 test + 44 val = 200 untouched real images


def plant(image: np.ndarray, kind: str, k: int, rng: np.random.Generator) -> np.ndarray:
    """One planted copy of a uint8 (H, W) training image; ``k`` (0..4) varies the direction."""
    x = image.astype(np.float64)
    if kind == "noise2":
        x = x + rng.normal(0, 2.0, x.shape)
    elif kind == "noise4":
        x = x + rng.normal(0, 4.0, x.shape)
    elif kind == "flip":
        x = x[:, ::-1] if k < 3 else x[::-1, :]
    elif kind == "shift":
        dy, dx = [(2, 0), (0, 2), (-2, 0), (0, -2), (2, 2)][k]
        x = ndimage.shift(x, (dy, dx), order=0, mode="nearest")
    elif kind == "brightness":
        x = x + (10.0 if k % 2 == 0 else -10.0)
    elif kind == "blur":
        x = ndimage.gaussian_filter(x, 0.7)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def build(data_root: Path, work: Path, seed: int) -> tuple[Path, Path, dict[str, list[int]]]:
    from synthmed.dataset import DatasetWriter, PreparedDataset
    from synthmed.prepare.build import build_from_arrays
    from synthmed.prepare.medmnist_source import read_medmnist
    from synthmed.prepare.preprocess import PreprocessOptions

    real_dir = work / "b64"
    if not (real_dir / "dataset.json").is_file():
        src = read_medmnist(data_root / "breastmnist_64.npz", "breastmnist")
        build_from_arrays(src, real_dir, PreprocessOptions(resolution=64), progress=False)
    real = PreparedDataset.open(real_dir)
    train = real.load_images("train")[..., 0]
    held_out = np.concatenate([real.load_images("test")[..., 0], real.load_images("val")[:N_VAL_EXTRA, ..., 0]])
    held_labels = np.concatenate([real.labels("test"), real.labels("val")[:N_VAL_EXTRA]])
    rng = np.random.default_rng(seed)
    sources = rng.choice(len(train), size=PER_KIND * len(KINDS), replace=False)
    fake_dir = work / "planted"
    planted: dict[str, list[int]] = {k: [] for k in KINDS}
    with DatasetWriter(fake_dir, real.classes, 64, 1, overwrite=True) as w:
        for img, label in zip(held_out, held_labels, strict=True):
            w.add(img, int(label), "train", kind="real")
        for n, src_idx in enumerate(sources):
            kind, k = KINDS[n // PER_KIND], n % PER_KIND
            planted[kind].append(len(held_out) + n)
            w.add(plant(train[src_idx], kind, k, rng), int(real.labels("train")[src_idx]), "train", kind=kind,
                  train_index=int(src_idx))
        w.finish(source={"type": "memorization-benchmark", "seed": seed}, preprocessing={})
    return real_dir, fake_dir, planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data/medmnist"))
    parser.add_argument("--work", type=Path, default=Path("benchmarks/_out/memorization"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from synthmed.metrics.compute import compute_metrics

    real_dir, fake_dir, planted = build(args.data_root, args.work, args.seed)
    t = time.perf_counter()
    result = compute_metrics(f"{real_dir}:train", f"{fake_dir}:train", per_class=False, seed=args.seed,
                             cache_dir=args.work / "cache", skip=("frd", "inception"), progress=False)
    seconds = time.perf_counter() - t
    mem = result["info"]["memorization"]
    flagged = set(mem["flagged_fake_indices"])
    n_test = 156
    untouched = range(n_test + N_VAL_EXTRA)
    found = {k: sum(i in flagged for i in idx) for k, idx in planted.items()}
    print(json.dumps({
        "found": found, "found_total": f"{sum(found.values())}/{sum(len(v) for v in planted.values())}",
        "found_issue_15_kinds": f"{sum(v for k, v in found.items() if k != 'blur')}/30",
        "real_flag_rate": round(sum(i in flagged for i in untouched) / len(untouched), 4),
        "real_flagged": f"{sum(i in flagged for i in untouched)}/{len(untouched)}",
        "test_flagged": f"{sum(i in flagged for i in range(n_test))}/{n_test}",
        "calibration": {k: v for k, v in mem.items() if k not in ("flagged_fake_indices", "pairs_png")},
        "seconds": round(seconds, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
