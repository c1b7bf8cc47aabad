"""The GAN training engine: ``train_gan(cfg) -> run folder``.

One loop serves every GAN family registered in ``synthmed.gan.archs``; what differs between them
(networks, losses, regularisers and their schedule, D steps per G step, optimizers, data and batches,
extra state) is the family's ``Arch`` and ``Objective`` (``gan/arch.py``), so this module names none.
Every family keeps an EMA of G (``G_ema``, used for grids, checkpoints' sampling and generation) and
may augment real *and* fake images before D (DiffAugment or ADA).

Exactness: the batch order is a function of (seed, step) (``data.batch_indices``), every random
draw comes from the global RNGs whose states go into each checkpoint, and side work (grids,
metrics) runs inside ``fork_rng``; so on CPU, N steps in one go and N/2 + resume + N/2 give
identical weights. Under torchrun each rank draws its own noise (seed + rank) and its slice of the
global batch; DDP averages gradients, so the effective batch is ``batch`` whatever the world size.
"""

from __future__ import annotations

import contextlib
import math
import platform
import re
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.gan import distributed as gdist
from synthmed.gan.arch import Batch, Kit, Term
from synthmed.gan.archs import get_arch, names
from synthmed.gan.augment import AdaptiveAugment, diff_augment
from synthmed.gan.checkpoint import capture_rng, load_checkpoint, restore_rng, save_checkpoint
from synthmed.gan.data import TrainImages, batch_indices, to_model_range
from synthmed.gan.diagnostics import input_gradient_cosine
from synthmed.gan.networks import build_networks
from synthmed.gan.options import RESUME_OVERRIDABLE, TrainConfig, net_kwargs, resolve
from synthmed.gan.run import GanRun
from synthmed.gan.runlog import RunLog, save_png, tile, truncate_stats
from synthmed.utils.atomic import write_json
from synthmed.utils.device import pick_device
from synthmed.utils.runs import next_run_dir
from synthmed.utils.seeding import seed_everything

__all__ = ["TrainConfig", "plan_run", "train_gan"]

ETA_WARN_HOURS = 3  # the first tick's ETA beyond this prints a recipe that fits
MetricFn = Callable[[nn.Module, dict[str, Any]], dict[str, float]]


@dataclass
class Plan:
    """A resolved run: config, dataset, the checkpoint to resume (if any) and the run folder."""

    cfg: TrainConfig
    ds: PreparedDataset
    meta: dict[str, Any]
    run_dir: Path | None  # None until created (fresh runs)
    run_desc: str
    ckpt: dict[str, Any] | None = None
    ckpt_file: Path | None = None


# -- planning (shared with --dry-run) -----------------------------------------------------------
def plan_run(cfg: TrainConfig) -> Plan:
    """Resolve options, open the dataset, check the checkpoint; creates nothing on disk."""
    ckpt = ckpt_file = None
    run_dir = None
    if cfg.resume:
        ckpt, ckpt_file = load_checkpoint(cfg.resume, prefer="last")
        cfg = _merge_resume(cfg, TrainConfig.from_dict(ckpt["config"]))
        run_dir = ckpt_file.parent.parent if ckpt_file.parent.name == "checkpoints" else ckpt_file.parent
    if not cfg.data:
        raise SynthmedError("--data is required (a prepared dataset folder from 'synthmed prepare')")
    if not cfg.arch:
        raise SynthmedError(f"--arch is required: {', '.join(names())}")
    ds, _ = PreparedDataset.open_spec(cfg.data, "train")
    if ds.entries("train") and len(ds.entries("train")) < 2:
        raise SynthmedError(f"{ds.root}: the train split needs at least 2 images")
    cfg = resolve(cfg, ds.resolution, pick_device(cfg.device).type)
    if cfg.cond and ds.num_classes < 2:
        raise SynthmedError(f"{ds.root}: conditional training needs at least 2 classes (use --no-cond)")
    # Fail on an impossible resolution/arch pair now, before any folder is made.
    with torch.device("meta"):
        G, _ = build_networks(cfg.arch, cfg.resolution, ds.channels, ds.num_classes, cfg.cond, **net_kwargs(cfg))
    if cfg.z_dim is None:  # a family whose latent size follows from the data (a diffusion model's initial noise)
        cfg.z_dim = int(G.z_dim)
    meta = {
        "arch": cfg.arch, "classes": ds.classes, "num_classes": ds.num_classes, "cond": cfg.cond,
        "resolution": cfg.resolution, "channels": ds.channels, "z_dim": cfg.z_dim, "net_kwargs": net_kwargs(cfg),
        "train_counts": ds.class_counts("train"), "data_resolution": ds.resolution,
        "dataset": str(ds.root.absolute()), "dataset_hash": ds.content_hash,
    }
    if ckpt is not None:
        _check_resume_compatible(ckpt["meta"], meta, ckpt_file)
    name = str(ds.meta.get("source", {}).get("name") or ds.root.name)
    return Plan(cfg, ds, meta, run_dir, f"{cfg.arch}-{name}{cfg.resolution}", ckpt, ckpt_file)


