"""``filter_synthetic``: keep synthetic images that look like their class, look real, and copy no patient.

Three tests per synthetic image, each optional:
(a) a classifier trained on real data gives its intended class probability >= ``min_confidence``;
(b) its realism score (Kynkäänniemi et al. 2019, in the domain feature space) is not among the
    lowest ``drop_worst_realism`` fraction *of its class* (so a rare class is not emptied);
(c) it is not a near copy of a training image (the memorization criterion of ``synthmed metrics``).
The kept images form a new prepared dataset (extra per-image fields kept, scores added), with
``filter_scores.csv`` (every image's scores and decision) and ``filter_config.json`` beside it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthmed.dataset import DatasetWriter, PreparedDataset, check_alike
from synthmed.errors import BadInputError, SynthmedError
from synthmed.metrics import features as feat_mod
from synthmed.metrics import memorization, prdc
from synthmed.metrics.cache import FeatureCache, default_cache_dir
from synthmed.utils.atomic import write_json, write_text


def load_classifier(path: str | Path, classes: list[str]) -> tuple[torch.nn.Module, str]:
    """A classifier returning logits: a ``synthmed train-classifier`` model folder, or a saved nn.Module."""
    path = Path(path)
    if path.is_dir() or path.suffix == ".pt":
        try:
            from synthmed.classify.models import load_model

            model, meta = load_model(path)
            if list(meta.get("classes", classes)) != list(classes):
                raise SynthmedError(f"{path}: classifier classes {meta['classes']} differ from {classes}")
            return model, f"synthmed classifier {path}"
        except (ImportError, BadInputError, KeyError):
            if path.is_dir():
                raise
    model, ident = feat_mod.load_user_extractor(path)
    return model, f"user model {path} ({ident})"


def filter_synthetic(synthetic: str | Path, real: str | Path, out: str | Path, classifier: str | Path | None = None,
                     min_confidence: float = 0.5, drop_worst_realism: float = 0.0, drop_near_copies: bool = True,
                     seed: int = 0, *, cache_dir: str | Path | None = "default", overwrite: bool = False,
                     progress: bool = True) -> dict[str, Any]:
    """Filter ``synthetic`` (``DIR[:split]``) against ``real`` (``DIR[:split]``); returns per-class counts."""
    if not 0.0 <= min_confidence <= 1.0:
        raise SynthmedError(f"--min-confidence must be in [0, 1], got {min_confidence}")
    if not 0.0 <= drop_worst_realism < 1.0:
        raise SynthmedError(f"--drop-worst-realism must be in [0, 1), got {drop_worst_realism}")
    syn, syn_split = PreparedDataset.open_spec(synthetic, "train")
    real_ds, real_split = PreparedDataset.open_spec(real, "train")
    check_alike(syn, real_ds)
    cache = FeatureCache(default_cache_dir() if cache_dir == "default" else cache_dir)
    cnn, cnn_id = feat_mod.domain_cnn_for(real_ds, cache.root, feat_mod.DomainCNNConfig(seed=seed), progress)
    clf, clf_id = (load_classifier(classifier, real_ds.classes) if classifier else (cnn, f"domain CNN {cnn_id}"))

    x_syn, y_syn = syn.load_tensor(syn_split)
    y_syn = y_syn.numpy()
    x_train, _ = real_ds.load_tensor("train")
    confidence = feat_mod.predict_proba(clf, x_syn)[np.arange(len(y_syn)), y_syn]
    f_syn, f_train = feat_mod.extract(cnn, x_syn), feat_mod.extract(cnn, x_train)
    y_train = real_ds.labels("train")
    realism = np.zeros(len(y_syn))
    for k in range(real_ds.num_classes):  # realism against the real images of the intended class
        m, mt = y_syn == k, y_train == k
        if m.any() and mt.sum() > 3:
            realism[m] = prdc.realism_scores(f_train[mt], f_syn[m])
    loo = real_split == "train"
    ref_x = None if loo else real_ds.load_tensor(real_split)[0]
    mem = memorization.check_memorization(
        f_syn, f_train, memorization.pixel_vectors(x_syn), memorization.pixel_vectors(x_train),
        None if loo else feat_mod.extract(cnn, ref_x), None if loo else memorization.pixel_vectors(ref_x))

    low_conf = confidence < min_confidence
    unreal = _worst_fraction(realism, y_syn, drop_worst_realism)
    copies = mem.flagged if drop_near_copies else np.zeros(len(y_syn), dtype=bool)
    keep = ~(low_conf | unreal | copies)

    config = {"synthetic": f"{syn.root}:{syn_split}", "real": f"{real_ds.root}:{real_split}",
              "classifier": clf_id, "feature_extractor": cnn_id, "min_confidence": min_confidence,
              "drop_worst_realism": drop_worst_realism, "drop_near_copies": drop_near_copies, "seed": seed,
              "near_copy_thresholds": {"feature": mem.threshold_feature, "pixel_rms": mem.threshold_pixel,
                                       "reference": "leave-one-out on train" if loo else f"real {real_split} vs train"}}
    summary = _summary(syn.classes, y_syn, keep, low_conf, unreal & ~low_conf, copies & ~(low_conf | unreal))
    out = Path(out)
    _write_filtered(syn, syn_split, out, keep, confidence, realism, config, summary, overwrite)
    rows = _csv_rows(syn, syn_split, y_syn, confidence, realism, mem, low_conf, unreal, copies, keep)
    write_text(out / "filter_scores.csv", rows)
    write_json(out / "filter_config.json", {**config, "summary": summary})
    return summary


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


def _summary(classes, labels, keep, low_conf, unreal_only, copies_only) -> dict[str, Any]:
    per_class = {}
    for k, name in enumerate(classes):
        m = labels == k
        per_class[name] = {"total": int(m.sum()), "kept": int((keep & m).sum()), "removed": int((~keep & m).sum()),
                           "low_confidence": int((low_conf & m).sum()), "unrealistic": int((unreal_only & m).sum()),
                           "near_copy": int((copies_only & m).sum())}
    return {"per_class": per_class, "kept": int(keep.sum()), "removed": int((~keep).sum())}


def _write_filtered(syn: PreparedDataset, split: str, out: Path, keep: np.ndarray, confidence: np.ndarray,
                    realism: np.ndarray, config: dict, summary: dict, overwrite: bool) -> None:
    entries = syn.entries(split)
    with DatasetWriter(out, syn.classes, syn.resolution, syn.channels, syn.bit_depth, overwrite=overwrite) as w:
        for i in np.flatnonzero(keep):
            e = entries[i]
            extra = {k: v for k, v in e.items() if k not in ("path", "label")}
            extra.update(source_path=e["path"], filter_confidence=round(float(confidence[i]), 6),
                         filter_realism=round(float(realism[i]), 6))
            image = syn.load_image(e)
            w.add(image[:, :, 0] if syn.channels == 1 else image, int(e["label"]), split, **extra)
        w.finish(source={"type": "filtered", "from": str(syn.root), "split": split,
                         "from_content_hash": syn.content_hash, "config": config},
                 preprocessing=syn.meta.get("preprocessing", {}), filter_summary=summary)


def _csv_rows(syn, split, labels, confidence, realism, mem, low_conf, unreal, copies, keep) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["index", "path", "label", "class", "confidence", "realism", "nn_train_feature",
                     "dist_feature", "nn_train_pixel", "dist_pixel_rms", "near_copy", "decision", "reasons"])
    for i, e in enumerate(syn.entries(split)):
        reasons = [r for r, flag in (("low_confidence", low_conf[i]), ("unrealistic", unreal[i]),
                                     ("near_copy", copies[i])) if flag]
        writer.writerow([i, e["path"], int(labels[i]), syn.classes[labels[i]], f"{confidence[i]:.6f}",
                         f"{realism[i]:.6f}", int(mem.nn_feature[i]), f"{mem.dist_feature[i]:.6f}",
                         int(mem.nn_pixel[i]), f"{mem.dist_pixel[i]:.6f}", int(mem.flagged[i]),
                         "keep" if keep[i] else "remove", ";".join(reasons)])
    return buf.getvalue()
