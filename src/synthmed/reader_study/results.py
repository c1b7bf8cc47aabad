"""Reader-study statistics: the per-reader decision table of a visual Turing test, accuracy against chance, agreement.

SQ-AGGAN's visual Turing test (a lung-nodule synthesis GAN) tabulates, per radiologist, the share of each image set
judged "real" and judged "synthetic", with the cells named as in that paper: real judged real = TP,
real judged synthetic = FP, synthetic judged real = FN, synthetic judged synthetic = TN. We keep that
layout. The statistics treat *spotting a synthetic image* as the positive outcome: sensitivity =
synthetic judged synthetic / synthetic, specificity = real judged real / real, F1 with "synthetic" as the
positive label (scikit-learn). ``f1_real`` is the F1 with "real" positive, which is the F1 of the
paper's own TP/FP/FN cells. F1 near 0.5 and accuracy near 50 % mean the readers could not tell.

Accuracy is tested against 50 % with an exact two-sided binomial test (SciPy); agreement between
readers is Cohen's kappa (scikit-learn) for two readers and Fleiss' kappa (statsmodels) for more,
on the images every reader answered.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import cohen_kappa_score, f1_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

CSV_COLUMNS = ["reader", "class", "n_real", "real_judged_real", "real_judged_synthetic", "n_synthetic",
               "synthetic_judged_real", "synthetic_judged_synthetic", "accuracy", "accuracy_ci_low",
               "accuracy_ci_high", "p_value_vs_50", "balanced_accuracy", "sensitivity", "specificity", "f1",
               "f1_real", "mean_confidence"]


def confusion_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and statistics for one reader's answers (rows with ``truth`` and ``answer``)."""
    rr = sum(r["truth"] == "real" and r["answer"] == "real" for r in rows)
    rs = sum(r["truth"] == "real" and r["answer"] == "synthetic" for r in rows)
    sr = sum(r["truth"] == "synthetic" and r["answer"] == "real" for r in rows)
    ss = sum(r["truth"] == "synthetic" and r["answer"] == "synthetic" for r in rows)
    n = rr + rs + sr + ss
    out: dict[str, Any] = {"n": n, "n_real": rr + rs, "real_judged_real": rr, "real_judged_synthetic": rs,
                           "n_synthetic": sr + ss, "synthetic_judged_real": sr, "synthetic_judged_synthetic": ss}
    correct = rr + ss
    if n:
        test = binomtest(correct, n, 0.5)
        ci = test.proportion_ci(0.95, method="exact")
        out.update(accuracy=correct / n, accuracy_ci_low=float(ci.low), accuracy_ci_high=float(ci.high),
                   p_value_vs_50=float(test.pvalue))
        y_true = [r["truth"] for r in rows]
        y_pred = [r["answer"] for r in rows]
        out["f1"] = float(f1_score(y_true, y_pred, pos_label="synthetic", labels=["real", "synthetic"],
                                   zero_division=0.0))
        out["f1_real"] = float(f1_score(y_true, y_pred, pos_label="real", labels=["real", "synthetic"],
                                        zero_division=0.0))
    else:
        out.update(accuracy=None, accuracy_ci_low=None, accuracy_ci_high=None, p_value_vs_50=None, f1=None,
                   f1_real=None)
    out["sensitivity"] = ss / (sr + ss) if sr + ss else None
    out["specificity"] = rr / (rr + rs) if rr + rs else None
    sens, spec = out["sensitivity"], out["specificity"]
    out["balanced_accuracy"] = (sens + spec) / 2 if sens is not None and spec is not None else None
    conf = [r["confidence"] for r in rows if r.get("confidence") is not None]
    out["mean_confidence"] = float(np.mean(conf)) if conf else None
    return out