def _merge_resume(given: TrainConfig, saved: TrainConfig) -> TrainConfig:
    out = TrainConfig.from_dict(saved.to_dict())
    defaults = TrainConfig()
    for name in RESUME_OVERRIDABLE:
        value = getattr(given, name)
        if value != getattr(defaults, name):
            setattr(out, name, value)
    if given.arch and given.arch != saved.arch:
        raise SynthmedError(f"--resume: the run was trained with --arch {saved.arch}, not {given.arch}")
    if given.resolution is not None and given.resolution != saved.resolution:  # its networks' size: say so
        raise SynthmedError(f"--resume: the run trains at --resolution {saved.resolution}, not "
                            f"{given.resolution} (start a new run for another size)")
    out.data = given.data or saved.data
    out.resume = given.resume
    return out


def _check_resume_compatible(old: dict[str, Any], new: dict[str, Any], file: Path | None) -> None:
    if len(old["classes"]) != len(new["classes"]):
        raise SynthmedError(f"{file}: class count mismatch: the checkpoint has {len(old['classes'])} classes, "
                            f"the dataset {new['dataset']} has {len(new['classes'])}")
    for key in ("channels", "resolution"):
        if old[key] != new[key]:
            raise SynthmedError(f"{file}: {key} mismatch: checkpoint {old[key]}, now {new[key]}")
    # The same data by content, wherever it lies now: another dataset (even with as many classes) would
    # silently train the checkpoint on other images. Checkpoints from before the hash was recorded pass.
    if old.get("dataset_hash") and old["dataset_hash"] != new["dataset_hash"]:
        raise SynthmedError(f"{file}: the run was trained on another dataset ({old.get('dataset')}, content hash "
                            f"{old['dataset_hash'][:12]}); {new['dataset']} has {new['dataset_hash'][:12]} "
                            "(resume with the run's own data, or start a new run)")


def peek_run_dir(out: str | Path, desc: str) -> Path:
    """The folder ``next_run_dir`` would create (for --dry-run, which creates nothing)."""
    root = Path(out)
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := re.match(r"^(\d{5})-", p.name))] \
        if root.is_dir() else []
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", desc).strip("-") or "run"
    return root / f"{max(numbers, default=-1) + 1:05d}-{safe}"


# -- entry point --------------------------------------------------------------------------------
def train_gan(cfg: TrainConfig, metric_fn: MetricFn | None = None) -> Path:
    """Train (or resume) a GAN; return the run folder. Works alone or under ``torchrun`` (DDP).

    A fresh run's folder is made only once the data is read and the networks are built, so a run that cannot
    start (a missing image, an impossible option) leaves nothing behind.
    """
    started = time.time()
    device = pick_device(cfg.device)
    d = gdist.init_distributed(device.type)
    if d.enabled and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    plan = plan_run(cfg)
    if plan.cfg.batch % d.world_size or plan.cfg.batch // d.world_size < 2:
        raise SynthmedError(f"--batch {plan.cfg.batch} must split into at least 2 images per process "
                            f"over {d.world_size} processes")
    trainer = Trainer(plan, d, device, metric_fn)
    if plan.run_dir is None:
        made = next_run_dir(plan.cfg.out, plan.run_desc) if d.is_main else None
        plan.run_dir = Path(gdist.broadcast_object(str(made) if made else None, d))
    trainer.start(plan.run_dir, started)
    result = trainer.run()
    gdist.shutdown(d)  # on success only: see its docstring
    return result


