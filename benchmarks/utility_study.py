"""Utility study: does the quality profile's synthetic data help a classifier where real data is scarce?

For BreastMNIST (64 px), PneumoniaMNIST (28 px) and the RBC cells (``../shared/data/rbc/labels.csv``, 6 classes,
macro one-vs-rest AUC), ``synthmed run --profile quality`` (through its Python API) with real fractions 1, 0.25
and 0.1 (a GAN per fraction, trained on exactly that subset), 5 classifier seeds, each dataset in its own run
folder ``WORK/<dataset>`` (default ``benchmarks/_out/utility/``). Then, per dataset and real fraction, five
conditions on the real test split:

- real-only; real + traditional augmentation; synthetic-only (as many images as the real ones);
- real + synthetic: the grid's mixed ratio (augmentation none) with the best mean VALIDATION AUC over seeds (the
  test split is not looked at to choose; rows from before the grid recorded validation AUC: every ratio is
  reported instead, said so in the table);
- real + synthetic + traditional: the same for the grid's mixed runs with traditional augmentation, its ratio
  chosen apart. Against real + traditional it asks whether synthetic images add to the augmentation a
  practitioner would use anyway (added 2026-12-03, after the first BreastMNIST table; it widens Holm's family).

Each condition against real-only and against real + traditional augmentation with the pipeline's own tests
(``synthmed.stats.compare.compare_pairs``: DeLong on the seed ensembles for two classes; for more, the paired
permutation test of the macro AUC with per-class DeLong), Holm over the dataset's comparisons (with their
per-class p-values when K > 2, as the pipeline does), and the verdict. Results: ``RESULTS/utility_study.json``
and ``utility_study.md`` (default ``benchmarks/results/utility/``), each GAN's last sample grid as
``RESULTS/<dataset>-grid.png`` (whole train split) and ``<dataset>-f<fraction>-grid.png`` (subset GANs).

Resumable: the pipeline caches every finished stage and resumes a killed GAN from its last checkpoint and a killed
grid from its last finished run; a dataset whose analysis ``RESULTS/<dataset>.json`` exists is not run again
(its stage keys are checked against the current config: another recipe is a one-line error, not a silent mix).

    python benchmarks/utility_study.py --dry-run      # the plan: per dataset, its stages and what is cached
    python benchmarks/utility_study.py                # hours on the 2-core CPU (not timed yet); resumable
    python benchmarks/utility_study.py --tiny         # minutes: tiny GANs and classifiers, 2 seeds (plumbing)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RBC_CSV = REPO.parent / "shared" / "data" / "rbc" / "labels.csv"
REAL, TRADITIONAL, MIXED, SYNTHETIC = "real-only", "real + traditional", "real + synthetic", "synthetic-only"
MIXED_TRAD = "real + synthetic + traditional"
MIXED_AUGMENT = {MIXED: "none", MIXED_TRAD: "traditional"}  # the mixed conditions and their cells' augmentation
BASELINES = (REAL, TRADITIONAL)


@dataclass(frozen=True)
class Dataset:
    """One dataset of the study: its config values on top of the quality profile, and why they differ."""

    name: str
    data: dict[str, Any]
    overrides: dict[str, Any] = field(default_factory=dict)
    tiny: dict[str, Any] = field(default_factory=dict)  # what --tiny changes besides TINY
    note: str = ""


DATASETS = {
    "breastmnist": Dataset(
        "breastmnist", {"medmnist": "breastmnist", "size": 64}, tiny={"data": {"size": 28}},
        note="546 train images at 64 px: the quality profile as it is. GANs 180 + 90 + 57 kimg at 64 px (the "
             "whole pipeline run took 40 min 06 s on the idle 2-core CPU, 2026-12-03: GANs 14:03 + 6:13 + 3:48, "
             "the 120-run grid 13:19)."),
    "pneumoniamnist": Dataset(
        "pneumoniamnist", {"medmnist": "pneumoniamnist", "size": 28}, {"classify": {"images_per_run": None}},
        note="4,708 train images at 28 px (the GAN at 32, its smallest). GAN time follows kimg, not the set's "
             "size. classify.images_per_run is lifted (null): with the profile's cap (4,608 images per run) a "
             "full-data run would see less than one pass of its real images in 8 epochs, so each run makes its 8 "
             "passes (74 batches each at fraction 1); not timed."),
    "rbc": Dataset(
        "rbc", {"csv": str(RBC_CSV)}, {"gan": {"resolution": 32},
                                       "classify": {"resolution": 32, "images_per_run": None}},
        note="2,538 crops of 48 px, 6 classes, 1,812 train images (103 to 644 per class; split by smear). GAN and "
             "classifiers at 32 px: the size the RBC imbalance study chose on validation (real-only validation "
             "macro AUC 0.955 at 32 px vs 0.945 at 48; benchmarks/results/imbalance/resolution.json), and at 48 "
             "px DCGAN would train at 64. images_per_run lifted as for PneumoniaMNIST; not timed."),
}

# --tiny: every stage on tiny GANs and classifiers (minutes, a plumbing check, not a result). Metrics and the
# filter are off: they train their own networks, which the full run exercises and this check does not need.
TINY: dict[str, Any] = {
    "gan": {"kimg": 0.2, "batch": 16, "options": {"width": 8}},
    "metrics": {"enabled": False},
    "filter": {"enabled": False},
    "classify": {"epochs": 1, "images_per_run": 1024, "workers": 1, "threads": 1},
    "report": {"samples_per_class": 4},
}


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- configs ----------------------------------------------------------------------------------------------------
def config_for(ds: Dataset, args: argparse.Namespace):
    """The dataset's experiment config: the quality profile, the dataset's values, then --tiny's."""
    from synthmed.pipeline.config import build_config, deep_merge

    values = deep_merge({"name": f"utility-{ds.name}", "data": dict(ds.data), "classify": {"seeds": args.seeds}},
                        ds.overrides)
    if args.tiny:
        values = deep_merge(deep_merge(values, TINY), ds.tiny)
    if args.data_root:
        values["data"]["root"] = str(args.data_root)
    return build_config(values, "quality", source=f"utility study, {ds.name}")