def agreement(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Cohen's kappa (2 readers) or Fleiss' kappa (3+) on the images that every active reader answered."""
    by_reader: dict[str, dict[str, str]] = {}
    for r in rows:
        by_reader.setdefault(r["reader"], {})[r["image_id"]] = r["answer"]
    names = sorted(by_reader)
    if len(names) < 2:
        return {"method": None, "kappa": None, "n_images": 0, "readers": names,
                "note": "agreement needs answers from at least two readers"}
    common = sorted(set.intersection(*(set(v) for v in by_reader.values())))
    method = "cohen" if len(names) == 2 else "fleiss"
    result: dict[str, Any] = {"method": method, "kappa": None, "n_images": len(common), "readers": names,
                              "note": None}
    if len(common) < 2:
        result["note"] = "fewer than two images answered by every reader"
        return result
    matrix = np.array([[1 if by_reader[n][i] == "synthetic" else 0 for n in names] for i in common])
    if len(np.unique(matrix)) < 2:
        result["note"] = "every answer is the same: kappa is undefined"
        return result
    if method == "cohen":
        kappa = cohen_kappa_score(matrix[:, 0], matrix[:, 1], labels=[0, 1])
    else:
        table, _ = aggregate_raters(matrix, n_cat=2)
        kappa = fleiss_kappa(table, method="fleiss")
    result["kappa"] = None if math.isnan(kappa) else float(kappa)
    return result


def compute_results(answer_rows: list[dict[str, Any]], readers: list[dict[str, Any]],
                    study_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole results object: per reader (overall and per class), mean F1, agreement."""
    per_reader = []
    for reader in readers:
        rows = [r for r in answer_rows if r["reader"] == reader["name"]]
        classes = sorted({r["class_name"] for r in rows})
        per_reader.append({
            "reader": reader["name"], "answered": len(rows), "total": reader["total"],
            **confusion_stats(rows),
            "per_class": [{"class": c, **confusion_stats([r for r in rows if r["class_name"] == c])}
                          for c in classes],
        })
    f1s = [r["f1"] for r in per_reader if r["f1"] is not None]
    return {
        "study": (study_meta or {}).get("name"),
        "readers": per_reader,
        "mean_f1": float(np.mean(f1s)) if f1s else None,
        "agreement": agreement(answer_rows),
    }


def results_csv(results: dict[str, Any]) -> str:
    """One row per reader ("all" classes) and one per reader and class."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in results["readers"]:
        for cls, stats in [("all", r), *((c["class"], c) for c in r["per_class"])]:
            writer.writerow({"reader": r["reader"], "class": cls, **{k: _csv_value(stats.get(k))
                                                                     for k in CSV_COLUMNS[2:]}})
    return buf.getvalue()


def answers_csv(answer_rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    cols = ["reader", "image_id", "truth", "class_name", "answer", "confidence", "answered_at"]
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in answer_rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in cols})
    return buf.getvalue()


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def render_text(results: dict[str, Any]) -> str:
    """Plain-text tables: the decision table per reader, then statistics, per class, agreement."""
    lines = [f"Reader study: {results.get('study') or ''}".rstrip(), ""]
    lines += ["Decisions (share of each image set; cells named as in SQ-AGGAN's study)",
              f"{'reader':<16} {'decision':<12} {'real images':>22} {'synthetic images':>22}"]
    for r in results["readers"]:
        nr, ns = r["n_real"], r["n_synthetic"]
        lines.append(f"{r['reader'][:16]:<16} {'real':<12} {_cell(r['real_judged_real'], nr, 'TP'):>22} "
                     f"{_cell(r['synthetic_judged_real'], ns, 'FN'):>22}")
        lines.append(f"{'':<16} {'synthetic':<12} {_cell(r['real_judged_synthetic'], nr, 'FP'):>22} "
                     f"{_cell(r['synthetic_judged_synthetic'], ns, 'TN'):>22}")
    lines += ["", "Statistics (positive = spotting a synthetic image)",
              f"{'reader':<16} {'answered':>9} {'accuracy':>9} {'95% CI':>15} {'p vs 50%':>9} {'sens':>6} "
              f"{'spec':>6} {'F1':>6} {'F1 real':>8}"]
    for r in results["readers"]:
        lines.append(_stats_line(r["reader"][:16], r, f"{r['answered']}/{r['total']}"))
    lines.append(f"Mean F1: {_num(results['mean_f1'], 4)}")
    lines += ["", "Per class", f"{'reader':<16} {'class':<16} {'n':>5} {'accuracy':>9} {'p vs 50%':>9} "
              f"{'sens':>6} {'spec':>6}"]
    for r in results["readers"]:
        for c in r["per_class"]:
            lines.append(f"{r['reader'][:16]:<16} {c['class'][:16]:<16} {c['n']:>5} {_pct(c['accuracy']):>9} "
                         f"{_num(c['p_value_vs_50'], 3):>9} {_num(c['sensitivity'], 2):>6} "
                         f"{_num(c['specificity'], 2):>6}")
    ag = results["agreement"]
    lines.append("")
    if ag["kappa"] is not None:
        name = "Cohen's kappa" if ag["method"] == "cohen" else "Fleiss' kappa"
        lines.append(f"Agreement: {name} = {ag['kappa']:.3f} ({len(ag['readers'])} readers, "
                     f"{ag['n_images']} images answered by all)")
    else:
        lines.append(f"Agreement: not computed ({ag['note']})")
    return "\n".join(lines) + "\n"


def _stats_line(name: str, r: dict[str, Any], answered: str) -> str:
    ci = (f"{_pct(r['accuracy_ci_low'])}-{_pct(r['accuracy_ci_high'])}" if r["accuracy"] is not None else "-")
    return (f"{name:<16} {answered:>9} {_pct(r['accuracy']):>9} {ci:>15} {_num(r['p_value_vs_50'], 3):>9} "
            f"{_num(r['sensitivity'], 2):>6} {_num(r['specificity'], 2):>6} {_num(r['f1'], 4):>6} "
            f"{_num(r['f1_real'], 4):>8}")


def _cell(k: int, n: int, name: str) -> str:
    return f"{k}/{n} {100 * k / n:5.1f}% ({name})" if n else f"-  ({name})"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"
