"""Train one classifier: Adam, cross-entropy (class-weighted by default), early stopping on validation AUC.

In a mixed set synthetic images may count less or have smoothed targets (``classify.loss``), or come first, as a
pre-training phase before fine-tuning on the real images (``plan_phases``); the defaults train on one shuffled set.

The model folder holds ``model.pt`` (weights + everything needed to rebuild the network and apply the
validation threshold), ``config.json`` (resolved options, training-set composition, seed, versions),
``train_log.jsonl`` (one line per epoch) and ``val_predictions.csv``. It is built in a temporary folder
and renamed into place at the end, so a killed run leaves nothing half-written.
"""

from __future__ import annotations

import copy
import json
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from synthmed.classify.data import ImageSet, augmentation, balanced_sampler, class_weights
from synthmed.classify.evaluate import auc_score, predict, predict_labels, predictions_csv, youden_threshold
from synthmed.classify.loss import Loss, make_loss
from synthmed.classify.models import MODEL_FILE, build_model, count_parameters, pick_device
from synthmed.classify.options import TrainConfig
from synthmed.classify.spec import Composition, TrainSpec, parse_train_spec, resolve, round_half_up
from synthmed.dataset import PreparedDataset, check_alike
from synthmed.errors import SynthmedError
from synthmed.utils.atomic import atomic_dir, write_json, write_text
from synthmed.utils.options import validate
from synthmed.utils.seeding import seed_everything
from synthmed.utils.torchfile import torch_save


def train_classifier(train: str | TrainSpec, val: str, out: str | Path, *, overwrite: bool = False,
                     progress: bool = True, **options: Any) -> Path:
    """Train a classifier on SPEC ``train`` (see ``synthmed.classify.spec``), validate on real ``val``."""
    spec = train if isinstance(train, TrainSpec) else parse_train_spec(train)
    cfg = validate(TrainConfig, {"train": spec.to_text(), "val": str(val), **options})
    seed_everything(cfg.seed)
    comp = resolve(spec, cfg.seed)
    val_ds, val_split = PreparedDataset.open_spec(val, "val")
    _check_val(val_ds, comp)
    positive = positive_class(cfg.positive_class, comp, val_ds, val_split)
    with atomic_dir(out, overwrite=overwrite) as tmp:
        _fit(cfg, comp, val_ds, val_split, positive, tmp, progress)
    return Path(out)


def _check_val(val: PreparedDataset, comp: Composition) -> None:
    first = comp.real or comp.synthetic
    assert first is not None
    check_alike(val, first, "the training set")


def positive_class(choice: str | int | None, comp: Composition, val: PreparedDataset, val_split: str) -> int | None:
    """Binary tasks: the given class (name or index), else the minority class of the real training split."""
    classes = comp.classes
    if len(classes) != 2:
        return None
    if choice is not None and str(choice) != "":
        if str(choice) in classes:
            return classes.index(str(choice))
        if str(choice).isdigit() and int(choice) < 2:
            return int(choice)
        raise SynthmedError(f"--positive-class '{choice}' is not one of {classes}")
    counts = comp.real.labels(comp.real_split) if comp.real is not None else val.labels(val_split)
    return int(np.argmin(np.bincount(counts, minlength=2)))  # ties: the first class