# -- the analysis -------------------------------------------------------------------------------------------------
def condition_cells(cfg, fraction: float, cells: set) -> dict[str, Any]:
    from synthmed.classify.results import Cell

    arch = cfg.classify.arch
    return {REAL: Cell("real", 0.0, fraction, "none", arch), TRADITIONAL: Cell("real", 0.0, fraction, "traditional",
                                                                                 arch),
            SYNTHETIC: Cell("synthetic", 100.0, fraction, "none", arch),
            **{name: sorted(c for c in cells if c.source == "mixed" and c.real_fraction == fraction
                            and c.augment == augment) for name, augment in MIXED_AUGMENT.items()}}


def choose_mixed(candidates: list, rows_of: dict) -> tuple[list, dict[str, Any]]:
    """The mixed cell(s) to report: the one with the best mean validation AUC over seeds (ties: the smaller
    ratio), or every one when some run of them has no validation AUC recorded."""
    from synthmed.stats.seeds import mean_sd

    table = []
    for cell in candidates:
        vals = [r.val_auc for r in rows_of[cell]]
        table.append({"ratio": cell.ratio, "val_auc": mean_sd(vals) if None not in vals else None})
    if not candidates:
        return [], {"rule": "no mixed cell ran", "candidates": table, "chosen": None}
    if any(t["val_auc"] is None for t in table):
        return candidates, {"rule": "the grid's rows carry no validation AUC: every ratio is reported",
                            "candidates": table, "chosen": None}
    best = max(range(len(candidates)), key=lambda i: (table[i]["val_auc"]["mean"], -candidates[i].ratio))
    return [candidates[best]], {"rule": "best mean validation AUC over seeds (ties: the smaller ratio)",
                                "candidates": table, "chosen": candidates[best].ratio}


