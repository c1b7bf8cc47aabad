"""GPU readiness: the CUDA paths in one short run, one JSON object on stdout (progress lines on stderr).

1. the tests marked ``cuda`` (``pytest -m cuda tests``): AMP with bf16 and with fp16 and its grad scaler,
   a CUDA checkpoint generating on the CPU, DDP over NCCL in one process;
2. GAN training speed of each family in ``--families`` (default ``stylegan2,ddpm``; a family that is not
   registered is skipped with a line) at 128 px with the paper-size networks, in s/kimg, against the
   official StyleGAN2-ADA figure (6.79 s/kimg on one A100 at 128 px) and against this project's CPU figures
   (``benchmarks/README.md``) and a CPU measurement at width 32 on the same machine;
3. AMP against fp32 on one fixed batch: the relative difference of G's images, of D's logits and the
   cosine similarity of D's gradients, per family and AMP dtype (bf16, and fp16 on CUDA).

Without a GPU, or with ``--dry-run``, everything runs small on the CPU (32 px, width 16, one timed iteration,
CPU autocast in bf16) so that the script itself is checked where there is no GPU; its numbers then say
nothing about a GPU and the JSON says so (``"mode": "dry-run"``).

    benchmarks/gpu_check.sh                 # on a GPU machine: at most 8 minutes
    benchmarks/gpu_check.sh --dry-run       # anywhere: about a minute on a CPU
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# StyleGAN2-ADA (Karras et al. 2020), official PyTorch implementation's README: training speed on one A100
# at 128x128.
OFFICIAL_STYLEGAN2_ADA = {"gpu": "A100", "resolution": 128, "s_per_kimg": 6.79}
# This project's CPU figures (benchmarks/README.md, 2026-12-01: 2-core Xeon, one thread, batch 32, width 32):
# StyleGAN2 at 64 px, images per second shown to D. There is none at 128 px (days per run on a CPU).
CPU_README = {"stylegan2": {"resolution": 64, "width": 32, "img_per_sec": 10.0},
              "dcgan": {"resolution": 64, "width": 32, "img_per_sec": 104.0}}
# AMP is accepted when G's images differ from fp32 by at most this relative L2 error, D's logits too, and D's
# gradients point the same way (cosine at least GRAD_COSINE): bf16 keeps 8 bits of mantissa (0.4 % per value),
# errors that grow through a dozen layers but not past a few percent.
AMP_TOLERANCE = {"bfloat16": 0.05, "float16": 0.01}
GRAD_COSINE = 0.99


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- 1. the CUDA-marked tests -------------------------------------------------------------------------------
def cuda_tests(timeout: int) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", "--timeout", str(timeout),
           str(REPO / "tests")]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout + 30} s"}
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", proc.stdout)}
    ok = proc.returncode == 0 and counts.get("passed", 0) > 0
    result = {"ok": ok, "returncode": proc.returncode, **counts, "seconds": round(time.perf_counter() - start, 1)}
    if proc.returncode != 0:
        result["tail"] = (proc.stdout + proc.stderr)[-2000:]
    return result


# -- 2. training speed --------------------------------------------------------------------------------------
def registered_families() -> tuple[str, ...]:
    from synthmed.gan.archs import names

    return names()


def time_family(family: str, resolution: int, width: int | None, device: str, iters: int, warmup: int,
                root: Path) -> dict:
    """s/kimg of the real training iteration (benchmarks/train_speed.py's ``measure``)."""
    sys.path.insert(0, str(HERE))
    from train_speed import measure

    args = argparse.Namespace(channels=1, batch=32, width=width, aug="none", ada_ops="default", compile=False,
                              device=device, critic_norm=None, warmup=warmup, iters=iters, ddpm="{}",
                              sample_batch=32, sample_steps=25, guidance="1")
    r = measure(family, resolution, args, root)
    return {"device": device, "resolution": resolution, "width": width or "paper", "batch": 32,
            "img_per_sec": round(r["img_per_sec"], 2), "s_per_kimg": round(1000 / r["img_per_sec"], 2),
            "amp_dtype": r["amp_dtype"], "peak_mem_mib": round(r["peak_mem_mib"])}


def speed(families: list[str], gpu: bool, root: Path) -> dict:
    out: dict = {}
    known = registered_families()
    for family in families:
        if family not in known:
            log(f"skip {family}: not a registered GAN family (registered: {', '.join(known)})")
            out[family] = {"skipped": "not a registered family"}
            continue
        log(f"timing {family} ...")
        try:
            if gpu:
                runs = {"gpu": time_family(family, 128, None, "cuda", 20, 5, root),
                        "gpu_width32": time_family(family, 128, 32, "cuda", 20, 5, root),
                        "cpu_width32": time_family(family, 128, 32, "cpu", 1, 1, root)}
                runs["speedup_width32"] = round(runs["cpu_width32"]["s_per_kimg"] / runs["gpu_width32"]["s_per_kimg"],
                                                1)
            else:
                runs = {"cpu_dry_run": time_family(family, 32, 16, "cpu", 1, 1, root)}
        except Exception as exc:  # one family's failure is a finding to report, not the end of the check
            log(f"{family}: timing failed: {type(exc).__name__}: {exc}")
            runs = {"error": f"{type(exc).__name__}: {exc}"}
        if family == "stylegan2" and gpu and "gpu" in runs:
            runs["official_a100"] = OFFICIAL_STYLEGAN2_ADA
            runs["ratio_to_official"] = round(runs["gpu"]["s_per_kimg"] / OFFICIAL_STYLEGAN2_ADA["s_per_kimg"], 2)
        if family in CPU_README:
            runs["cpu_readme"] = CPU_README[family]
        out[family] = runs
    return out


# -- 3. AMP against fp32 ------------------------------------------------------------------------------------
def _networks(family: str, resolution: int, width: int | None, device: str, root: Path):
    sys.path.insert(0, str(HERE))
    from train_speed import synthetic_dataset

    from synthmed.gan.train import TrainConfig, plan_run

    cfg = TrainConfig(data=str(synthetic_dataset(root, resolution, 1)), arch=family, out=str(root / "runs"),
                      batch=8, kimg=1.0, width=width, device=device, progress=False)
    plan = plan_run(cfg)
    from synthmed.gan.networks import build_networks

    torch.manual_seed(0)
    G, D = build_networks(plan.cfg.arch, plan.cfg.resolution, plan.meta["channels"], plan.meta["num_classes"],
                          plan.cfg.cond, **dict(plan.meta["net_kwargs"]))
    return G.to(device).eval(), D.to(device).train(), plan.meta


def _generate(G: torch.nn.Module, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    try:
        return G(z, labels, noise_mode="const")  # StyleGAN2: no per-pixel noise, so both passes see the same
    except TypeError:
        return G(z, labels)


def amp_versus_fp32(family: str, dtype: torch.dtype, device: str, resolution: int, width: int | None,
                    root: Path) -> dict:
    G, D, meta = _networks(family, resolution, width, device, root)
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(8, meta["z_dim"], generator=gen).to(device)
    labels = torch.arange(8).remainder(meta["num_classes"]).to(device)

    def run(amp: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        D.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=dtype, enabled=amp):
            with torch.no_grad():
                img = _generate(G, z, labels)
            logits = D(img, labels)
        torch.nn.functional.softplus(-logits.float()).mean().backward()
        grad = torch.cat([p.grad.flatten().float() for p in D.parameters() if p.grad is not None])
        return img.detach().float(), logits.detach().float(), grad

    img32, log32, g32 = run(False)
    img_a, log_a, g_a = run(True)

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a - b).norm() / b.norm().clamp_min(1e-12))

    out = {"images_rel_l2": rel(img_a, img32), "logits_rel_l2": rel(log_a, log32),
           "grad_cosine": float(torch.nn.functional.cosine_similarity(g_a, g32, dim=0))}
    tol = AMP_TOLERANCE[str(dtype).removeprefix("torch.")]
    out = {k: round(v, 5) for k, v in out.items()}
    out["ok"] = out["images_rel_l2"] <= tol and out["logits_rel_l2"] <= tol and out["grad_cosine"] >= GRAD_COSINE
    out["tolerance"] = tol
    return out