def _fit(cfg: TrainConfig, comp: Composition, val_ds: PreparedDataset, val_split: str, positive: int | None,
         out: Path, progress: bool) -> None:
    device = pick_device(cfg.device)
    phases = plan_phases(cfg, comp, augmentation(cfg.augment, cfg.seed))
    val_x, val_y = val_ds.load_tensor(val_split)
    ref = comp.real or comp.synthetic
    model = build_model(cfg.arch, ref.channels, len(comp.classes), cfg.pretrained, cfg.head,  # type: ignore[union-attr]
                        resolution=ref.resolution, input_size=cfg.input_size,  # type: ignore[union-attr]
                        channel_mode=cfg.channel_mode).to(device)
    # One optimizer and one lr schedule over every epoch of every phase: under "pretrain" the run differs from the
    # "mixed" one only in the order its images come in (the same steps, the same lr at each step).
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs) if cfg.lr_schedule == "cosine" \
        else None
    gen = torch.Generator().manual_seed(cfg.seed)
    for phase in phases:
        phase.start(cfg, len(comp.classes), device, gen)
    # Steps per "epoch": the equal-steps budget's, else one pass over the whole set (under "pretrain" too, so
    # both schedules take the same steps).
    n = cfg.epoch_steps or batches_per_pass(comp.n_real + comp.n_synthetic, cfg.batch_size)
    log_lines: list[str] = []
    best = {"epoch": 0, "val_auc": -np.inf, "val_loss": np.inf, "state": None}
    start = time.perf_counter()
    epochs = tqdm(range(1, cfg.epochs + 1), desc=f"train {cfg.arch}", unit="epoch", disable=not progress)
    steps, phase_steps = 0, dict.fromkeys((p.name for p in phases), 0)
    for epoch in epochs:
        phase = phase_of(phases, epoch)
        row = _train_steps(model, phase.batches, n, phase.loss, opt, device) | {"lr": opt.param_groups[0]["lr"]}
        steps += row["steps"]
        phase_steps[phase.name] += row["steps"]
        row["steps"] = steps
        if schedule is not None:
            schedule.step()
        row["epoch"] = epoch
        if len(phases) > 1:
            row["phase"] = phase.name
        if phase.validate:
            val_probs = predict(model, val_x, 256, device)
            row |= {"val_loss": float(nn.functional.nll_loss(
                torch.log(torch.from_numpy(val_probs).clamp_min(1e-12)), val_y).item()),
                    "val_auc": auc_score(val_y.numpy(), val_probs, positive),
                    "val_accuracy": float((val_probs.argmax(1) == val_y.numpy()).mean())}
            if _improved(row, best):
                best |= {"epoch": epoch, "val_auc": row["val_auc"], "val_loss": row["val_loss"],
                         "state": copy.deepcopy(model.state_dict())}
        row["seconds"] = round(time.perf_counter() - start, 2)
        row["best_epoch"] = best["epoch"]
        log_lines.append(json.dumps(row))
        write_text(out / "train_log.jsonl", "\n".join(log_lines) + "\n")
        epochs.set_postfix(loss=f"{row['train_loss']:.3f}", val_auc=f"{row.get('val_auc', np.nan):.3f}",
                           best=best["epoch"])
        if phase.validate and cfg.patience and epoch - best["epoch"] >= cfg.patience:  # 0 or None: never stop early
            break
    model.load_state_dict(best["state"])  # type: ignore[arg-type]
    _save(cfg, comp, model, val_ds, val_split, val_x, val_y, positive,
          best | {"steps": steps, "phase_steps": phase_steps}, out, device, time.perf_counter() - start)


@dataclass
class Phase:
    """Consecutive epochs trained on one set: the whole training set, or under ``synthetic_schedule: pretrain``
    its synthetic part (``pretrain``: not validated, so never the best checkpoint) then its real part
    (``finetune``)."""

    name: str
    data: ImageSet
    epochs: int
    validate: bool
    smoothing: float = 0.0  # synthetic_smoothing where this phase's set holds synthetic images
    weight: float = 1.0  # synthetic_weight where it holds both kinds (a weight only matters beside the other kind)
    loss: Loss = field(init=False)
    batches: Iterator = field(init=False)

    def start(self, cfg: TrainConfig, num_classes: int, device: torch.device, gen: torch.Generator) -> None:
        """Loss and batches for this phase's set: class weights and the balanced sampler count its own labels."""
        labels = self.data.labels.numpy()
        weight = class_weights(labels, num_classes).to(device) if cfg.balance == "weights" else None
        self.loss = make_loss(weight, self.weight, self.smoothing)
        sampler = balanced_sampler(labels, gen) if cfg.balance == "sampler" else None
        # A last batch of one image breaks batch norm in training mode; drop it instead.
        loader = DataLoader(self.data, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
                            generator=gen, drop_last=len(self.data) % cfg.batch_size == 1)
        self.batches = _endless(loader)


def plan_phases(cfg: TrainConfig, comp: Composition, transform) -> list[Phase]:
    """The training phases of ``cfg.epochs`` epochs; a real-only or synthetic-only set ignores the synthetic_*
    options (one phase, today's training)."""
    real = (comp.real, comp.real_split, comp.real_indices)
    synthetic = (comp.synthetic, comp.synthetic_split, comp.synthetic_indices)
    mixed = comp.n_real > 0 and comp.n_synthetic > 0
    if not mixed:
        part = real if comp.n_real else synthetic
        return [Phase("train", ImageSet([part], transform=transform, synthetic=[part is synthetic]),  # type: ignore[list-item]
                      cfg.epochs, validate=True)]
    if cfg.synthetic_schedule == "mixed":
        data = ImageSet([real, synthetic], transform=transform, synthetic=[False, True])  # type: ignore[list-item]
        return [Phase("train", data, cfg.epochs, validate=True, smoothing=cfg.synthetic_smoothing,
                      weight=cfg.synthetic_weight)]
    pre = pretrain_epochs(cfg.epochs, comp.n_real, comp.n_synthetic)
    return [Phase("pretrain", ImageSet([synthetic], transform=transform, synthetic=[True]),  # type: ignore[list-item]
                  pre, validate=False, smoothing=cfg.synthetic_smoothing),
            Phase("finetune", ImageSet([real], transform=transform, synthetic=[False]),  # type: ignore[list-item]
                  cfg.epochs - pre, validate=True)]


