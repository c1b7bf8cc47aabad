"""Speed of each metric family on this machine, and synthmed's Fréchet/KID against torchmetrics'.

Not a test: prints one JSON object. Example (BreastMNIST 64 prepared by 'synthmed prepare'):

    OMP_NUM_THREADS=2 python benchmarks/metrics_speed.py --real /tmp/b64:train --fake /tmp/b64:test

Every family is timed on the given images (radiomics on at most --radiomics-images per set, it is
the slow one); the Fréchet/KID comparison runs torchmetrics on the *same* domain features, fed
through an identity "extractor", so only the distance code differs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 2) if seconds > 0 else float("inf")


class Identity(torch.nn.Module):
    """Hands precomputed (N, D, 1, 1) features to torchmetrics unchanged."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


def compare_with_torchmetrics(fr: np.ndarray, ff: np.ndarray, kid_subsets: int = 100) -> dict:
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    from synthmed.metrics.frechet import frechet_from_features
    from synthmed.metrics.kid import kid_from_features

    dim, size = fr.shape[1], min(1000, len(fr), len(ff))
    as_images = [torch.from_numpy(f).float()[:, :, None, None] for f in (fr, ff)]
    out: dict = {"n_real": len(fr), "n_fake": len(ff), "dim": dim}
    t = time.perf_counter()
    ours_fid = frechet_from_features(fr, ff)
    out["fid"] = {"synthmed": ours_fid, "synthmed_s": round(time.perf_counter() - t, 4)}
    t = time.perf_counter()
    tm = FrechetInceptionDistance(feature=Identity(dim))
    tm.update(as_images[0], real=True)
    tm.update(as_images[1], real=False)
    out["fid"] |= {"torchmetrics": float(tm.compute()), "torchmetrics_s": round(time.perf_counter() - t, 4)}
    out["fid"]["rel_diff"] = abs(out["fid"]["synthmed"] - out["fid"]["torchmetrics"]) / max(abs(ours_fid), 1e-12)
    # KID: one subset holding every image of two equal-size sets gives a draw-independent value to compare;
    # then the usual 100 random subsets (different draws, so values differ by the sampling noise only)
    n = min(len(fr), len(ff))
    for label, subsets, subset_size, count in (("kid_one_full_subset", 1, n, n),
                                               ("kid_100_subsets", kid_subsets, size, None)):
        t = time.perf_counter()
        ours, _, _ = kid_from_features(fr[:count], ff[:count], subsets=subsets, subset_size=subset_size)
        ours_s = time.perf_counter() - t
        t = time.perf_counter()
        tm = KernelInceptionDistance(feature=Identity(dim), subsets=subsets, subset_size=subset_size)
        tm.update(as_images[0][:count], real=True)
        tm.update(as_images[1][:count], real=False)
        theirs = float(tm.compute()[0])
        out[label] = {"synthmed": ours, "synthmed_s": round(ours_s, 4), "torchmetrics": theirs,
                      "torchmetrics_s": round(time.perf_counter() - t, 4), "subset_size": subset_size}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--real", required=True, help="DIR[:split] (default split train)")
    p.add_argument("--fake", required=True, help="DIR[:split] (default split train)")
    p.add_argument("--max-images", type=int, default=1000)
    p.add_argument("--radiomics-images", type=int, default=40)
    p.add_argument("--msssim-pairs", type=int, default=200)
    p.add_argument("--cache-dir", default=None, help="reuse a cached domain CNN (default: train one, timed)")
    args = p.parse_args()

    from synthmed.dataset import PreparedDataset
    from synthmed.metrics import features, memorization, msssim, prdc, radiomics

    real_ds, real_split = PreparedDataset.open_spec(args.real, "train")
    fake_ds, fake_split = PreparedDataset.open_spec(args.fake, "train")
    xr, _ = real_ds.load_tensor(real_split, np.arange(min(args.max_images, len(real_ds.entries(real_split)))))
    xf, _ = fake_ds.load_tensor(fake_split, np.arange(min(args.max_images, len(fake_ds.entries(fake_split)))))
    report: dict = {"device": "cpu", "torch_threads": torch.get_num_threads(), "n_real": len(xr), "n_fake": len(xf),
                    "resolution": real_ds.resolution, "families": {}}
    fam = report["families"]

    t = time.perf_counter()
    model, _ = features.domain_cnn_for(real_ds, Path(args.cache_dir) if args.cache_dir else None, progress=False)
    fam["domain_cnn_training_s" if not args.cache_dir else "domain_cnn_load_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    fr, ff = features.extract(model, xr), features.extract(model, xf)
    fam["domain_features_img_per_s"] = _rate(len(xr) + len(xf), time.perf_counter() - t)
    t = time.perf_counter()
    prdc.prdc(fr, ff, 3)
    fam["prdc_img_per_s"] = _rate(len(ff), time.perf_counter() - t)
    t = time.perf_counter()
    memorization.check_memorization(xf, xr, None, ff, fr)  # leave-one-out calibration on the real images
    fam["memorization_img_per_s"] = _rate(len(ff), time.perf_counter() - t)
    msssim.mean_pairwise_msssim(xf, 2)  # warm-up: the first call imports torchmetrics' image package
    t = time.perf_counter()
    msssim.mean_pairwise_msssim(xf, args.msssim_pairs)
    fam["ms_ssim_pairs_per_s"] = _rate(args.msssim_pairs, time.perf_counter() - t)
    paths = [real_ds.image_path(e) for e in real_ds.entries(real_split)[: args.radiomics_images]]
    t = time.perf_counter()
    radiomics.extract_radiomics(paths, progress=False)
    fam["radiomics_img_per_s"] = _rate(len(paths), time.perf_counter() - t)
    report["frechet_kid_vs_torchmetrics"] = compare_with_torchmetrics(fr, ff)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
