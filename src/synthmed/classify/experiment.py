"""The experiment grid: train and evaluate one classifier per combination of options.

Combinations of source x ratio x real fraction x augmentation x seed (one architecture per grid):

- ``real``: real images only; ratios do not apply (one run per fraction, recorded as ratio 0);
- ``synthetic``: synthetic images only, as many as the real images used (ratio 100), drawn with the real
  subset's class proportions; the real images only set the count;
- ``mixed``: real + synthetic images numbering ``ratio`` % of the real count used, for each ratio; ratio 0
  is the ``real`` run (run once, whether or not ``real`` is among the sources).

Training budget (``budget``): with ``steps`` (the default) every run of a real fraction takes the optimizer
steps of that fraction's real-only run at ``epochs`` epochs (an "epoch" is that many steps, for validation,
patience and the lr schedule), so real-only, mixed and synthetic-only runs differ only in their data; with
``epochs`` a mixed set makes ``epochs`` passes over its larger set and so takes more steps. The steps each
run took are counted and recorded in its row. A compute budget (``images_per_run``) caps the steps per
epoch, so a run's cost no longer grows with the dataset (the cpu profile's quick run on a large set).

How synthetic images enter a mixed run (``synthetic_weight``, ``synthetic_smoothing``, ``synthetic_schedule``)
is one choice per grid, like the other classifier options: recorded in ``experiment.json`` when not the
default, so a grid folder is never resumed with other values.

Synthetic images per real fraction: ``synthetic`` may map each real fraction to its own synthetic set (the
main job's GAN trained on exactly that fraction's real images); ``subset_seed`` then fixes the real subset of
a fraction for every classifier seed, so it is the subset that GAN learnt from. Each row records the content
hash of the real images it trained on (``real_images_hash``) for the leakage audit.

Every run lives in ``OUT/runs/<run_id>/`` (``model/``, ``evaluation.json``, ``predictions.csv`` and
``result.json``, its row), built in a temporary folder and renamed when complete: a run whose folder
exists is finished and is skipped on a re-run, so a killed grid resumes where it stopped. After each run
``results.jsonl`` and ``results.csv`` are rewritten (atomically) from every finished run.

Cells run one after another here (``workers=1``) or as Ray tasks, several at once or on a cluster
(``synthmed.classify.engine``); either way only this process writes ``OUT``, and each run records its
intra-op thread count (same seed and threads: the same row, whichever worker ran it).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, get_args

from synthmed.classify.engine import Job, plan_cluster, plan_local, run_cells
from synthmed.classify.evaluate import evaluate_model
from synthmed.classify.options import Budget, TrainConfig
from synthmed.classify.results import RESULTS_FILE
from synthmed.classify.spec import TrainSpec, resolve
from synthmed.classify.train import batches_per_pass, train_classifier
from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.utils.atomic import write_json, write_text
from synthmed.utils.hashing import sha256_json

RESULT_FILE = "result.json"
CSV_METRICS = ("auc", "accuracy", "sensitivity", "specificity", "f1", "threshold")
# Options that change a run's result but are not grid axes: a re-run into the same folder must keep them.
_FIXED_KEYS = ("real", "synthetic", "val", "test", "arch", "epochs", "batch_size", "lr", "pretrained", "head",
               "patience", "balance", "input_size", "channel_mode", "positive_class", "draw", "budget", "subset_seed")
# Options that came after grids were first written: recorded in experiment.json only when they differ from
# TrainConfig's default, so a grid from before them still resumes and one with another value is refused.
_RECORDED_WHEN_SET = ("synthetic_weight", "synthetic_smoothing", "synthetic_schedule")
Synthetic = str | Mapping[float, str] | None
BUDGETS = get_args(Budget)


@dataclass(frozen=True)
class RunOptions:
    """One cell of the grid."""

    source: str
    ratio: float
    real_fraction: float
    augment: str
    seed: int
    arch: str

    @property
    def run_id(self) -> str:
        return (f"{self.arch}-{self.source}-r{self.ratio:g}-f{self.real_fraction:g}-{self.augment}-s{self.seed}"
                .replace("/", "_"))


def grid(sources: Sequence[str], ratios: Sequence[float], real_fractions: Sequence[float],
         augments: Sequence[str], seeds: Sequence[int], arch: str) -> list[RunOptions]:
    """Every meaningful combination, in a stable order (seed outermost, so early rows are comparable)."""
    runs: list[RunOptions] = []
    for seed in seeds:
        for fraction in real_fractions:
            for augment in augments:
                for source in sources:
                    if source == "real":
                        cells = [0.0]
                    elif source == "synthetic":
                        cells = [100.0]
                    elif source == "mixed":
                        cells = [float(r) for r in ratios]
                    else:
                        raise SynthmedError(f"--sources: unknown source '{source}' (real, synthetic, mixed)")
                    # Mixed at ratio 0 is the real-only run: one cell, recorded as source "real".
                    runs += [RunOptions("real" if r == 0 else source, r, float(fraction), augment, int(seed), arch)
                             for r in cells]
    return list(dict.fromkeys(runs))


def run_experiment(real: str, synthetic: Synthetic, out: str | Path, *, ratios: Sequence[float] = (0, 25, 50, 75, 100),
                   real_fractions: Sequence[float] = (1.0,), sources: Sequence[str] = ("real", "synthetic", "mixed"),
                   augments: Sequence[str] = ("none",), seeds: Sequence[int] = (1,), arch: str = "cnn",
                   epochs: int = 30, val: str | None = None, test: str | None = None, draw: str = "stratified",
                   budget: str = "steps", subset_seed: int | None = None, progress: bool = True, echo=print,
                   workers: int | None = 1, threads: int | None = None, ray_address: str | None = None,
                   images_per_run: int | None = None, **train_options: Any) -> list[dict[str, Any]]:
    """Run every grid cell not finished yet; return all rows of ``OUT/results.jsonl``.

    ``images_per_run``: a compute budget, the most training images a run sees (``epochs`` validations of
    fewer steps each, see ``epoch_steps_of``); None: as many as ``budget`` and ``epochs`` give.

    ``workers``: runs at once (1: one after another in this process; None: sized from the machine, see
    ``engine.plan_local``); ``threads``: intra-op threads per run; ``ray_address``: a Ray cluster to run on.
    """
    if budget not in BUDGETS:
        raise SynthmedError(f"--budget must be one of {', '.join(BUDGETS)}, got '{budget}'")
    out = Path(out)
    real_dir = str(PreparedDataset.open_spec(real, "train")[0].root)
    val = val or f"{real_dir}:val"
    test = test or f"{real_dir}:test"
    if synthetic is None and any(s != "real" for s in sources):
        raise SynthmedError("--synthetic is needed for the sources synthetic and mixed")
    if isinstance(synthetic, Mapping):
        synthetic = {float(f): str(p) for f, p in synthetic.items()}
        if missing := [f for f in real_fractions if float(f) not in synthetic and any(s != "real" for s in sources)]:
            raise SynthmedError(f"no synthetic set for real fraction(s) {', '.join(f'{f:g}' for f in missing)}")
    recorded = {f"{f:g}": p for f, p in synthetic.items()} if isinstance(synthetic, Mapping) else synthetic
    fixed = {"real": real, "synthetic": recorded, "val": val, "test": test, "arch": arch, "epochs": epochs,
             "draw": draw, "budget": budget, "subset_seed": subset_seed, **_recorded(train_options)}
    if images_per_run is not None:  # recorded only when given, so grids from before the option still resume
        if images_per_run < 1:
            raise SynthmedError(f"images per run must be >= 1, got {images_per_run}")
        fixed["images_per_run"] = images_per_run
    _check_config(out, fixed)
    cells = grid(sources, ratios, real_fractions, augments, seeds, arch)
    _remove_partials(out / "runs")
    todo = [c for c in cells if not (out / "runs" / c.run_id / RESULT_FILE).is_file()]
    for opts in todo:  # fail now, not hours into the grid, when a cell cannot be built (too few images...)
        resolve(_spec(opts, real, synthetic, draw, subset_seed), opts.seed)
    device = str(train_options.get("device", "auto"))
    plan = plan_cluster(ray_address, workers, threads, device) if ray_address else \
        plan_local(workers, threads, device)
    jobs: list[Job] = []
    for i, opts in enumerate(cells, 1):
        label = f"[{i}/{len(cells)}] {opts.run_id}"
        if (out / "runs" / opts.run_id / RESULT_FILE).is_file():
            echo(f"{label}: done before, skipped")
            continue
        spec = _spec(opts, real, synthetic, draw, subset_seed)
        epoch_steps = epoch_steps_of(real, opts, spec, budget, epochs, train_options.get("batch_size"), subset_seed,
                                     images_per_run)
        steps = {} if epoch_steps is None else {"epoch_steps": epoch_steps}
        jobs.append(Job(opts.run_id, label, partial(build_run, opts, spec, val, test, epochs, train_options | steps)))
    if jobs:
        echo(f"grid: {len(jobs)} of {len(cells)} runs to do, {plan.describe()}")

    def done(job: Job, row: dict[str, Any], worker: str) -> None:
        echo(f"{job.label}: AUC {row['metrics']['auc']:.3f}  ACC {row['metrics']['accuracy']:.3f}  "
             f"({row['train_seconds']:.0f} s training, {row['threads']} thread(s), worker {worker})")
        write_results(out)

    run_cells(jobs, out / "runs", plan, done, total=len(cells), progress=progress)
    return write_results(out)


def _check_config(out: Path, fixed: dict[str, Any]) -> None:
    """Write ``experiment.json`` once; a re-run must use the same non-grid options (new grid cells are fine)."""
    path = out / "experiment.json"
    # The device does not change what is computed (up to float noise), so a grid may resume on another.
    record = {k: fixed.get(k) for k in sorted(set(_FIXED_KEYS) | set(fixed)) if k != "device"}
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        if old.get("config_hash") != sha256_json(record):
            changed = sorted(k for k in record if old.get("config", {}).get(k) != record[k])
            raise SynthmedError(f"{out}: holds an experiment with other options ({', '.join(changed)}); "
                                "use another --out")
        return
    write_json(path, {"config": record, "config_hash": sha256_json(record)})


def _recorded(train_options: dict[str, Any]) -> dict[str, Any]:
    """The per-run options that identify the grid (``_RECORDED_WHEN_SET`` ones only where not the default)."""
    return {k: v for k, v in train_options.items()
            if not (k in _RECORDED_WHEN_SET and v == TrainConfig.model_fields[k].default)}


def _remove_partials(runs: Path) -> None:
    """A killed run leaves its hidden temporary folder; nothing else writes there."""
    if runs.is_dir():
        for tmp in runs.glob(".*.partial"):
            shutil.rmtree(tmp, ignore_errors=True)


def epoch_steps_of(real: str, opts: RunOptions, spec: TrainSpec, budget: str, epochs: int, batch_size: int | None,
                   subset_seed: int | None, images_per_run: int | None) -> int | None:
    """Optimizer steps per "epoch" of one cell; None: one pass over its own set (``epochs`` budget, no cap).

    ``steps``: the real-only baseline's batches per pass. ``images_per_run`` caps it at the steps that keep
    ``epochs x steps x batch`` within the budget (at least one step), so the epochs keep their count of
    validations and a large dataset trains on a sample of its images instead of taking longer.
    """
    batch = batch_size or TrainConfig.model_fields["batch_size"].default
    if budget == "steps":
        steps = baseline_epoch_steps(real, opts, batch_size, subset_seed)
    elif images_per_run is None:
        return None
    else:
        comp = resolve(spec, opts.seed)
        steps = batches_per_pass(comp.n_real + comp.n_synthetic, batch)
    if images_per_run is not None:
        steps = min(steps, capped_epoch_steps(images_per_run, epochs, batch))
    return steps


def capped_epoch_steps(images_per_run: int, epochs: int, batch: int) -> int:
    """The most steps per epoch with ``epochs x steps x batch <= images_per_run`` (at least one)."""
    return max(1, images_per_run // (epochs * batch))


def baseline_epoch_steps(real: str, opts: RunOptions, batch_size: int | None, subset_seed: int | None) -> int:
    """Optimizer steps in one epoch of this cell's real-only baseline (same real images, same seed)."""
    baseline = resolve(TrainSpec(real=real, fraction=opts.real_fraction, source="real", subset_seed=subset_seed),
                       opts.seed)
    return batches_per_pass(baseline.n_real, batch_size or TrainConfig.model_fields["batch_size"].default)