def analyse(cfg, outputs) -> dict[str, Any]:
    """Per real fraction: the five conditions' test AUC over seeds, and each against both baselines."""
    from synthmed.classify.results import load_results
    from synthmed.stats.compare import compare_pairs
    from synthmed.stats.seeds import mean_sd

    _, rows, _ = load_results(outputs.experiment)
    rows_of: dict = {}
    for r in rows:
        rows_of.setdefault(r.cell, []).append(r)
    fractions: dict[str, Any] = {}
    pairs, where = [], []
    for f in cfg.classify.real_fractions:
        cells = condition_cells(cfg, f, set(rows_of))
        named, choices = {REAL: cells[REAL], TRADITIONAL: cells[TRADITIONAL]}, {}
        for kind in MIXED_AUGMENT:  # each mixed condition's ratio chosen on validation, apart
            mixed, choices[kind] = choose_mixed(cells[kind], rows_of)
            named |= {(kind if len(mixed) == 1 else f"{kind} ({c.ratio:g} %)"): c for c in mixed}
        named[SYNTHETIC] = cells[SYNTHETIC]
        named = {name: cell for name, cell in named.items() if cell in rows_of}
        conditions = {}
        for name, cell in named.items():
            runs = sorted(rows_of[cell], key=lambda r: r.seed)
            vals = [r.val_auc for r in runs]
            conditions[name] = {"cell": cell.label(), "ratio": cell.ratio, "seeds": [r.seed for r in runs],
                                "auc": mean_sd([r.metrics["auc"] for r in runs]),
                                "val_auc": mean_sd(vals) if None not in vals else None, "vs": {}}
            for base in BASELINES:
                if name not in BASELINES[:BASELINES.index(base) + 1] and base in named:
                    pairs.append((cell, named[base]))
                    where.append((f"{f:g}", name, base))
        fractions[f"{f:g}"] = {"conditions": conditions, "mixed_choice": choices[MIXED],
                               "mixed_traditional_choice": choices[MIXED_TRAD]}
    compared = compare_pairs(outputs.experiment, pairs, seed=cfg.seed)
    for (f, name, base), c in zip(where, compared["comparisons"], strict=True):
        fractions[f]["conditions"][name]["vs"][base] = comparison_row(c)
    first = compared["comparisons"][0] if compared["comparisons"] else {}
    return {"fractions": fractions, "n_test": first.get("n_test"), "class_counts": first.get("class_counts"),
            "primary_test": first.get("primary_test"),
            "family": f"Holm over this dataset's {len(pairs)} comparisons"
                      + (" and their per-class DeLong p-values" if first.get("per_class") else "")}