def pretrain_epochs(epochs: int, n_real: int, n_synthetic: int) -> int:
    """Epochs of synthetic pre-training out of ``epochs``: the synthetic share of the images, in whole epochs
    (validation, patience and the lr schedule keep counting epochs), at least one for each phase.

    Proportional, not a fixed half: each part then gets about the steps it gets in the mixed run (where
    a pass draws ``n_synthetic / (n_real + n_synthetic)`` of its batches from synthetic images).
    """
    if epochs < 2:
        raise SynthmedError(f"synthetic_schedule pretrain needs at least 2 epochs (pre-train, fine-tune), got {epochs}")
    return min(max(1, round_half_up(epochs * n_synthetic / (n_real + n_synthetic))), epochs - 1)


def phase_of(phases: list[Phase], epoch: int) -> Phase:
    """The phase that 1-based ``epoch`` belongs to."""
    for phase in phases:
        if epoch <= phase.epochs:
            return phase
        epoch -= phase.epochs
    return phases[-1]


def _improved(row: dict[str, Any], best: dict[str, Any]) -> bool:
    """Higher validation AUC wins; where AUC is undefined (one class in val), lower validation loss."""
    if np.isnan(row["val_auc"]):
        return best["state"] is None or row["val_loss"] < best["val_loss"]
    return bool(row["val_auc"] > best["val_auc"])


def batches_per_pass(n_images: int, batch_size: int) -> int:
    """Optimizer steps in one pass over ``n_images`` (a last batch of one image is dropped, see ``_fit``)."""
    return n_images // batch_size + (1 if n_images % batch_size > 1 else 0)


def _endless(loader: DataLoader):
    """Batches pass after pass; each pass reshuffles, exactly as a new epoch of the loader would."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:  # one image, its lone batch dropped (see _fit): it would wait here forever
            raise SynthmedError(f"cannot train on a set of {len(loader.dataset)} image(s): "  # type: ignore[arg-type]
                                "no batch of two or more")


def _train_steps(model, batches, n_steps: int, loss_fn: Loss, opt, device) -> dict[str, float]:
    """``n_steps`` optimizer steps; with ``n_steps`` = one pass this is one classic epoch, batch for batch."""
    model.train()
    total, correct, loss_sum = 0, 0, 0.0
    for _ in range(n_steps):
        x, y, synthetic = next(batches)
        x, y, synthetic = x.to(device), y.to(device), synthetic.to(device)
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = loss_fn(logits, y, synthetic)
        loss.backward()
        opt.step()
        loss_sum += float(loss.item()) * len(y)
        correct += int((logits.argmax(1) == y).sum().item())
        total += len(y)
    return {"train_loss": loss_sum / max(total, 1), "train_accuracy": correct / max(total, 1), "steps": n_steps}


def _save(cfg, comp, model, val_ds, val_split, val_x, val_y, positive, best, out: Path, device, seconds) -> None:
    val_probs = predict(model, val_x, 256, device)
    threshold = youden_threshold(val_y.numpy() == positive, val_probs[:, positive]) if positive is not None else None
    preds = predict_labels(val_probs, positive, threshold)
    write_text(out / "val_predictions.csv", predictions_csv(np.arange(len(val_y)), val_y.numpy(), preds, val_probs))
    ref = comp.real or comp.synthetic
    model_meta = {"arch": cfg.arch, "in_chans": ref.channels, "num_classes": len(comp.classes),
                  "classes": comp.classes, "resolution": ref.resolution, "head": cfg.head,
                  "input_size": cfg.input_size, "channel_mode": cfg.channel_mode,
                  "small_stem": _has_small_stem(model), "positive_class": positive, "threshold": threshold}
    torch_save({"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "meta": model_meta},
               out / MODEL_FILE)
    write_json(out / "config.json", {
        "options": cfg.model_dump(), "model": model_meta, "training_set": comp.summary(),
        "validation": {"path": str(val_ds.root), "split": val_split, "content_hash": val_ds.content_hash},
        "best_epoch": best["epoch"], "best_val_auc": best["val_auc"], "steps": best["steps"],
        "phase_steps": best["phase_steps"],  # optimizer steps per phase (train; or pretrain, finetune)
        "train_seconds": round(seconds, 2), "threads": torch.get_num_threads(),  # float sums depend on it
        "parameters": count_parameters(model), "seed": cfg.seed,
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
    })


def _has_small_stem(model: nn.Module) -> bool:
    return isinstance(getattr(model.backbone, "maxpool", None), nn.Identity)