# -- the trainer --------------------------------------------------------------------------------
class Trainer:
    """Set up in ``__init__`` (networks, data, checkpoint state; nothing on disk), then ``start(run_dir)`` opens
    the run folder's log and options, then ``run()`` trains."""

    def __init__(self, plan: Plan, d: gdist.Dist, device: torch.device, metric_fn: MetricFn | None) -> None:
        self.plan, self.cfg, self.d, self.device = plan, plan.cfg, d, device
        self.run_dir: Path = plan.run_dir  # type: ignore[assignment]
        self.metric_fn = metric_fn
        self.log: RunLog | None = None
        self._setup_precision()
        self.family = get_arch(self.cfg.arch)
        self._build()
        self.data = self._load_data()
        self.objective.kit.data = self.data
        self.nimg, self.best = 0, {"name": None, "value": None, "nimg": None}
        self.stop_requested = False
        self.ticked = False  # the first tick of this process measures the speed for the ETA check
        self.side_seconds = 0.0  # metric and snapshot time, left out of img/s
        self.rng_replayed = True
        if plan.ckpt is not None:
            self._restore(plan.ckpt)
        else:
            seed_everything(self.cfg.seed + d.rank)  # noise differs per rank; the weights were seeded alike

    def start(self, run_dir: Path, started: float) -> None:
        """Open the run folder (log, options.json); on resume, drop what a killed run left half-written."""
        self.run_dir = run_dir
        if self.d.is_main:
            self.log = RunLog(self.run_dir, echo=self._echo)
            if self.plan.ckpt is not None:
                self._clean_after_kill(started)
        if self.plan.ckpt is None:
            self.objective.before_training(self.data, self._batch)
        self._write_options()

    # setup ------------------------------------------------------------------------------------
    def _setup_precision(self) -> None:
        cuda = self.device.type == "cuda"
        self.amp_dtype = None
        if cuda and self.cfg.amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if cuda:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = True
        self.memory_format = torch.channels_last if cuda else torch.contiguous_format

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _build(self) -> None:
        cfg, meta = self.cfg, self.plan.meta
        seed_everything(cfg.seed)  # same initial weights on every rank
        G, D = build_networks(cfg.arch, cfg.resolution, meta["channels"], meta["num_classes"], cfg.cond,
                              **dict(meta["net_kwargs"]))
        G_ema, _ = build_networks(cfg.arch, cfg.resolution, meta["channels"], meta["num_classes"], cfg.cond,
                                  **dict(meta["net_kwargs"]))
        G_ema.load_state_dict(G.state_dict())
        self.G = G.to(self.device, memory_format=self.memory_format).train()
        # D is None for a family without a discriminator (its objective has no D steps and no D optimizer).
        self.D = D.to(self.device, memory_format=self.memory_format).train() if D is not None else None
        self.G_ema = G_ema.to(self.device).eval().requires_grad_(False)
        self.G_ddp = gdist.wrap(self.G, self.d, self.device)
        self.D_ddp = gdist.wrap(self.D, self.d, self.device) if D is not None else None
        self.G_fwd, self.G_train = self.G, self.G_ddp
        if cfg.compile:  # the generator only: R1 / GP need double backward through D, which compile lacks
            self.G_fwd, self.G_train = torch.compile(self.G), torch.compile(self.G_ddp)
        fp16 = self.amp_dtype == torch.float16
        self.scaler_G = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.scaler_D = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.ada = None
        if cfg.aug == "ada":
            self.ada = AdaptiveAugment(cfg.ada_ops, target=cfg.ada_target, ada_kimg=cfg.ada_kimg).to(self.device)
        kit = Kit(G=self.G, D=self.D, G_fwd=self.G_fwd, G_train=self.G_train, D_train=self.D_ddp, device=self.device,
                  augment=self._augment, observe_real=self._observe_real, autocast=self._autocast,
                  log=lambda text: self.log.line(text) if self.log else None)
        self.objective = self.family.objective(cfg, kit)
        self.opt_G, self.opt_D = self.objective.optimizers()

    def _load_data(self) -> TrainImages:
        data = self.family.load_data(self.plan.ds, self.cfg.resolution)
        if self.device.type == "cuda":
            data = data.to(self.device)
        return data

    def _observe_real(self, logits: torch.Tensor) -> None:
        if self.ada is not None:
            self.ada.accumulate(logits)

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.aug == "diffaug":
            return diff_augment(x, self.cfg.diffaug_policy)
        if self.ada is not None:
            return self.ada(x)
        return x

    # checkpoint state ---------------------------------------------------------------------------
    def _state(self, rng: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "config": self.cfg.to_dict(), "meta": self.plan.meta, "nimg": self.nimg,
            "G": self.G.state_dict(), "D": _state_of(self.D), "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(), "opt_D": _state_of(self.opt_D),
            "scaler_G": self.scaler_G.state_dict(), "scaler_D": self.scaler_D.state_dict(),
            "ada": self.ada.state_dict() if self.ada is not None else None,
            "ada_p": float(self.ada.p) if self.ada is not None else 0.0,
            "objective": self.objective.state_dict(),
            "rng": rng, "world_size": self.d.world_size, "best": self.best,
        }

    def _restore(self, ck: dict[str, Any]) -> None:
        self.G.load_state_dict(ck["G"])
        self.G_ema.load_state_dict(ck["G_ema"])
        self.opt_G.load_state_dict(ck["opt_G"])
        if self.D is not None:
            self.D.load_state_dict(ck["D"])
            self.opt_D.load_state_dict(ck["opt_D"])
        self.scaler_G.load_state_dict(ck["scaler_G"])
        self.scaler_D.load_state_dict(ck["scaler_D"])
        if self.ada is not None and ck.get("ada") is not None:
            self.ada.load_state_dict(ck["ada"])
        self.objective.load_state_dict(ck.get("objective") or {})
        self.nimg, self.best = int(ck["nimg"]), dict(ck.get("best") or self.best)
        rng = ck.get("rng") or []
        self.rng_replayed = len(rng) == self.d.world_size
        if self.rng_replayed:
            restore_rng(rng[self.d.rank])
        else:  # a different number of processes cannot replay the old streams; start fresh ones
            seed_everything(self.cfg.seed + self.d.rank + self.nimg)

    def _clean_after_kill(self, started: float) -> None:
        """Stats past the checkpoint we continue from, and temp files of writes a kill interrupted, go."""
        truncate_stats(self.run_dir, self.nimg)
        self.log.line(f"resumed from {self.plan.ckpt_file} at {self.nimg / 1000:.3f} kimg"
                      + ("" if self.rng_replayed else " (world size changed: RNG re-seeded)"))
        removed = GanRun(self.run_dir).remove_stale_temp_files(before=started)
        if removed:
            self.log.line(f"removed {len(removed)} temp file(s) of writes a killed run left unfinished: "
                          + ", ".join(str(p.relative_to(self.run_dir)) for p in removed))

    def _write_options(self) -> None:
        if not self.d.is_main:
            return
        info = {**self.cfg.to_dict(), "run_dir": str(self.run_dir), "world_size": self.d.world_size,
                "device": str(self.device), "amp_dtype": str(self.amp_dtype) if self.amp_dtype else None,
                "torch": torch.__version__, "python": platform.python_version(),
                "dataset_hash": self.plan.meta["dataset_hash"], "classes": self.plan.meta["classes"],
                "train_counts": self.plan.meta["train_counts"]}
        if self.plan.ckpt_file is not None:
            info["resumed_from"] = str(self.plan.ckpt_file)
            info["resumed_at_kimg"] = self.nimg / 1000
        write_json(self.run_dir / "options.json", info)

    # one training iteration -------------------------------------------------------------------
    def _batch(self, batch_idx: int) -> Batch:
        idx = batch_indices(len(self.data), self.cfg.batch, batch_idx, self.cfg.seed, self.d.rank,
                            self.d.world_size).to(self.data.images.device)
        return self.family.batch(self.data, idx, self.device, self.memory_format)

    def _d_step(self, batch_idx: int) -> tuple[dict[str, torch.Tensor], Batch]:
        batch = self._batch(batch_idx)
        terms = self.objective.d_terms(batch, batch_idx)
        self.opt_D.zero_grad(set_to_none=True)
        stats = self._backward(terms, self.D_ddp, self.scaler_D, "loss_D")
        self.scaler_D.step(self.opt_D)
        self.scaler_D.update()
        return stats, batch

    def _g_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        if self.D is not None:
            self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        stats = self._backward(self.objective.g_terms(batch), self.G_ddp, self.scaler_G, "loss_G")
        self.scaler_G.step(self.opt_G)
        self.scaler_G.update()
        if self.D is not None:
            self.D.requires_grad_(True)
        return stats

    def _backward(self, terms: list[Term], ddp: nn.Module, scaler: torch.amp.GradScaler,
                  total_name: str) -> dict[str, torch.Tensor]:
        """Backpropagate each term in turn (under DDP, gradients are synchronised on the last one only); return
        the step's statistics: the sum of the ``total`` terms under ``total_name`` and the ``log`` ones by name."""
        if not terms:
            raise SynthmedError(f"{self.cfg.arch}: its objective returned no {total_name} terms")
        total: torch.Tensor | None = None
        logged: dict[str, torch.Tensor] = {}
        for i, term in enumerate(terms):
            with gdist.no_sync(ddp, sync=i == len(terms) - 1):
                value = term.loss()
                parts = dict(value) if isinstance(value, dict) else {"loss": value}
                loss = parts.pop("loss")
                scaler.scale(loss).backward()
            loss = loss.detach()
            if term.total:
                total = loss if total is None else total + loss
            if term.log:
                logged[term.name] = loss
            logged.update({k: v.detach() for k, v in parts.items()})
        return {total_name: total if total is not None else torch.zeros((), device=self.device), **logged}

    @torch.no_grad()
    def _update_ema(self, step_nimg: int) -> None:
        beta = ema_beta(step_nimg, self.cfg.ema_kimg, self.nimg, self.cfg.ema_rampup)
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    def _iteration(self) -> dict[str, torch.Tensor]:
        """The objective's D steps (n_critic for WGAN-GP), then one G step and the EMA update. An objective with
        no D steps (a family without D) gives its G step a batch of its own, which counts as the images seen."""
        n_d = self.objective.d_steps
        stats: dict[str, torch.Tensor] = {}
        for _ in range(n_d):
            batch_idx = self.nimg // self.cfg.batch
            stats, batch = self._d_step(batch_idx)
            self.nimg += self.cfg.batch
            if self.ada is not None and (batch_idx + 1) % self.cfg.ada_interval == 0:
                self.ada.step()
        if not n_d:
            batch = self._batch(self.nimg // self.cfg.batch)
            self.nimg += self.cfg.batch
        g_stats = self._g_step(batch)
        self._update_ema(self.cfg.batch * max(n_d, 1))
        return {**stats, **g_stats}

    # the loop ---------------------------------------------------------------------------------
    def run(self) -> Path:
        cfg = self.cfg
        total = math.ceil(cfg.kimg * 1000)
        if self.log:
            cond = f"conditional on {self.plan.meta['num_classes']} classes" if cfg.cond else "unconditional"
            self.log.line(f"training {cfg.arch} at {cfg.resolution}x{cfg.resolution}, {self.plan.meta['channels']} "
                          f"channel(s), {cond}, "
                          f"{len(self.data)} train images x{self.d.world_size} process(es) on {self.device}; "
                          f"{self.nimg / 1000:.3f} -> {total / 1000:.3f} kimg, batch {cfg.batch}, aug {cfg.aug}, "
                          f"{self._sizing()}")
            if cfg.metric_every_kimg and self.metric_fn is None:
                self.log.line("no fidelity metric function available: best.pt is the last checkpoint")
            if self.plan.ckpt is None:
                self._save_reals_grid()
        bar = tqdm(total=total, initial=min(self.nimg, total), unit="img", unit_scale=True, dynamic_ncols=True,
                   desc=cfg.arch, disable=not (cfg.progress and self.d.is_main))
        acc: dict[str, float] = {}
        n_acc, tick_start, tick_nimg = 0, time.time(), self.nimg
        interrupted = False
        with self._sigint_guard():
            while self.nimg < total:
                if gdist.any_rank(self.stop_requested, self.d, self.device):
                    interrupted = True
                    break
                prev = self.nimg
                stats = self._iteration()
                for k, v in stats.items():
                    acc[k] = acc.get(k, 0.0) + float(v)
                n_acc += 1
                bar.update(min(self.nimg, total) - min(prev, total))
                done = self.nimg >= total
                metrics = self._maybe_metric(prev, done)
                if _crossed(prev, self.nimg, cfg.tick_kimg) or done or metrics:
                    record = self._tick_record(acc, n_acc, tick_start, tick_nimg, metrics)
                    bar.set_postfix(kimg=f"{record['kimg']:.1f}",
                                    **{k: f"{record[k]:.3f}" for k in ("loss_G", "loss_D") if k in record})
                    acc, n_acc, tick_start, tick_nimg = {}, 0, time.time(), self.nimg
                if _crossed(prev, self.nimg, cfg.snapshot_kimg) or done:
                    self._snapshot(metrics)
        bar.close()
        if interrupted:
            self._snapshot(None)
            if self.log:
                self.log.line(f"interrupted at {self.nimg / 1000:.3f} kimg: checkpoint written; "
                              f"continue with --resume {self.run_dir}")
                self.log.close()
            raise KeyboardInterrupt
        if self.log:
            self.log.line(f"done: {self.nimg / 1000:.3f} kimg; run folder {self.run_dir}")
            self.log.close()
        return self.run_dir

    def _tick_record(self, acc: dict[str, float], n: int, t0: float, nimg0: int,
                     metrics: dict[str, float] | None) -> dict[str, Any]:
        dt = max(time.time() - t0 - self.side_seconds, 1e-9)
        self.side_seconds = 0.0
        losses = ("loss_G", "loss_D") if self.D is not None else ("loss_G",)
        means = gdist.mean_over_ranks([acc.get(k, 0.0) / max(n, 1) for k in losses], self.d, self.device)
        record: dict[str, Any] = {"kimg": round(self.nimg / 1000, 3), **dict(zip(losses, means, strict=True))}
        for k in acc:  # the objective's logged terms (gp, r1, ...)
            if k not in ("loss_G", "loss_D"):
                record[k] = acc[k] / n
        record["ada_p"] = float(self.ada.p) if self.ada is not None else 0.0
        if self.d.is_main and self.D is not None:
            record["d_grad_cos"] = self._d_gradient_cosine()
        record["img_per_sec"] = (self.nimg - nimg0) / dt
        record["sec_per_tick"] = dt
        if self.device.type == "cuda":
            record["peak_mem_gb"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        if metrics:
            record.update(metrics)
        if self.log:
            self.log.stats(record)
            self.log.line("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()))
            if not self.ticked:
                self._warn_if_long(record["img_per_sec"])
        self.ticked = True
        return record

    def _sizing(self) -> str:
        """For the first log line: the network width, and whether ``auto`` sized it (and the batch) for this device."""
        width = "the paper's width" if self.cfg.width is None else f"width {self.cfg.width}"
        if self.cfg.sized_for == "cpu":
            return f"{width} (auto: sized for a CPU; on a GPU auto gives the paper's networks)"
        if self.cfg.sized_for == "gpu":
            return f"{width} (auto: the paper's, sized for a GPU)"
        return width

    def _warn_if_long(self, img_per_sec: float) -> None:
        """One line with a recipe that fits, when the first tick says the requested kimg would take hours here."""
        left = (math.ceil(self.cfg.kimg * 1000) - self.nimg) / max(img_per_sec, 1e-9)
        if left <= ETA_WARN_HOURS * 3600:
            return
        fits = img_per_sec * ETA_WARN_HOURS * 3600 / 1000
        small = self.family.cpu_defaults.get("width")
        tips = [f"--width {small} (CPU-sized, much faster)"] if self.device.type == "cpu" and small is not None \
            and self.cfg.width != small else []
        tips.append(f"--kimg {fits:.3g} (what {ETA_WARN_HOURS} h give at this speed)")
        where = "; the paper's recipes are for a GPU" if self.device.type == "cpu" else ""
        self.log.line(f"ETA {left / 3600:.1f} h for --kimg {self.cfg.kimg:g} at {img_per_sec:.3g} img/s; to finish "
                      f"within {ETA_WARN_HOURS} h here use {' or '.join(tips)}{where}")

    def _d_gradient_cosine(self) -> float:
        """diagnostics.input_gradient_cosine on 32 fixed training images; leaves D's state as it was."""
        t0 = time.time()
        idx = torch.linspace(0, len(self.data) - 1, min(32, len(self.data))).long().to(self.data.images.device)
        probe = self.family.batch(self.data, idx, self.device, torch.contiguous_format)  # D's own condition
        buffers = {name: b.clone() for name, b in self.D.named_buffers()}  # batchnorm statistics
        value = input_gradient_cosine(self.D, probe.real, probe.cond)
        with torch.no_grad():
            for name, b in self.D.named_buffers():
                b.copy_(buffers[name])
        self.side_seconds += time.time() - t0
        return value

    def _maybe_metric(self, prev: int, done: bool) -> dict[str, float] | None:
        every = self.cfg.metric_every_kimg
        if not every or self.metric_fn is None or not (_crossed(prev, self.nimg, every) or done):
            return None
        result, t0 = None, time.time()
        if self.d.is_main:
            with _preserve_rng(self.device):
                result = {k: float(v) for k, v in self.metric_fn(self.G_ema, dict(self.plan.meta)).items()
                          if v is not None}
        result = gdist.broadcast_object(result, self.d)
        self.side_seconds += time.time() - t0
        return result

    def _snapshot(self, metrics: dict[str, float] | None) -> None:
        t0 = time.time()
        is_best = self._update_best(metrics)
        rng = gdist.gather_objects(capture_rng(), self.d)
        if self.d.is_main:
            self._save_grid()
            save_checkpoint(self._state(rng), self.run_dir / "checkpoints", self.cfg.keep_last, is_best)
        gdist.barrier(self.d)
        self.side_seconds += time.time() - t0

    def _update_best(self, metrics: dict[str, float] | None) -> bool:
        """Best by the metric (lower is better) when one is computed; otherwise best = last."""
        if self.metric_fn is None or not self.cfg.metric_every_kimg:
            return True
        if not metrics:
            return self.best["value"] is None
        name = self.cfg.best_metric if self.cfg.best_metric in metrics else next(iter(metrics))
        value = metrics[name]
        if self.best["value"] is None or value < self.best["value"]:
            self.best = {"name": name, "value": value, "nimg": self.nimg}
            return True
        return False

    def _save_grid(self) -> None:
        with _preserve_rng(self.device):
            arr = self.family.grid(self.G_ema, self.data, self.cfg,
                                   self.plan.meta["num_classes"] if self.cfg.cond else 0, self.device)
        save_png(arr, self.run_dir / "grids" / f"grid-{self.nimg / 1000:08.3f}.png")

    def _save_reals_grid(self) -> None:
        """``grids/reals.png``: real training images laid out like the sample grids, for comparison."""
        cols, rows = self.cfg.grid_cols, []
        classes = range(self.plan.meta["num_classes"]) if self.cfg.cond else [None]
        for c in classes:
            idx = torch.arange(len(self.data)) if c is None else torch.nonzero(self.data.labels.cpu() == c)[:, 0]
            rows.append(self.data.images.cpu()[idx[:cols]])
        x = to_model_range(torch.cat(rows))
        save_png(tile(x, cols), self.run_dir / "grids" / "reals.png")

    # Ctrl-C -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _sigint_guard(self):
        """First Ctrl-C: finish the step, write a checkpoint, stop. A second one stops at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True
            if self.log:
                self.log.line("Ctrl-C: stopping after this step and writing a checkpoint (again to abort)")

        old = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, old)

    def _echo(self, text: str) -> None:
        tqdm.write(text)


def _state_of(module: nn.Module | torch.optim.Optimizer | None) -> dict[str, Any] | None:
    return module.state_dict() if module is not None else None


def ema_beta(step_nimg: int, ema_kimg: float, nimg: int, rampup: float | None) -> float:
    """G_ema's decay per G step: a half-life of ``ema_kimg`` thousand images shown to D.

    ``step_nimg`` is the images one G step stands for: the batch, or ``n_critic`` batches for WGAN-GP
    (counting one batch there would stretch the half-life ``n_critic`` times). Early in training the
    half-life is at most ``rampup`` times the images seen so far, so G_ema does not hold on to the
    random initial weights.
    """
    ema_nimg = ema_kimg * 1000
    if rampup:
        ema_nimg = min(ema_nimg, nimg * rampup)
    return 0.5 ** (step_nimg / max(ema_nimg, 1e-8))


def _crossed(prev: int, now: int, every_kimg: float | None) -> bool:
    if not every_kimg:
        return False
    every = max(1, round(every_kimg * 1000))
    return now // every > prev // every


@contextlib.contextmanager
def _preserve_rng(device: torch.device):
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        yield


def read_stats(run_dir: str | Path) -> list[dict[str, Any]]:
    """The per-tick records of a run (``stats.jsonl``)."""
    return GanRun(Path(run_dir)).stats()