def build_run(opts: RunOptions, spec: TrainSpec, val: str, test: str, epochs: int, train_options: dict[str, Any],
              tmp: Path) -> dict[str, Any]:
    """Train and evaluate one cell into the (temporary) folder ``tmp``; return its row (also in ``result.json``).

    Called by the grid engine (which owns the folder and its atomic rename into ``OUT/runs``), here or on a
    Ray worker, with the run's intra-op threads already set.
    """
    train_classifier(spec, val, tmp / "model", arch=opts.arch, augment=opts.augment, seed=opts.seed,
                     epochs=epochs, progress=False, **train_options)
    evaluation = evaluate_model(tmp / "model", test, tmp / "evaluation.json")
    config = json.loads((tmp / "model" / "config.json").read_text(encoding="utf-8"))
    counts = config["training_set"]
    metrics = {k: evaluation[k] for k in CSV_METRICS}
    if evaluation.get("per_class"):
        metrics["per_class"] = {c: {k: v for k, v in m.items() if k != "roc"}
                                for c, m in evaluation["per_class"].items()}
    row = {"run_id": opts.run_id, "source": opts.source, "ratio": opts.ratio,
           "real_fraction": opts.real_fraction, "augment": opts.augment, "seed": opts.seed, "arch": opts.arch,
           "metrics": metrics, "positive_class": evaluation.get("positive_class"),
           "positive_class_name": evaluation.get("positive_class_name"),
           "n_train_real": counts["n_real"], "n_train_synthetic": counts["n_synthetic"],
           "train_counts": counts["counts"], "real_images_hash": counts["real_images_hash"],
           "synthetic_dataset": (counts.get("synthetic_dataset") or {}).get("path"),
           "best_epoch": config["best_epoch"], "best_val_auc": config["best_val_auc"], "steps": config["steps"],
           "epoch_steps": config["options"]["epoch_steps"], "train_seconds": config["train_seconds"],
           "threads": config["threads"],
           "predictions": f"runs/{opts.run_id}/{evaluation['predictions']}",
           "model_dir": f"runs/{opts.run_id}/model"}
    write_json(tmp / RESULT_FILE, row)
    return row


