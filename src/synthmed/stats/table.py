"""The comparison table: one flat row per configuration, written as CSV and printed for people."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.console import Console
from rich.table import Table

from synthmed.utils.atomic import write_json, write_text

COLUMNS = [
    "name", "source", "ratio", "real_fraction", "augment", "arch", "baseline", "seeds", "n_test", "n_pos",
    "auc", "auc_ci_low", "auc_ci_high", "baseline_auc", "baseline_auc_ci_low", "baseline_auc_ci_high",
    "delta_auc", "delta_auc_ci_low", "delta_auc_ci_high", "delong_z", "delong_p", "delong_p_holm",
    "sensitivity", "sensitivity_ci_low", "sensitivity_ci_high", "baseline_sensitivity",
    "specificity", "specificity_ci_low", "specificity_ci_high", "baseline_specificity", "mcnemar_p",
    "auc_seed_mean", "auc_seed_sd", "baseline_auc_seed_mean", "baseline_auc_seed_sd", "wilcoxon_p", "verdict",
]
# With more than two classes: AUC, sensitivity and specificity are macro one-vs-rest, there is no DeLong test of
# the macro AUC (delong_* empty) and these columns carry the primary test and the classes that changed.
MULTICLASS_COLUMNS = ["primary_test", "primary_p", "p_holm", "classes_better", "classes_worse"]


def flat_row(c: dict) -> dict:
    """The table row of one comparison; the ensemble (seed-averaged) numbers, plus the across-seed summary."""
    ens = c["ensemble"]
    a, b = ens["bootstrap"]["models"]
    d = ens["bootstrap"]["difference"]
    seeds = c["across_seeds"]["auc"]
    binary = "delong" in ens
    row = {**c["config"], "name": c["name"], "baseline": c["baseline_name"], "seeds": " ".join(map(str, c["seeds"])),
           "n_test": c["n_test"], "n_pos": c["n_pos"], "delong_z": ens["delong"]["z"] if binary else None,
           "delong_p": c["p_delong"], "delong_p_holm": c["p_holm"] if binary else None,
           "mcnemar_p": ens["mcnemar"]["p"], "verdict": c["verdict"],
           "auc_seed_mean": seeds["config"]["mean"], "auc_seed_sd": seeds["config"]["sd"],
           "baseline_auc_seed_mean": seeds["baseline"]["mean"], "baseline_auc_seed_sd": seeds["baseline"]["sd"],
           "wilcoxon_p": seeds["wilcoxon"]["p"]}
    for prefix, block in (("", a), ("baseline_", b), ("delta_", d)):
        for metric in ("auc", "sensitivity", "specificity"):
            row[f"{prefix}{metric}"] = block[metric]["estimate"]
            row[f"{prefix}{metric}_ci_low"] = block[metric]["ci_low"]
            row[f"{prefix}{metric}_ci_high"] = block[metric]["ci_high"]
    if not binary:
        row |= {"primary_test": c["primary_test"], "primary_p": c["p_primary"], "p_holm": c["p_holm"],
                "classes_better": "; ".join(c["classes_better"]), "classes_worse": "; ".join(c["classes_worse"])}
        return {k: row.get(k) for k in COLUMNS + MULTICLASS_COLUMNS}
    return {k: row.get(k) for k in COLUMNS}


def columns(result: dict) -> list[str]:
    """The CSV header: the binary columns, plus the multi-class ones when a comparison has more classes."""
    multi = any("per_class" in c for c in result["comparisons"])
    return COLUMNS + MULTICLASS_COLUMNS if multi else COLUMNS


def to_csv(result: dict) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns(result), lineterminator="\n", restval="")
    writer.writeheader()
    for c in result["comparisons"]:
        writer.writerow({k: ("" if v is None else round(v, 6) if isinstance(v, float) else v)
                         for k, v in flat_row(c).items()})
    return buf.getvalue()


def csv_path(out: Path) -> Path:
    return out.with_suffix(".csv") if out.suffix.lower() != ".csv" else out.with_name(out.stem + "-table.csv")


def write_outputs(result: dict, out: Path) -> tuple[Path, Path]:
    """JSON with every number at ``out`` and the flat table beside it (same stem, .csv); both atomic."""
    table = csv_path(out)
    write_json(out, result)
    write_text(table, to_csv(result))
    return out, table


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def _ci(block: dict) -> str:
    return f"{block['estimate']:.3f} [{block['ci_low']:.3f}, {block['ci_high']:.3f}]"


def render(result: dict) -> str:
    """A readable table (rich) plus one sentence per comparison."""
    table = Table(title=f"vs {result['settings']['baseline']} baseline (95 % bootstrap CIs; seed ensembles)")
    multi = any("per_class" in c for c in result["comparisons"])
    for col in ("configuration", "seeds", "macro AUC" if multi else "AUC", "baseline AUC", "ΔAUC",
                "permutation p" if multi else "DeLong p", "Holm p", "McNemar p", "AUC over seeds", "Wilcoxon p",
                "verdict"):
        table.add_column(col)
    for c in result["comparisons"]:
        ens = c["ensemble"]
        boot = ens["bootstrap"]
        s = c["across_seeds"]["auc"]
        sd = s["config"]["sd"]
        spread = f"{s['config']['mean']:.3f}" + ("" if sd is None else f" ± {sd:.3f}")
        table.add_row(c["name"], str(len(c["seeds"])), _ci(boot["models"][0]["auc"]), _ci(boot["models"][1]["auc"]),
                      _ci(boot["difference"]["auc"]), _fmt(c["p_primary"], 4), _fmt(c["p_holm"], 4),
                      _fmt(ens["mcnemar"]["p"], 4), spread, _fmt(s["wilcoxon"]["p"], 4), c["verdict"])
    console = Console(file=io.StringIO(), width=250, force_terminal=False)
    console.print(table)
    for c in result["comparisons"]:
        console.print(f"- {c['sentence']}", soft_wrap=True)
    notes = dict.fromkeys(n for c in result["comparisons"]
                          for n in [*c["notes"], c["across_seeds"]["auc"]["wilcoxon"]["note"]] if n)
    for note in notes:
        console.print(f"note: {note}", soft_wrap=True)
    for s in result["skipped"]:
        console.print(f"- skipped {s['name']}: {s['reason']}", soft_wrap=True)
    return console.file.getvalue()