def comparison_row(c: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one comparison the table shows (the full comparison stays in the pipeline's terms)."""
    ens = c["ensemble"]
    tested = ens["delong"] if "delong" in ens else ens["permutation"]
    diff_ci = ens["bootstrap"].get("difference", {}).get("auc")
    return {"name": c["name"], "baseline": c["baseline_name"], "delta_auc": tested["diff"],
            "delta_auc_ci": [diff_ci["ci_low"], diff_ci["ci_high"]] if diff_ci else None,
            "delta_auc_seeds": c["across_seeds"]["auc"]["difference"], "test": c["primary_test"],
            "p": c["p_primary"], "p_holm": c["p_holm"], "verdict": c["verdict"], "sentence": c["sentence"],
            **({"classes_better": c["classes_better"], "classes_worse": c["classes_worse"]}
               if "classes_better" in c else {})}


def save_grids(name: str, cfg, outputs, results: Path) -> dict[str, str]:
    """Each GAN's last sample grid beside the results (atomically), named by dataset and real fraction."""
    from synthmed.gan.run import GanRun
    from synthmed.utils.atomic import write_bytes

    saved = {}
    for f in cfg.classify.real_fractions:
        run = outputs.gan_run(f)
        grid = GanRun(run).latest_grid() if run is not None else None
        if grid is not None:
            target = results / (f"{name}-grid.png" if f >= 1 else f"{name}-f{f:g}-grid.png")
            write_bytes(target, grid.read_bytes())
            saved[f"{f:g}"] = target.name
    return saved


# -- one dataset ----------------------------------------------------------------------------------------------------
def run_dataset(ds: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    """The dataset's unit: read when it exists (after checking its stage keys), else run (resumes) and analyse."""
    from synthmed.errors import SynthmedError
    from synthmed.pipeline.main import run_pipeline
    from synthmed.pipeline.outputs import run_outputs, saved_unit
    from synthmed.utils.atomic import write_json

    cfg = config_for(ds, args)
    out, unit_path = Path(args.work) / ds.name, Path(args.results) / f"{ds.name}.json"
    keys = run_outputs(cfg, out).keys
    if unit := saved_unit(unit_path, keys, "this dataset"):
        say(f"{ds.name}: done before ({unit_path}), not run again")
        return unit
    say(f"{ds.name}: synthmed run --profile quality into {out}")
    run_pipeline(cfg, out, echo=say)
    outputs = run_outputs(cfg, out)
    if not outputs.complete:
        raise SynthmedError(f"{out}: the run finished with stages still open")
    unit = {"dataset": ds.name, "note": ds.note, "overrides": ds.overrides, "config": cfg.model_dump(mode="json"),
            "stage_keys": outputs.keys,  # after the run: a MedMNIST file downloaded by it is in the key
            # each stage's time in the run that finished it (a resumed GAN or grid: its last part only)
            "stage_seconds": outputs.seconds(),
            "classes": list(outputs.summary("prepare").get("classes", [])),
            "train_counts": outputs.summary("prepare").get("counts"),
            "gan_kimg": {f"{f:g}": outputs.summary(_gan_stage(cfg, f)).get("kimg")
                         for f in cfg.classify.real_fractions},
            "resolutions": {"prepared": outputs.summary("prepare").get("resolution"),
                            "gan": outputs.summary(_gan_stage(cfg, cfg.classify.real_fractions[0])).get("resolution"),
                            "classify": outputs.summary("classify").get("resolution")},
            "grid_notes": outputs.summary("classify").get("notes", []),
            **analyse(cfg, outputs), "grids": save_grids(ds.name, cfg, outputs, Path(args.results))}
    write_json(unit_path, unit)
    say(f"{ds.name}: analysis in {unit_path}")
    return unit


def _gan_stage(cfg, fraction: float) -> str:
    from synthmed.pipeline.stages import scope_of_fraction

    return scope_of_fraction(cfg, fraction).stage("gan")


# -- the tables -------------------------------------------------------------------------------------------------------
def _f(x: Any, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def _p(x: Any) -> str:
    return "–" if x is None else ("< 0.001" if x < 0.001 else f"{x:.3f}")


def _verdict(v: dict[str, Any]) -> str:
    """The verdict, and with more than two classes the classes whose one-vs-rest AUC changed (Holm, DeLong)."""
    by_class = [f"{word}: {', '.join(v[key])}" for word, key in (("better", "classes_better"),
                                                                  ("worse", "classes_worse")) if v.get(key)]
    return v["verdict"] + (f" (by class {'; '.join(by_class)})" if by_class else "")


def markdown(study: dict[str, Any]) -> str:
    lines = [f"# Utility study: {study['setting']}", "",
             f"Profile `quality`, seeds {study['seeds']}. AUC on the real test split (macro one-vs-rest with more "
             "than two classes), mean ± sd over seeds. Δ: the seed ensembles' AUC difference that the test tests "
             "(DeLong for two classes, paired permutation of the macro AUC for more); p Holm-adjusted per dataset. "
             "Real + synthetic (+ traditional): the mixed ratio with the best validation AUC, chosen apart for the "
             "runs without and with traditional augmentation.", ""]
    for name, unit in study["datasets"].items():
        lines += [f"## {name}", "", unit["note"], "",
                  f"Test images: {unit.get('n_test')}; {unit['family']}; primary test: {unit.get('primary_test')}.",
                  ""]
        lines += ["| real fraction | condition | AUC (seeds) | Δ vs real-only | p | p Holm | verdict "
                  "| Δ vs real + trad. | p | p Holm | verdict |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for f, block in unit["fractions"].items():
            for cond, row in block["conditions"].items():
                cells = [f, cond, f"{_f(row['auc']['mean'])} ± {_f(row['auc']['sd'])}"]
                for base in BASELINES:
                    v = row["vs"].get(base)
                    cells += ([f"{v['delta_auc']:+.3f}", _p(v["p"]), _p(v["p_holm"]), _verdict(v)] if v else
                              ["", "", "", ""])
                lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        for f, block in unit["fractions"].items():
            for kind, key in ((MIXED, "mixed_choice"), (MIXED_TRAD, "mixed_traditional_choice")):
                if key not in block:  # a unit analysed before the condition existed
                    continue
                choice = block[key]
                vals = ", ".join(f"{c['ratio']:g} %: {_f((c['val_auc'] or {}).get('mean'))}"
                                 for c in choice["candidates"])
                chosen = "–" if choice["chosen"] is None else f"{choice['chosen']:g} %"
                lines.append(f"- real fraction {f}: {kind} ratio {chosen} ({choice['rule']}; validation AUC "
                             f"{vals or 'none'})")
        lines += [f"- {n}" for n in unit["grid_notes"]]
        lines += ["", *(f"![{name} GAN, real fraction {f}]({png})" for f, png in unit["grids"].items()), ""]
    return "\n".join(lines)


# -- plan and main ----------------------------------------------------------------------------------------------------
def dry_run(args: argparse.Namespace) -> None:
    from synthmed.classify.experiment import grid
    from synthmed.pipeline.outputs import run_outputs
    from synthmed.pipeline.stages import grid_sources

    for name in args.datasets:
        ds = DATASETS[name]
        cfg = config_for(ds, args)
        out = Path(args.work) / name
        outputs = run_outputs(cfg, out)
        unit = Path(args.results) / f"{name}.json"
        c = cfg.classify
        runs = len(grid(grid_sources(cfg), c.ratios, c.real_fractions, c.augment, c.seeds, c.arch))
        print(f"== {name}: {'done (' + str(unit) + ')' if unit.is_file() else 'to run'}; run folder {out}")
        print(f"   {ds.note}")
        print(f"   overrides on the quality profile: {json.dumps(ds.overrides)}" + (" + --tiny" if args.tiny else ""))
        print("   GAN kimg per real fraction: " + ", ".join(
            f"{f:g}: {p.options['kimg']:g}" for f in c.real_fractions
            if (p := outputs.planned.get(_gan_stage(cfg, f))) is not None))
        print(f"   classifier grid: {runs} runs ({c.arch}, {c.epochs} epochs, seeds {c.seeds}, images_per_run "
              f"{c.images_per_run})")
        for p in outputs.planned.values():
            print(f"   {p.name:<16} {p.status:<8} {p.key[:12]}" + (f"  ({p.reason})" if p.reason else ""))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from synthmed.utils.atomic import write_json, write_text

    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    units = {name: run_dataset(DATASETS[name], args) for name in args.datasets}
    study = {"study": "utility", "setting": "tiny (plumbing check, not a result)" if args.tiny else "full",
             "profile": "quality", "seeds": args.seeds, "datasets": units}
    write_json(results / "utility_study.json", study)
    write_text(results / "utility_study.md", markdown(study))
    say(f"wrote {results / 'utility_study.json'} and {results / 'utility_study.md'}")
    return study


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=",".join(DATASETS), help=f"comma-separated, of {', '.join(DATASETS)}")
    p.add_argument("--seeds", default=None, help="classifier seeds (default 0,1,2,3,4; --tiny 0,1)")
    p.add_argument("--work", default=None, help="run folders (default benchmarks/_out/utility, --tiny utility-tiny)")
    p.add_argument("--results", default=None, help="tables and grids (default benchmarks/results/utility; --tiny: "
                                                   "WORK/results)")
    p.add_argument("--data-root", default=None, help="folder with the MedMNIST .npz files (else $SYNTHMED_DATA_ROOT)")
    p.add_argument("--tiny", action="store_true", help="a minutes-long plumbing run (tiny GANs, 1 epoch, 2 seeds)")
    p.add_argument("--dry-run", action="store_true", help="print the plan per dataset; run nothing")
    args = p.parse_args(argv)
    args.datasets = [d for d in args.datasets.split(",") if d]
    if unknown := [d for d in args.datasets if d not in DATASETS]:
        p.error(f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(DATASETS)}")
    args.seeds = [int(s) for s in (args.seeds or ("0,1" if args.tiny else "0,1,2,3,4")).split(",")]
    args.work = args.work or str(HERE / "_out" / ("utility-tiny" if args.tiny else "utility"))
    default_results = Path(args.work) / "results" if args.tiny else HERE / "results" / "utility"
    args.results = args.results or str(default_results)
    return args


def main(argv: list[str] | None = None) -> int:
    from synthmed.errors import SynthmedError

    args = parse(argv)
    try:
        dry_run(args) if args.dry_run else run(args)
    except SynthmedError as exc:  # bad input or a changed recipe: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