def _spec(opts: RunOptions, real: str, synthetic: Synthetic, draw: str, subset_seed: int | None) -> TrainSpec:
    if isinstance(synthetic, Mapping):
        synthetic = synthetic.get(opts.real_fraction)
    return TrainSpec(real=real, synthetic=synthetic if opts.source != "real" else None, ratio=opts.ratio,
                     fraction=opts.real_fraction, source=opts.source, draw=draw, subset_seed=subset_seed)


def collect_rows(out: Path) -> list[dict[str, Any]]:
    rows = [json.loads(p.read_text(encoding="utf-8")) for p in (out / "runs").glob(f"*/{RESULT_FILE}")]
    order = {"real": 0, "synthetic": 1, "mixed": 2}
    return sorted(rows, key=lambda r: (r["arch"], -r["real_fraction"], r["augment"], order.get(r["source"], 9),
                                       r["ratio"], r["seed"]))


def write_results(out: str | Path) -> list[dict[str, Any]]:
    """Rewrite ``results.jsonl`` and ``results.csv`` from every finished run folder."""
    out = Path(out)
    rows = collect_rows(out)
    write_text(out / RESULTS_FILE, "".join(json.dumps(r) + "\n" for r in rows))
    write_text(out / "results.csv", _csv(rows))
    return rows


def _csv(rows: Iterable[dict[str, Any]]) -> str:
    head = ["run_id", "source", "ratio", "real_fraction", "augment", "seed", "arch", *CSV_METRICS,
            "positive_class", "n_train_real", "n_train_synthetic", "best_epoch", "steps", "train_seconds",
            "predictions", "model_dir"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head)
    for r in rows:
        writer.writerow([r["metrics"].get(k) if k in CSV_METRICS else r.get(k) for k in head])
    return buf.getvalue()
