"""Read each stage's output folder into the numbers of the report (``results.json`` is exactly this).

Every function takes a stage folder (or None when the stage was skipped) and returns plain JSON data;
missing pieces become a ``missing`` reason that the report prints instead of leaving a gap.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from synthmed.dataset import PreparedDataset
from synthmed.stats.summary import ensemble_roc, t_interval


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def stage_seconds(folder: Path | None) -> float | None:
    done = folder / "done.json" if folder else None
    return read_json(done).get("seconds") if done and done.is_file() else None


def dataset_summary(dataset: Path) -> dict:
    from synthmed.prepare.info import describe

    return describe(PreparedDataset.open(dataset))


def gan_training(run_dir: Path) -> dict:
    """The GAN's options and its per-tick stats, plus the latest sample grid's path (read through ``GanRun``)."""
    from synthmed.gan.run import GanRun

    run = GanRun(Path(run_dir))
    rows = run.stats()
    latest = run.latest_grid()
    return {"options": run.options(), "ticks": rows, "final": rows[-1] if rows else None,
            "latest_grid": str(latest) if latest else None}


def experiment_rows(experiment: Path) -> list[dict]:
    """results.jsonl rows; a later row for the same run replaces an earlier one (as in synthmed.stats)."""
    rows: dict[tuple, dict] = {}
    for line in (experiment / "results.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            key = (row["source"], float(row.get("ratio") or 0), float(row.get("real_fraction") or 1),
                   row.get("augment") or "none", row.get("arch") or "", int(row["seed"]))
            rows[key] = row
    return list(rows.values())


def steps_per_fraction(rows: list[dict]) -> dict[str, list[int]]:
    """The distinct optimizer-step counts of the runs of each real fraction (rows without the count left out)."""
    out: dict[str, set[int]] = defaultdict(set)
    for r in rows:
        if r.get("steps") is not None:
            out[f"{float(r.get('real_fraction') or 1):g}"].add(int(r["steps"]))
    return {f: sorted(v) for f, v in sorted(out.items(), key=lambda kv: -float(kv[0]))}


def _cell(row_or_config: dict) -> tuple:
    r = row_or_config
    return (r["source"], float(r.get("ratio") or 0), float(r.get("real_fraction") or 1), r.get("augment") or "none",
            r.get("arch") or "")


def _stats_auc_intervals(stats: dict | None) -> dict[tuple, dict]:
    """Seed-ensemble AUC with its bootstrap CI per grid cell, from the statistics stage."""
    out: dict[tuple, dict] = {}
    for comp in (stats or {}).get("comparisons", []):
        models = comp["ensemble"]["bootstrap"]["models"]
        for cfg, model in ((comp["config"], models[0]), (comp["baseline"], models[1])):
            auc = model["auc"]
            out[_cell(cfg)] = {"auc": auc["estimate"], "ci_low": auc["ci_low"], "ci_high": auc["ci_high"]}
    return out


def conditions(rows: list[dict], stats: dict | None) -> list[dict]:
    """One entry per grid cell: per-seed AUCs, their mean, and the CI shown in the plots.

    The CI is the statistics stage's stratified bootstrap of the seed ensemble when it exists (the same
    numbers as the verdicts); otherwise a t-interval over seeds, marked as such.
    """
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[_cell(row)].append(row)
    intervals = _stats_auc_intervals(stats)
    out = []
    for cell in sorted(groups, key=_cell_order):
        runs = sorted(groups[cell], key=lambda r: r["seed"])
        entry: dict[str, Any] = dict(zip(("source", "ratio", "real_fraction", "augment", "arch"), cell, strict=True))
        entry["seeds"] = [r["seed"] for r in runs]
        for metric in ("auc", "accuracy", "sensitivity", "specificity", "f1"):
            values = [r["metrics"][metric] for r in runs if r.get("metrics", {}).get(metric) is not None]
            entry[f"{metric}_seeds"] = values
            entry[f"{metric}_mean"] = float(np.mean(values)) if values else None
        if cell in intervals:
            entry.update(intervals[cell], ci_kind="bootstrap of the seed ensemble")
        else:
            low, high = t_interval(entry["auc_seeds"])
            entry.update(auc=entry["auc_mean"], ci_low=low, ci_high=high, ci_kind="t over seeds")
        out.append(entry)
    return out


def _cell_order(cell: tuple) -> tuple:
    """Real first, then mixed by ratio, then synthetic-only; all real data before less; no augmentation first."""
    source, ratio, fraction, augment, arch = cell
    return ({"real": 0, "mixed": 1, "synthetic": 2}.get(source, 3), ratio, -fraction, augment != "none", arch)


def roc_ensembles(rows: list[dict], experiment: Path, real_fraction: float, augment: str = "none") -> list[dict]:
    """ROC of each cell's seed ensemble (mean scores over seeds) at one real fraction.

    Two classes: the positive class's curve. More: the macro one-vs-rest curve and AUC (no positive class).
    """
    from synthmed.stats.loading import read_predictions

    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        if float(row.get("real_fraction") or 1) == real_fraction and (row.get("augment") or "none") == augment:
            groups[_cell(row)].append(row)
    curves = []
    for cell in sorted(groups, key=_cell_order):
        preds = [read_predictions(_pred_path(experiment, r)) for r in groups[cell]]
        if any(not np.array_equal(p.index, preds[0].index) for p in preds):
            continue  # not the same test images: no ensemble (the stats stage reports this as an error)
        positive = groups[cell][0].get("positive_class")
        roc = ensemble_roc(preds[0].label, np.mean([p.scores for p in preds], axis=0),
                           None if positive is None else int(positive))
        if roc is None:
            continue
        source, ratio = cell[0], cell[1]
        label = {"real": "real only", "synthetic": "synthetic only"}.get(source, f"real + synthetic {ratio:g} %")
        curves.append({**roc, "label": label, "source": source, "ratio": ratio, "real_fraction": real_fraction,
                       "augment": augment, "seeds": len(preds), "fpr": np.round(roc["fpr"], 5).tolist(),
                       "tpr": np.round(roc["tpr"], 5).tolist()})
    return curves


def _pred_path(experiment: Path, row: dict) -> Path:
    path = Path(row["predictions"])
    return path if path.is_absolute() else experiment / path


def stats_table(stats: dict) -> list[dict]:
    from synthmed.stats.table import flat_row

    return [flat_row(c) for c in stats.get("comparisons", [])]