def amp(families: list[str], gpu: bool, root: Path) -> dict:
    device = "cuda" if gpu else "cpu"
    dtypes = [torch.bfloat16, torch.float16] if gpu else [torch.bfloat16]
    out: dict = {}
    known = registered_families()
    for family in families:
        if family not in known:
            continue  # said once, by the speed section
        for dtype in dtypes:
            key = f"{family}/{str(dtype).removeprefix('torch.')}"
            log(f"AMP check {key} ...")
            try:
                out[key] = amp_versus_fp32(family, dtype, device, 128 if gpu else 32, None if gpu else 16, root)
            except Exception as exc:
                log(f"{key}: AMP check failed: {type(exc).__name__}: {exc}")
                out[key] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="Small, on the CPU, even where a GPU exists.")
    parser.add_argument("--families", default="stylegan2,ddpm", help="GAN families to time, comma-separated; "
                        "one that is not registered is skipped with a line.")
    parser.add_argument("--amp-families", default="stylegan2,dcgan", help="Families for the AMP check.")
    parser.add_argument("--tests-timeout", type=int, default=180, help="Seconds for the CUDA-marked tests.")
    parser.add_argument("--skip-tests", action="store_true", help="Leave out the CUDA-marked tests.")
    args = parser.parse_args()
    gpu = torch.cuda.is_available() and not args.dry_run
    start = time.perf_counter()
    report: dict = {
        "mode": "gpu" if gpu else "dry-run",
        "device": torch.cuda.get_device_name(0) if gpu else (platform.processor() or platform.machine()),
        "torch": torch.__version__, "cuda": torch.version.cuda,
        "bf16_supported": bool(gpu and torch.cuda.is_bf16_supported()),
    }
    if args.skip_tests or not gpu:
        # Without a GPU the CUDA-marked tests only skip; the suite runs them (skipped) anyway.
        report["cuda_tests"] = {"skipped": "--skip-tests" if args.skip_tests else "no GPU (dry run)"}
    else:
        log("CUDA-marked tests ...")
        report["cuda_tests"] = cuda_tests(args.tests_timeout)
    with tempfile.TemporaryDirectory(prefix="synthmed-gpu-check-") as tmp:
        report["speed"] = speed([f for f in args.families.split(",") if f], gpu, Path(tmp))
        report["amp"] = amp([f for f in args.amp_families.split(",") if f], gpu, Path(tmp))
    report["ok"] = (report["cuda_tests"].get("ok", True) and all(v.get("ok") for v in report["amp"].values())
                    and not any("error" in v for v in report["speed"].values()))
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
