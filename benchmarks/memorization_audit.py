"""Does the memorization audit catch near copies of training images? Planted copies among real held-out images.

Not a test: prints one JSON object (and writes it with ``--out``). BreastMNIST at its own 28 px or at 64 px
(the MedMNIST file of that size, official splits). The "synthetic" set is 200 untouched held-out real images
(the 156 test images and the first 44 validation images) plus ``--per-kind`` copies of distinct training
images for each kind of edit below, each copy with its own random strength (drawn uniformly in the range
shown; pixel sizes are the image's own pixels, intensities on 0..255, every copy rounded to 8 bits):

    exact        the training image as it is
    flip         mirrored left-right, up-down or both
    shift        moved by 1..3 px in x and/or y (edges repeated)
    gain_offset  contrast x 0.8..1.2 about mid-grey, then brightness -20..20
    noise        + Gaussian noise, sigma 2..5 % of the range (5..13 of 255)
    blur         Gaussian blur, sigma 0.5..1.2 px
    rotate       rotated by 2..10 degrees either way (bilinear, edges repeated)
    scale        zoomed by 0.9..1.1 about the centre (bilinear, edges repeated)
    combined     three of the above at half strength at once (a shift, a gain/offset change, noise)

The audit runs as ``synthmed metrics --real DATA:train --fake SET`` runs it (threshold calibrated on real
images, leave-one-out within the training split, at the default percentile). Printed: copies found per kind,
and the flag rate on the untouched real images (the test images alone too: 7 of BreastMNIST's 156 test
images are near copies of training images, so a few real flags are correct), with the audit's wall time.

    OMP_NUM_THREADS=2 python benchmarks/memorization_audit.py --data-root ../shared/data/medmnist --size 28 \\
        --out benchmarks/results/memorization/breastmnist28.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

KINDS = ("exact", "flip", "shift", "gain_offset", "noise", "blur", "rotate", "scale", "combined")
N_TEST, N_VAL_EXTRA = 156, 44  # 200 untouched real images


def _signed(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high) * rng.choice([-1.0, 1.0]))


def _shift(x: np.ndarray, rng: np.random.Generator, most: int) -> tuple[np.ndarray, dict]:
    while True:
        dy, dx = (int(v) for v in rng.integers(-most, most + 1, size=2))
        if dy or dx:
            return ndimage.shift(x, (dy, dx), order=0, mode="nearest"), {"dy": dy, "dx": dx}


def _gain_offset(x: np.ndarray, rng: np.random.Generator, gain: float, offset: float) -> tuple[np.ndarray, dict]:
    g, o = 1.0 + _signed(rng, 0.0, gain), float(rng.uniform(-offset, offset))
    return (x - 127.5) * g + 127.5 + o, {"gain": round(g, 3), "offset": round(o, 1)}


def _noise(x: np.ndarray, rng: np.random.Generator, low: float, high: float) -> tuple[np.ndarray, dict]:
    sigma = float(rng.uniform(low, high)) * 255
    return x + rng.normal(0, sigma, x.shape), {"sigma_255": round(sigma, 1)}


def plant(image: np.ndarray, kind: str, rng: np.random.Generator, k: float = 1.0) -> tuple[np.ndarray, dict]:
    """One edited copy of a uint8 (H, W) training image, and the edit's drawn parameters; ``k`` scales every
    strength range (``--strength``: 2 doubles the shifts, gains, noise, blur, rotations and zooms)."""
    x, p = image.astype(np.float64), {}
    if kind == "flip":
        axis = str(rng.choice(["lr", "ud", "both"]))
        x, p = (x[:, ::-1] if axis in ("lr", "both") else x), {"axis": axis}
        x = x[::-1, :] if axis in ("ud", "both") else x
    elif kind == "shift":
        x, p = _shift(x, rng, max(1, round(3 * k)))
    elif kind == "gain_offset":
        x, p = _gain_offset(x, rng, 0.2 * k, 20.0 * k)
    elif kind == "noise":
        x, p = _noise(x, rng, 0.02 * k, 0.05 * k)
    elif kind == "blur":
        sigma = float(rng.uniform(0.5, 1.2) * k)
        x, p = ndimage.gaussian_filter(x, sigma), {"sigma_px": round(sigma, 2)}
    elif kind == "rotate":
        angle = _signed(rng, 2.0 * k, 10.0 * k)
        x, p = ndimage.rotate(x, angle, reshape=False, order=1, mode="nearest"), {"degrees": round(angle, 1)}
    elif kind == "scale":
        factor = float(1 + rng.uniform(-0.1, 0.1) * k)
        x, p = _zoom(x, factor), {"factor": round(factor, 3)}
    elif kind == "combined":
        x, p1 = _shift(x, rng, max(1, round(2 * k)))
        x, p2 = _gain_offset(x, rng, 0.1 * k, 10.0 * k)
        x, p3 = _noise(x, rng, 0.01 * k, 0.025 * k)
        p = {**p1, **p2, **p3}
    return np.clip(np.round(x), 0, 255).astype(np.uint8), p


def _zoom(x: np.ndarray, factor: float) -> np.ndarray:
    """Zoom about the centre, same size: an affine map from output to input coordinates."""
    centre = (np.array(x.shape) - 1) / 2
    return ndimage.affine_transform(x, np.eye(2) / factor, offset=centre - centre / factor, order=1, mode="nearest")


def build(data_root: Path, size: int, per_kind: int, seed: int,
          strength: float = 1.0) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """(train images, the audited set: 200 untouched real images then the planted copies, one record per copy)."""
    name = "breastmnist.npz" if size == 28 else f"breastmnist_{size}.npz"
    npz = np.load(data_root / name)
    train = npz["train_images"]
    held_out = np.concatenate([npz["test_images"], npz["val_images"][:N_VAL_EXTRA]])
    rng = np.random.default_rng(seed)
    sources = rng.choice(len(train), size=per_kind * len(KINDS), replace=False)
    copies, records = [], []
    for n, src in enumerate(sources):
        kind = KINDS[n // per_kind]
        img, params = plant(train[src], kind, rng, strength)
        copies.append(img)
        records.append({"kind": kind, "train_index": int(src), **params})
    return train, np.concatenate([held_out, np.stack(copies)]), records


def _tensor(images: np.ndarray):
    import torch

    return torch.from_numpy(images[:, None].astype(np.float32) / 127.5 - 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data/medmnist"))
    parser.add_argument("--size", type=int, default=28, choices=(28, 64, 128))
    parser.add_argument("--per-kind", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strength", type=float, default=1.0, help="Scale every edit's strength range (2: twice "
                        "the shifts, gains, noise, blur, rotations and zooms), to find where the audit stops.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the JSON here.")
    args = parser.parse_args()

    import torch

    from synthmed.metrics import memorization

    train, audited, records = build(args.data_root, args.size, args.per_kind, args.seed, args.strength)
    t = time.perf_counter()
    result = memorization.check_memorization(_tensor(audited), _tensor(train), None)  # leave-one-out, as metrics
    seconds = time.perf_counter() - t
    n_real = N_TEST + N_VAL_EXTRA
    flagged = result.flagged
    found: dict[str, int] = dict.fromkeys(KINDS, 0)
    for k, rec in enumerate(records):
        i = n_real + k
        rec.update(found=bool(flagged[i]), same_image=bool(result.nn_pixel[i] == rec["train_index"]),
                   closeness=round(float(result.closeness()[i]), 3))
        found[rec["kind"]] += int(flagged[i])
    report = {
        "dataset": f"breastmnist {args.size} px: {len(train)} train images, {n_real} untouched held-out real images "
                   f"({N_TEST} test + {N_VAL_EXTRA} val), {len(records)} planted copies",
        "found": {k: f"{v}/{args.per_kind}" for k, v in found.items()},
        "found_total": f"{sum(found.values())}/{len(records)}",
        "real_flag_rate": round(float(flagged[:n_real].mean()), 4),
        "real_flagged": f"{int(flagged[:n_real].sum())}/{n_real}",
        "test_flagged": f"{int(flagged[:N_TEST].sum())}/{N_TEST}",
        "calibration": {"percentile": result.percentile, "threshold": round(result.threshold_pixel, 5),
                        "chance_rate_train_leave_one_out": round(result.chance_rate, 4),
                        "train_images_that_are_copies_of_other_train_images": round(result.reference_copies, 4),
                        "audit_version": memorization.AUDIT_VERSION},
        "audit_seconds": round(seconds, 1),
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
                   f"{torch.get_num_threads()} thread(s)",
        "seed": args.seed, "strength": args.strength,
        "copies": records,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        from synthmed.utils.atomic import write_text

        write_text(args.out, text + "\n")


if __name__ == "__main__":
    main()
