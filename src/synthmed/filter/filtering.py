"""``filter_synthetic``: keep synthetic images that look like their class, look real, and copy no patient.

Three tests per synthetic image, each calibrated on *real* images the classifier did not train on:
(a) confidence: the intended class's probability under a classifier trained on real data (the domain CNN
    of ``synthmed metrics``, or ``classifier``) is at least what ``real_pass_rate`` of the real validation
    images of that class reach for their own class (default 0.9: the 10th percentile of their scores).
    A fixed probability (``min_confidence``, off by default) means "more likely this class than all others
    together": fine for two classes and an accurate classifier, but with five classes and a weak one most
    real images of a hard class fail it too, and the filter empties that class. The calibrated rule
    asks only that a synthetic image look as much like its class as real images of that class do.
(b) realism (Kynkäänniemi et al. 2019, in the domain feature space, against the real training images of
    the intended class): at least what ``realism_real_pass_rate`` of the real validation images of that
    class reach (off by default), and/or not among the lowest ``drop_worst_realism`` fraction of its class;
(c) not a near copy of a training image (the memorization audit of ``synthmed metrics``, read from the same
    feature store, so the two stages never disagree and nothing is computed twice).
Per class the output gives the real pass rate (validation images passing (a) and (b)) beside the
synthetic one: a class whose synthetic images pass far less often than its real images is a finding.
The kept images form a new prepared dataset (extra per-image fields kept, scores added), with
``filter_scores.csv`` (every image's scores and decision) and ``filter_config.json`` beside it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthmed.dataset import DatasetWriter, PreparedDataset, check_alike
from synthmed.errors import SynthmedError
from synthmed.metrics import features as feat_mod
from synthmed.metrics import memorization, prdc
from synthmed.metrics.cache import default_cache_dir
from synthmed.metrics.store import FeatureStore
from synthmed.utils.atomic import write_json, write_text

DEFAULT_REAL_PASS_RATE = 0.9


def load_classifier(path: str | Path, classes: list[str]) -> feat_mod.Extractor:
    """A classifier returning logits: a ``synthmed train-classifier`` model folder, or a saved nn.Module."""
    return feat_mod.load_classifier(path, classes)


@dataclass
class Scores:
    """The two calibrated scores of one set of images, each under its intended (or true) class."""

    confidence: np.ndarray
    realism: np.ndarray


def calibrated_thresholds(scores: np.ndarray, labels: np.ndarray, num_classes: int,
                          pass_rate: float | None) -> np.ndarray:
    """Per class, the score that ``pass_rate`` of the real images of that class reach (-inf: no rule / no images).

    The ``1 - pass_rate`` quantile with NumPy's ``lower`` method: at least ``pass_rate`` of the class's real
    images are at or above it.
    """
    out = np.full(num_classes, -np.inf)
    if pass_rate is None:
        return out
    for k in range(num_classes):
        values = scores[labels == k]
        if len(values):
            out[k] = float(np.quantile(values, 1.0 - pass_rate, method="lower"))
    return out


def _check(min_confidence, drop_worst_realism, real_pass_rate, realism_real_pass_rate) -> None:
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise SynthmedError(f"--min-confidence must be in [0, 1], got {min_confidence}")
    if not 0.0 <= drop_worst_realism < 1.0:
        raise SynthmedError(f"--drop-worst-realism must be in [0, 1), got {drop_worst_realism}")
    for name, rate in (("--real-pass-rate", real_pass_rate), ("--realism-real-pass-rate", realism_real_pass_rate)):
        if rate is not None and not 0.0 < rate <= 1.0:
            raise SynthmedError(f"{name} must be in (0, 1] (the fraction of real validation images that pass), "
                                f"got {rate}")


def filter_synthetic(synthetic: str | Path, real: str | Path, out: str | Path, classifier: str | Path | None = None,
                     min_confidence: float | None = None, drop_worst_realism: float = 0.0,
                     drop_near_copies: bool = True, seed: int = 0, *,
                     real_pass_rate: float | None = DEFAULT_REAL_PASS_RATE,
                     realism_real_pass_rate: float | None = None, calibration: str | Path | None = None,
                     cache_dir: str | Path | None = "default", overwrite: bool = False, progress: bool = True,
                     domain_cnn: feat_mod.DomainCNNConfig | None = None) -> dict[str, Any]:
    """Filter ``synthetic`` (``DIR[:split]``) against ``real`` (``DIR[:split]``); returns per-class counts.

    ``real``'s split calibrates the near-copy threshold (``train``: leave-one-out); the confidence and
    realism rules are calibrated on ``calibration`` (``DIR[:split]``, default: ``real``'s val split; the
    pipeline's subset datasets have no val split and pass the full dataset's). The classifier and the
    realism reference learn from ``real``'s train split only.
    """
    _check(min_confidence, drop_worst_realism, real_pass_rate, realism_real_pass_rate)
    syn, syn_split = PreparedDataset.open_spec(synthetic, "train")
    real_ds, real_split = PreparedDataset.open_spec(real, "train")
    check_alike(syn, real_ds)
    calibrated = real_pass_rate is not None or realism_real_pass_rate is not None
    cal_ds, cal_split = _calibration_set(calibration, real_ds) if calibrated else (None, None)
    store = FeatureStore(default_cache_dir() if cache_dir == "default" else cache_dir)
    domain = feat_mod.domain_extractor(real_ds, store.root, domain_cnn or feat_mod.DomainCNNConfig(seed=seed),
                                       progress)
    clf = load_classifier(classifier, real_ds.classes) if classifier else domain
    k = real_ds.num_classes

    y_syn = syn.labels(syn_split)
    syn_scores = _scores(store, syn, syn_split, y_syn, real_ds, domain, clf)
    y_val = cal_ds.labels(cal_split) if cal_ds is not None else np.zeros(0, dtype=np.int64)
    val_scores = _scores(store, cal_ds, cal_split, y_val, real_ds, domain, clf) if cal_ds is not None else None
    conf_thr = calibrated_thresholds(val_scores.confidence, y_val, k, real_pass_rate) if val_scores else \
        np.full(k, -np.inf)
    real_thr = calibrated_thresholds(val_scores.realism, y_val, k, realism_real_pass_rate) if val_scores else \
        np.full(k, -np.inf)
    mem = memorization.audit_sets(store, syn, syn_split, real_ds, real_split, domain)

    low_conf = _fails_confidence(syn_scores.confidence, y_syn, conf_thr, min_confidence)
    unreal = (syn_scores.realism < real_thr[y_syn]) | _worst_fraction(syn_scores.realism, y_syn, drop_worst_realism)
    copies = mem.flagged if drop_near_copies else np.zeros(len(y_syn), dtype=bool)
    keep = ~(low_conf | unreal | copies)
    real_pass = None
    if val_scores is not None:
        real_pass = ~(_fails_confidence(val_scores.confidence, y_val, conf_thr, min_confidence)
                      | (val_scores.realism < real_thr[y_val]))

    config = {"synthetic": f"{syn.root}:{syn_split}", "real": f"{real_ds.root}:{real_split}",
              "classifier": clf.id, "feature_extractor": domain.id, "min_confidence": min_confidence,
              "real_pass_rate": real_pass_rate, "realism_real_pass_rate": realism_real_pass_rate,
              "calibration": f"{cal_ds.root}:{cal_split}" if cal_ds is not None else None,
              "calibration_split": cal_split,
              "drop_worst_realism": drop_worst_realism, "drop_near_copies": drop_near_copies, "seed": seed,
              "confidence_thresholds": _per_class(real_ds.classes, conf_thr),
              "realism_thresholds": _per_class(real_ds.classes, real_thr),
              "near_copy": {"threshold_pixel_rms": mem.threshold_pixel, "percentile": mem.percentile,
                            "reference": "leave-one-out on train" if real_split == "train" else
                            f"real {real_split} vs train", "real_flag_rate": mem.chance_rate}}
    summary = _summary(syn.classes, y_syn, keep, low_conf, unreal & ~low_conf, copies & ~(low_conf | unreal),
                       y_val, real_pass)
    summary["rules"] = describe_rules(config)
    out = Path(out)
    _write_filtered(syn, syn_split, out, keep, syn_scores, config, summary, overwrite)
    rows = _csv_rows(syn, syn_split, y_syn, syn_scores, mem, low_conf, unreal, copies, keep)
    write_text(out / "filter_scores.csv", rows)
    write_json(out / "filter_config.json", {**config, "summary": summary})
    return summary


def _calibration_set(calibration: str | Path | None, real_ds: PreparedDataset) -> tuple[PreparedDataset, str]:
    """The real images the thresholds are calibrated on (never trained on by the filter's classifier)."""
    ds, split = PreparedDataset.open_spec(calibration, "val") if calibration else (real_ds, "val")
    if split not in ds.split_names or not ds.entries(split):
        raise SynthmedError(f"{ds.root}: no '{split}' split to calibrate the filter on (give --calibration "
                            f"DIR:split, or --real-pass-rate 0 and --min-confidence for a fixed threshold)")
    if ds.classes != real_ds.classes or (ds.resolution, ds.channels) != (real_ds.resolution, real_ds.channels):
        raise SynthmedError(f"{ds.root}: classes/resolution/channels differ from the real set {real_ds.root}")
    if split == "train" and ds.content_hash == real_ds.content_hash:
        raise SynthmedError(f"{ds.root}:train: the filter's classifier learnt from these images; calibrate on "
                            f"held-out ones (val)")
    return ds, split


def _scores(store: FeatureStore, ds: PreparedDataset, split: str, labels: np.ndarray, real_ds: PreparedDataset,
            domain: feat_mod.Extractor, clf: feat_mod.Extractor) -> Scores:
    """Intended-class probability and realism (against the real training images of that class)."""
    confidence = store.probs(ds, split, clf)[np.arange(len(labels)), labels]
    feats = store.features(ds, split, domain)
    f_train, y_train = store.features(real_ds, "train", domain), real_ds.labels("train")
    realism = np.zeros(len(labels))
    for k in range(real_ds.num_classes):
        m, mt = labels == k, y_train == k
        if m.any() and mt.sum() > 3:
            realism[m] = prdc.realism_scores(f_train[mt], feats[m])
    return Scores(confidence, realism)


def _fails_confidence(confidence: np.ndarray, labels: np.ndarray, thresholds: np.ndarray,
                      min_confidence: float | None) -> np.ndarray:
    low = confidence < thresholds[labels]
    if min_confidence is not None:
        low |= confidence < min_confidence
    return low


def _per_class(classes: list[str], thresholds: np.ndarray) -> dict[str, float | None]:
    return {c: float(t) if np.isfinite(t) else None for c, t in zip(classes, thresholds, strict=True)}


def describe_rules(config: dict) -> list[str]:
    """The active rules in words (printed and shown in the report)."""
    rules = []
    if config["real_pass_rate"] is not None:
        rules.append(f"confidence >= what {config['real_pass_rate']:.0%} of the real {config['calibration_split']} "
                     f"images of the class reach")
    if config["min_confidence"] is not None:
        rules.append(f"confidence >= {config['min_confidence']:g}")
    if config["realism_real_pass_rate"] is not None:
        rules.append(f"realism >= what {config['realism_real_pass_rate']:.0%} of the real "
                     f"{config['calibration_split']} images of the class reach")
    if config["drop_worst_realism"] > 0:
        rules.append(f"not in the {config['drop_worst_realism']:.0%} least realistic of its class")
    if config["drop_near_copies"]:
        rules.append("not a near copy of a training image")
    return rules


def _worst_fraction(realism: np.ndarray, labels: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the lowest-realism ``fraction`` of each class (rounded down)."""
    worst = np.zeros(len(labels), dtype=bool)
    if fraction <= 0:
        return worst
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        n_drop = int(np.floor(fraction * len(idx)))
        worst[idx[np.argsort(realism[idx], kind="stable")[:n_drop]]] = True
    return worst


def _summary(classes, labels, keep, low_conf, unreal_only, copies_only, real_labels, real_pass) -> dict[str, Any]:
    per_class = {}
    for k, name in enumerate(classes):
        m = labels == k
        row = {"total": int(m.sum()), "kept": int((keep & m).sum()), "removed": int((~keep & m).sum()),
               "low_confidence": int((low_conf & m).sum()), "unrealistic": int((unreal_only & m).sum()),
               "near_copy": int((copies_only & m).sum()),
               "synthetic_pass_rate": float((keep & m).sum() / m.sum()) if m.any() else None}
        mr = real_labels == k
        row["real_pass_rate"] = float(real_pass[mr].mean()) if real_pass is not None and mr.any() else None
        row["n_real"] = int(mr.sum())
        per_class[name] = row
    return {"per_class": per_class, "kept": int(keep.sum()), "removed": int((~keep).sum())}


def _write_filtered(syn: PreparedDataset, split: str, out: Path, keep: np.ndarray, scores: Scores, config: dict,
                    summary: dict, overwrite: bool) -> None:
    entries = syn.entries(split)
    with DatasetWriter(out, syn.classes, syn.resolution, syn.channels, syn.bit_depth, overwrite=overwrite) as w:
        for i in np.flatnonzero(keep):
            e = entries[i]
            extra = {k: v for k, v in e.items() if k not in ("path", "label")}
            extra.update(source_path=e["path"], filter_confidence=round(float(scores.confidence[i]), 6),
                         filter_realism=round(float(scores.realism[i]), 6))
            image = syn.load_image(e)
            w.add(image[:, :, 0] if syn.channels == 1 else image, int(e["label"]), split, **extra)
        w.finish(source={"type": "filtered", "from": str(syn.root), "split": split,
                         "from_content_hash": syn.content_hash, "config": config},
                 preprocessing=syn.meta.get("preprocessing", {}), filter_summary=summary)


def _csv_rows(syn, split, labels, scores: Scores, mem, low_conf, unreal, copies, keep) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["index", "path", "label", "class", "confidence", "realism", "nn_train_pixel", "dist_aligned_rms",
                     "nn_train_feature", "dist_feature", "near_copy", "decision", "reasons"])
    for i, e in enumerate(syn.entries(split)):
        reasons = [r for r, flag in (("low_confidence", low_conf[i]), ("unrealistic", unreal[i]),
                                     ("near_copy", copies[i])) if flag]
        writer.writerow([i, e["path"], int(labels[i]), syn.classes[labels[i]], f"{scores.confidence[i]:.6f}",
                         f"{scores.realism[i]:.6f}", int(mem.nn_pixel[i]), f"{mem.dist_pixel[i]:.6f}",
                         int(mem.nn_feature[i]), f"{mem.dist_feature[i]:.6f}", int(mem.flagged[i]),
                         "keep" if keep[i] else "remove", ";".join(reasons)])
    return buf.getvalue()


def keep_best_rejected(filtered: list[Path], shortfall: dict[str, int], out: Path) -> dict[str, dict[str, Any]]:
    """For each class short of what an experiment needs after filtering, the ``shortfall[class]`` images its
    confidence rule rejected with the highest intended-class confidence, as one prepared dataset at ``out``.

    Why: a generator may make a class the classifier rarely recognises (on RBC the cpu profile's GAN passes 1 % of
    its spherocytes against 90 % of real ones), and leaving out every condition that needs the class answers
    nothing; the experiment then uses the class's best images, and the report says they are below the bar. Only
    images rejected *solely* for low confidence qualify: a near copy of a training image (privacy) or an image
    failing the realism rule is never admitted. ``filtered``: output folders of ``filter_synthetic`` (their
    ``filter_scores.csv`` and ``filter_config.json``), searched together. Returns, per class, how many were
    admitted, and the lowest confidence admitted.
    """
    candidates: list[tuple[float, int, int, str]] = []  # (confidence, part, index, class)
    sources = []
    for part, folder in enumerate(filtered):
        config = _read_json(Path(folder) / "filter_config.json")
        sources.append(PreparedDataset.open_spec(config["synthetic"], "train"))
        with open(Path(folder) / "filter_scores.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["decision"] == "remove" and row["reasons"] == "low_confidence" and \
                        shortfall.get(row["class"], 0) > 0:
                    candidates.append((float(row["confidence"]), part, int(row["index"]), row["class"]))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))  # best first; ties in generation order (deterministic)
    taken: dict[str, list[tuple[float, int, int, str]]] = {c: [] for c in shortfall}
    for cand in candidates:
        if len(taken[cand[3]]) < shortfall[cand[3]]:
            taken[cand[3]].append(cand)
    first, _ = sources[0]
    with DatasetWriter(out, first.classes, first.resolution, first.channels, first.bit_depth) as w:
        for confidence, part, i, _name in sorted((c for cs in taken.values() for c in cs), key=lambda c: c[1:3]):
            syn, split = sources[part]
            e = syn.entries(split)[i]
            extra = {k: v for k, v in e.items() if k not in ("path", "label")}
            extra.update(source_path=e["path"], filter_confidence=round(confidence, 6), filter_relaxed=True)
            image = syn.load_image(e)
            w.add(image[:, :, 0] if syn.channels == 1 else image, int(e["label"]), "train", **extra)
        w.finish(source={"type": "filtered", "relaxed": True, "from": [str(f) for f in filtered]},
                 preprocessing=first.meta.get("preprocessing", {}))
    return {c: {"admitted": len(cs), "lowest_confidence": min((x[0] for x in cs), default=None)}
            for c, cs in taken.items()}


def _read_json(path: Path) -> dict[str, Any]:
    with open(path) as fh:
        return json.load(fh)


COUNTS = ("total", "kept", "removed", "low_confidence", "unrealistic", "near_copy")


def merge_filtered(parts: list[Path], summaries: list[dict[str, Any]], out: Path, overwrite: bool = False,
                   relaxed: tuple[Path, dict[str, int]] | None = None) -> dict[str, Any]:
    """One prepared dataset of several filter outputs of the same generator (the first pass and its top-ups).

    Returns the summed summary: counts add up, the synthetic pass rate is kept / total over all parts, the
    real pass rate and the rules are the first part's (every part is filtered with the same thresholds).
    ``relaxed``: the folder of ``keep_best_rejected`` and its per-class counts; its images join the dataset and
    count as kept (``relaxed`` per class) instead of removed; the pass rate stays what passed the rules.
    """
    datasets = [PreparedDataset.open(p) for p in [*parts, *([relaxed[0]] if relaxed else [])]]
    first = datasets[0]
    with DatasetWriter(out, first.classes, first.resolution, first.channels, first.bit_depth,
                       overwrite=overwrite) as w:
        for ds in datasets:
            for e in ds.entries("train"):
                image = ds.load_image(e)
                w.add(image[:, :, 0] if ds.channels == 1 else image, int(e["label"]), "train",
                      **{k: v for k, v in e.items() if k not in ("path", "label")})
        summary = _sum_summaries(summaries)
        for name, n in (relaxed[1] if relaxed else {}).items():
            row = summary["per_class"][name]
            row.update(kept=row["kept"] + n, removed=row["removed"] - n, relaxed=n)
            summary["kept"] += n
            summary["removed"] -= n
        w.finish(source={"type": "filtered", "parts": [ds.meta.get("source", {}) for ds in datasets]},
                 preprocessing=first.meta.get("preprocessing", {}), filter_summary=summary)
    return summary


def _sum_summaries(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    out = {**summaries[0], "per_class": {}}
    for name, row in summaries[0]["per_class"].items():
        total = {c: sum(s["per_class"][name][c] for s in summaries) for c in COUNTS}
        out["per_class"][name] = {**row, **total,
                                  "synthetic_pass_rate": total["kept"] / total["total"] if total["total"] else None}
    out["kept"] = sum(s["kept"] for s in summaries)
    out["removed"] = sum(s["removed"] for s in summaries)
    return out
