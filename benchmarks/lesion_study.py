"""Lesion study: do pix2pix images and injected lesions help segmentation and classification on PH2?

(a) Segmentation: a MONAI U-Net trained on the real PH2 train pairs vs real + pix2pix pairs vs real + injected
    pairs; the epoch with the best validation Dice is kept; Dice per real *test* image. Per arm: the mean over
    seeds with a bootstrap 95 % CI over test images; against real-only: the paired difference per test image
    (seed-averaged) with a bootstrap CI and a Wilcoxon signed-rank test, Holm across the arms.
(b) Classification: melanoma vs nevus (common + atypical) through the project's experiment grid (real vs real +
    injected images at 50 % and 100 %) and its statistics (``synthmed.stats.compare``: DeLong, bootstrap, Holm).
    The grid draws synthetic images with the real class proportions, so the injected set holds both classes:
    melanomas injected over nevus lesions and nevi over melanoma lesions (``--place replace``: one lesion per
    image, the background's own covered).

Everything is a unit that exists only when complete, so a killed study resumes where it stopped:
``WORK`` (default ``benchmarks/_out/lesion``) holds the prepared data, GAN runs (resumed from their last
checkpoint), synthetic sets, segmentation models and the classifier grid; the small results (one JSON per
segmentation run with its per-image Dice, the two tables as JSON and Markdown) go to ``RESULTS`` (default
``benchmarks/results/lesion``, committed). The full study (128 px, GANs 20 kimg, 5 seeds) takes hours on a CPU:

    python benchmarks/lesion_study.py                      # resumable; prints both tables at the end
    python benchmarks/lesion_study.py --tiny               # about a minute: 32 px, tiny nets, 2 seeds (plumbing)

On two cores, ``--only-gan inject`` in a second shell trains the injection GAN while the main command trains
pix2pix (each unit resumes from its own run folder; the main command then reuses the finished run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthmed.dataset import PreparedDataset

HERE = Path(__file__).resolve().parent
PH2 = HERE.parent.parent / "shared" / "data" / "ph2"
ARMS = ("real", "real+pix2pix", "real+inject")
NEVUS = ("common_nevus", "atypical_nevus")
SEG_BATCH = 16


@dataclass
class Setting:
    resolution: int = 128
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    gan_kimg: float = 20.0
    gan_width: int = 32
    gan_batch: int = 8
    seg_epochs: int = 40
    seg_channels: tuple[int, ...] = (16, 32, 64, 128)
    cls_epochs: int = 30
    copies: int = 2  # synthetic images per real train image (the grid's 100 % needs all 112 nevi in one class)

    @classmethod
    def tiny(cls) -> Setting:
        return cls(resolution=32, seeds=(0, 1), gan_kimg=0.016, gan_width=4, gan_batch=4, seg_epochs=2,
                   seg_channels=(4, 8), cls_epochs=1, copies=2)


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- data ------------------------------------------------------------------------------------------
def prepared(work: Path, source: Path, resolution: int) -> Path:
    """``synthmed prepare --folder`` of PH2 (images with their masks; stratified 70/15/15 split, seed 0)."""
    import subprocess

    out = work / f"ph2-{resolution}"
    if not PreparedDataset.exists(out):
        log(f"prepare {source} -> {out}")
        subprocess.run([sys.executable, "-m", "synthmed", "prepare", "--folder", str(source), "--resolution",
                        str(resolution), "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


def derived(src: Path, out: Path, classes: list[str], relabel: dict[str, str], keep=lambda name: True) -> Path:
    """A copy of a prepared dataset with classes merged (``relabel``: old name -> new) and entries filtered by
    their old class name; images and masks are copied byte for byte."""
    from synthmed.dataset import DatasetWriter

    if PreparedDataset.exists(out):
        return out
    ds = PreparedDataset.open(src)
    with DatasetWriter(out, classes, ds.resolution, ds.channels) as writer:
        for split in ds.split_names:
            for e in ds.entries(split):
                old = ds.classes[e["label"]]
                if keep(old):
                    image, mask = ds.load_image(e), ds.load_mask(e)
                    writer.add(image if ds.channels == 3 else image[:, :, 0], classes.index(relabel.get(old, old)),
                               split, mask=(mask * 255).astype(np.uint8), source_file=e.get("source_file"))
        writer.finish(source={"type": "derived", "from": str(src), "relabel": relabel}, preprocessing={})
    return out


# -- GANs and synthetic sets ---------------------------------------------------------------------------
def gan_run(work: Path, arch: str, data: Path, s: Setting) -> Path:
    """Train (or resume, or reuse) a GAN run of ``arch`` up to ``s.gan_kimg``."""
    from synthmed.gan.run import GanRun
    from synthmed.gan.train import TrainConfig, train_gan

    root = work / f"gan-{arch}"
    previous = GanRun.latest_resumable(root)
    if previous is not None:
        nimg = previous.images_seen()
        if nimg >= round(s.gan_kimg * 1000):
            return previous.path
        log(f"resume {arch} from {nimg / 1000:.3f} kimg")
        return train_gan(TrainConfig(resume=str(previous.path), kimg=s.gan_kimg, progress=False))
    log(f"train {arch} on {data} for {s.gan_kimg} kimg")
    snapshot = max(s.gan_kimg / 10, 0.008)
    return train_gan(TrainConfig(data=str(data), arch=arch, out=str(root), kimg=s.gan_kimg, width=s.gan_width,
                                 batch=s.gan_batch, snapshot_kimg=snapshot, tick_kimg=snapshot, progress=False))


def synthetic_sets(work: Path, ph2: Path, binary: Path, s: Setting) -> dict[str, Path]:
    from synthmed.lesion.generate import generate_from_masks
    from synthmed.lesion.inject import InjectOptions, inject_dataset

    out = {"pix2pix": work / "syn-pix2pix", "inject": work / "syn-inject"}
    if not PreparedDataset.exists(out["pix2pix"]):
        run = gan_run(work, "pix2pix", ph2, s)
        log("generate pix2pix images for the train masks")
        generate_from_masks(run, f"{ph2}:train", out["pix2pix"], copies=s.copies, seed=0, progress=False)
    if not PreparedDataset.exists(out["inject"]):
        run = gan_run(work, "inject", binary, s)
        n = len(PreparedDataset.open(binary).entries("train")) * s.copies
        log(f"inject {n} lesions (melanoma and nevus in turn) over the train lesions")
        inject_dataset(run, f"{binary}:train", out["inject"],
                       InjectOptions(classes=["melanoma", "nevus"], n=n, masks=f"{binary}:train", place="replace",
                                     seed=0), progress=False)
    return out


# -- (a) segmentation ---------------------------------------------------------------------------------
def seg_tensors(spec: str) -> tuple[torch.Tensor, torch.Tensor]:
    ds, split = PreparedDataset.open_spec(spec)
    x, _ = ds.load_tensor(split)
    return x, torch.from_numpy(ds.load_masks(split)[:, None].astype(np.float32))


def dice_per_image(logits: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    from monai.metrics import compute_dice

    pred = (logits > 0).float()
    return compute_dice(pred, target, include_background=True, ignore_empty=False)[:, 0].numpy()


def train_segmenter(train: list[str], val: str, test: str, seed: int, s: Setting) -> dict[str, Any]:
    """A MONAI U-Net (Dice + BCE, Adam 1e-3, random flips, batch 16); the best validation epoch's test Dice per
    image. ``train[0]`` is the real set, which fixes the number of steps per epoch."""
    from monai.losses import DiceCELoss
    from monai.networks.nets import UNet

    torch.manual_seed(seed)
    parts = [seg_tensors(spec) for spec in train]
    x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    xv, yv = seg_tensors(val)
    xt, yt = seg_tensors(test)
    net = UNet(spatial_dims=2, in_channels=x.shape[1], out_channels=1, channels=s.seg_channels,
               strides=(2,) * (len(s.seg_channels) - 1), num_res_units=2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = DiceCELoss(sigmoid=True)
    gen = torch.Generator().manual_seed(seed)
    # Equal optimizer steps in every arm: an "epoch" is the real-only arm's batches, drawn from the arm's whole
    # training set (more data, not more training, is what a synthetic arm may add).
    steps = -(-len(parts[0][0]) // SEG_BATCH)
    stream = torch.cat([torch.randperm(len(x), generator=gen) for _ in range(-(-steps * SEG_BATCH * s.seg_epochs
                                                                              // len(x)) + 1)])
    best = (-1.0, 0, None)
    for epoch in range(1, s.seg_epochs + 1):
        net.train()
        for step in range(steps):
            start = ((epoch - 1) * steps + step) * SEG_BATCH
            idx = stream[start:start + SEG_BATCH]
            xb, yb = x[idx], y[idx]
            for dim in (2, 3):  # the same random flip for image and mask
                flip = torch.rand(len(idx), generator=gen) < 0.5
                xb[flip], yb[flip] = xb[flip].flip(dim), yb[flip].flip(dim)
            opt.zero_grad()
            loss_fn(net(xb), yb).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            val_dice = float(dice_per_image(net(xv), yv).mean())
        if val_dice > best[0]:
            best = (val_dice, epoch, {k: v.clone() for k, v in net.state_dict().items()})
    net.load_state_dict(best[2])
    net.eval()
    with torch.no_grad():
        test_dice = dice_per_image(net(xt), yt)
    return {"val_dice": best[0], "best_epoch": best[1], "test_dice": test_dice.round(5).tolist(),
            "n_train": len(x), "epochs": s.seg_epochs, "steps_per_epoch": steps}


def segmentation(work: Path, results: Path, ph2: Path, syn: dict[str, Path], s: Setting) -> dict[str, Any]:
    train = {"real": [f"{ph2}:train"], "real+pix2pix": [f"{ph2}:train", f"{syn['pix2pix']}:train"],
             "real+inject": [f"{ph2}:train", f"{syn['inject']}:train"]}
    per: dict[str, list[np.ndarray]] = {}
    for arm in ARMS:
        for seed in s.seeds:
            unit = results / "segmentation" / f"{arm}-s{seed}.json"
            if not unit.is_file():
                log(f"segmentation {arm} seed {seed}")
                from synthmed.utils.atomic import write_json

                write_json(unit, {"arm": arm, "seed": seed, **train_segmenter(train[arm], f"{ph2}:val", f"{ph2}:test",
                                                                               seed, s)})
            per.setdefault(arm, []).append(np.array(json.loads(unit.read_text())["test_dice"]))
    return segmentation_table(per, s)


def segmentation_table(per: dict[str, list[np.ndarray]], s: Setting, n_boot: int = 10000) -> dict[str, Any]:
    from scipy import stats

    from synthmed.stats.multiple import holm

    rng = np.random.default_rng(0)
    rows, tests = [], []
    base = np.mean(per["real"], axis=0)  # seed-averaged Dice per test image
    for arm in ARMS:
        runs = np.array(per[arm])
        avg = runs.mean(axis=0)
        ci = stats.bootstrap((avg,), np.mean, n_resamples=n_boot, random_state=rng).confidence_interval
        row = {"arm": arm, "dice": float(avg.mean()), "ci": [float(ci.low), float(ci.high)],
               "seed_sd": float(runs.mean(axis=1).std(ddof=1)) if len(runs) > 1 else None, "seeds": len(runs)}
        if arm != "real":
            diff = avg - base
            dci = stats.bootstrap((diff,), np.mean, n_resamples=n_boot, random_state=rng).confidence_interval
            p = float(stats.wilcoxon(avg, base).pvalue) if np.any(diff != 0) else 1.0
            row.update(diff=float(diff.mean()), diff_ci=[float(dci.low), float(dci.high)], p_wilcoxon=p)
            tests.append(row)
        rows.append(row)
    adjusted, reject = holm([r["p_wilcoxon"] for r in tests])
    for r, p, rej in zip(tests, adjusted, reject, strict=True):
        r.update(p_holm=p, significant=rej)
    return {"rows": rows, "n_test": len(base), "setting": s.__dict__}


# -- (b) classification -------------------------------------------------------------------------------
def classification(work: Path, results: Path, binary: Path, syn: dict[str, Path], s: Setting) -> dict[str, Any]:
    from synthmed.classify.experiment import run_experiment
    from synthmed.stats.compare import compare_results

    out = work / "cls"
    rows = run_experiment(str(binary), f"{syn['inject']}:train", out, ratios=(0, 50, 100), sources=("real", "mixed"),
                          seeds=list(s.seeds), arch="cnn", epochs=s.cls_epochs, progress=False, echo=log,
                          positive_class="melanoma")
    compared = compare_results(out, out=results / "classification.json")
    cells: dict[str, list[float]] = {}
    for r in rows:
        cells.setdefault(f"{r['source']} {r['ratio']:g}%", []).append(r["metrics"]["auc"])
    table = [{"cell": k, "auc_mean": float(np.mean(v)), "auc_sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
              "seeds": len(v)} for k, v in sorted(cells.items())]
    comparisons = [{"name": c["name"], "delta_auc": c["ensemble"]["delong"]["diff"],
                    "ci": c["ensemble"]["delong"].get("ci_diff"), "p_delong": c["p_delong"], "p_holm": c["p_holm"],
                    "verdict": c["verdict"]} for c in compared["comparisons"]]
    return {"cells": table, "comparisons": comparisons}


def markdown(seg: dict[str, Any], cls: dict[str, Any]) -> str:
    lines = ["## (a) Segmentation: Dice on the real PH2 test split", "",
             f"{seg['n_test']} test images, {seg['rows'][0]['seeds']} seeds; 95 % bootstrap CI over test images; "
             "paired test against real-only (Wilcoxon on seed-averaged Dice per image, Holm).", "",
             "| training data | Dice | 95 % CI | sd over seeds | Δ vs real | Δ 95 % CI | p (Holm) |",
             "|---|---|---|---|---|---|---|"]
    for r in seg["rows"]:
        sd = f"{r['seed_sd']:.3f}" if r["seed_sd"] is not None else "–"
        extra = (f"{r['diff']:+.3f} | [{r['diff_ci'][0]:+.3f}, {r['diff_ci'][1]:+.3f}] | {r['p_holm']:.3g}"
                 if "diff" in r else "– | – | –")
        lines.append(f"| {r['arm']} | {r['dice']:.3f} | [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | {sd} | {extra} |")
    lines += ["", "## (b) Classification: melanoma vs nevus, real vs real + injected", "",
              "| cell | AUC (mean over seeds) | sd | seeds |", "|---|---|---|---|"]
    for c in cls["cells"]:
        sd = f"{c['auc_sd']:.3f}" if c["auc_sd"] is not None else "–"
        lines.append(f"| {c['cell']} | {c['auc_mean']:.3f} | {sd} | {c['seeds']} |")
    lines += ["", "| comparison | ΔAUC | 95 % CI | p DeLong | p Holm | verdict |", "|---|---|---|---|---|---|"]
    for c in cls["comparisons"]:
        ci = c.get("ci") or [None, None]
        fmt = (lambda v: "–" if v is None else f"{v:.3g}")  # noqa: E731
        lines.append(f"| {c['name']} | {fmt(c.get('delta_auc'))} | [{fmt(ci[0])}, {fmt(ci[1])}] | "
                     f"{fmt(c.get('p_delong'))} | {fmt(c.get('p_holm'))} | {c.get('verdict') or ''} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="A minute-long plumbing run (32 px, tiny nets).")
    parser.add_argument("--ph2", type=Path, default=PH2, help="The PH2 folder (class folders with masks).")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--seeds", default=None, help="Comma-separated seeds (default 0..4; --tiny 0,1).")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gan-kimg", type=float, default=None, help="Training length of both GANs (default 20).")
    parser.add_argument("--only-gan", choices=("pix2pix", "inject"), default=None,
                        help="Train (or resume) this GAN unit and stop: run it in a second shell to use a second "
                             "core while the main command trains the other one.")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    s = Setting.tiny() if args.tiny else Setting()
    if args.seeds:
        s.seeds = tuple(int(x) for x in args.seeds.split(","))
    if args.gan_kimg:
        s.gan_kimg = args.gan_kimg
    work = args.work or HERE / "_out" / ("lesion-tiny" if args.tiny else "lesion")
    results = args.results or (work / "results" if args.tiny else HERE / "results" / "lesion")
    work.mkdir(parents=True, exist_ok=True)
    ph2 = prepared(work, args.ph2, s.resolution)
    binary = derived(ph2, work / f"ph2bin-{s.resolution}", ["melanoma", "nevus"], {n: "nevus" for n in NEVUS})
    if args.only_gan:
        log(f"{args.only_gan}: {gan_run(work, args.only_gan, ph2 if args.only_gan == 'pix2pix' else binary, s)}")
        return
    syn = synthetic_sets(work, ph2, binary, s)
    seg = segmentation(work, results, ph2, syn, s)
    cls = classification(work, results, binary, syn, s)
    from synthmed.utils.atomic import write_json, write_text

    write_json(results / "lesion_study.json", {"segmentation": seg, "classification": cls})
    text = markdown(seg, cls)
    write_text(results / "lesion_study.md", text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
