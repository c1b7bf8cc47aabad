"""Test metrics on real images: AUC, accuracy, sensitivity, specificity, F1, confusion matrix, ROC.

Binary tasks score the *positive class* (default: the minority class of the real training split) and
call an image positive when its probability reaches the threshold chosen on the validation split by
Youden's J (max sensitivity + specificity - 1). More classes: macro one-vs-rest AUC, argmax
predictions, and macro sensitivity/specificity/F1 with the per-class values beside them.
The per-image probabilities are saved for the statistics stage (DeLong, bootstrap, McNemar).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn import metrics as skm

from synthmed.classify.models import load_model, pick_device
from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.utils.atomic import write_json, write_text

PREDICTIONS_NAME = "predictions.csv"


def auc_score(labels: np.ndarray, probs: np.ndarray, positive: int | None) -> float:
    """Binary AUC of the positive class, or macro one-vs-rest AUC; NaN when a class is missing."""
    labels = np.asarray(labels)
    k = probs.shape[1]
    if k == 2:
        y = (labels == positive).astype(int)
        return float(skm.roc_auc_score(y, probs[:, positive])) if 0 < y.sum() < len(y) else float("nan")
    if len(np.unique(labels)) < k:
        return float("nan")
    return float(skm.roc_auc_score(labels, probs, multi_class="ovr", average="macro", labels=list(range(k))))


def youden_threshold(y_positive: np.ndarray, scores: np.ndarray) -> float:
    """Threshold maximizing sensitivity + specificity - 1 on (validation) scores; 0.5 if undefined."""
    y = np.asarray(y_positive).astype(int)
    if y.sum() in (0, len(y)):
        return 0.5
    fpr, tpr, thresholds = skm.roc_curve(y, scores)
    finite = np.isfinite(thresholds)  # sklearn's first threshold is +inf (nothing called positive)
    j = np.where(finite, tpr - fpr, -np.inf)
    return float(thresholds[int(np.argmax(j))])


def predict_labels(probs: np.ndarray, positive: int | None, threshold: float | None) -> np.ndarray:
    if probs.shape[1] == 2 and positive is not None and threshold is not None:
        return np.where(probs[:, positive] >= threshold, positive, 1 - positive)
    return probs.argmax(axis=1)


def compute_metrics(labels: np.ndarray, probs: np.ndarray, classes: list[str], positive: int | None,
                    threshold: float | None) -> dict[str, Any]:
    """Every test metric from per-image probabilities (rows sum to 1)."""
    labels = np.asarray(labels, dtype=np.int64)
    k = len(classes)
    preds = predict_labels(probs, positive, threshold)
    cm = skm.confusion_matrix(labels, preds, labels=list(range(k)))
    out: dict[str, Any] = {"auc": auc_score(labels, probs, positive),
                           "accuracy": float(skm.accuracy_score(labels, preds))}
    if k == 2:
        neg = 1 - int(positive)  # type: ignore[arg-type]
        sens, spec = _recall(cm, int(positive)), _recall(cm, neg)  # type: ignore[arg-type]
        out |= {"sensitivity": sens, "specificity": spec,
                "f1": float(skm.f1_score(labels, preds, pos_label=positive, average="binary", zero_division=0)),
                "threshold": float(threshold) if threshold is not None else None,
                "positive_class": int(positive), "positive_class_name": classes[int(positive)]}  # type: ignore[arg-type]
        y = (labels == positive).astype(int)
        out["roc"] = _roc(y, probs[:, positive]) if 0 < y.sum() < len(y) else None
    else:
        per_class = _per_class(labels, probs, preds, cm, classes)
        out |= {"sensitivity": float(np.mean([c["sensitivity"] for c in per_class.values()])),
                "specificity": float(np.mean([c["specificity"] for c in per_class.values()])),
                "f1": float(skm.f1_score(labels, preds, average="macro", labels=list(range(k)), zero_division=0)),
                "threshold": None, "decision": "argmax", "positive_class": None, "per_class": per_class}
    out |= {"n": len(labels), "classes": classes, "confusion_matrix": cm.tolist(),
            "confusion_matrix_axes": "rows = true class, columns = predicted class"}
    return out


def _recall(cm: np.ndarray, k: int) -> float:
    row = cm[k].sum()
    return float(cm[k, k] / row) if row else float("nan")


def _specificity(cm: np.ndarray, k: int) -> float:
    negatives = cm.sum() - cm[k].sum()
    false_pos = cm[:, k].sum() - cm[k, k]
    return float((negatives - false_pos) / negatives) if negatives else float("nan")


def _roc(y: np.ndarray, scores: np.ndarray) -> dict[str, list[float]]:
    fpr, tpr, thresholds = skm.roc_curve(y, scores)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(),
            "thresholds": [float(t) if np.isfinite(t) else None for t in thresholds]}


def _per_class(labels, probs, preds, cm, classes) -> dict[str, dict[str, Any]]:
    f1s = skm.f1_score(labels, preds, average=None, labels=list(range(len(classes))), zero_division=0)
    out = {}
    for k, name in enumerate(classes):
        y = (labels == k).astype(int)
        defined = 0 < y.sum() < len(y)
        out[name] = {"auc": float(skm.roc_auc_score(y, probs[:, k])) if defined else float("nan"),
                     "sensitivity": _recall(cm, k), "specificity": _specificity(cm, k), "f1": float(f1s[k]),
                     "support": int(y.sum()), "roc": _roc(y, probs[:, k]) if defined else None}
    return out


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 256,
            device: str | torch.device = "cpu") -> np.ndarray:
    """Softmax probabilities (N, K) as float64, in eval mode."""
    model.eval()
    out = [torch.softmax(model(images[i:i + batch_size].to(device)).float(), dim=1).cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out).double().numpy() if out else np.zeros((0, 0))


def predictions_csv(indices: np.ndarray, labels: np.ndarray, preds: np.ndarray, probs: np.ndarray) -> str:
    """CSV text with columns ``index,label,pred,score_0..score_{K-1}`` (index = position in the split)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["index", "label", "pred", *[f"score_{k}" for k in range(probs.shape[1])]])
    for i, y, p, row in zip(indices, labels, preds, probs, strict=True):
        writer.writerow([int(i), int(y), int(p), *[f"{v:.8g}" for v in row]])
    return buf.getvalue()


def evaluate_model(model_dir: str | Path, test: str, out: str | Path, batch_size: int = 256,
                   device: str = "auto", predictions: str | Path | None = None) -> dict[str, Any]:
    """Evaluate a trained classifier on real test images; write the JSON and the predictions CSV."""
    model, meta = load_model(model_dir)
    ds, split = PreparedDataset.open_spec(test, "test")
    _check_test_set(ds, meta)
    dev = pick_device(device)
    images, labels = ds.load_tensor(split)
    probs = predict(model.to(dev), images, batch_size, dev)
    positive, threshold = meta.get("positive_class"), meta.get("threshold")
    result = compute_metrics(labels.numpy(), probs, meta["classes"], positive, threshold)
    out = Path(out)
    pred_path = Path(predictions) if predictions else out.parent / PREDICTIONS_NAME
    preds = predict_labels(probs, positive, threshold)
    write_text(pred_path, predictions_csv(np.arange(len(labels)), labels.numpy(), preds, probs))
    result |= {"threshold_source": "validation (Youden's J)" if threshold is not None else "argmax",
               "predictions": _relative(pred_path, out.parent), "model_dir": _relative(Path(model_dir), out.parent),
               "test": {"path": str(ds.root), "split": split, "content_hash": ds.content_hash,
                        "counts": ds.class_counts(split)}}
    write_json(out, result)
    return result


def _check_test_set(ds: PreparedDataset, meta: dict[str, Any]) -> None:
    if ds.classes != meta["classes"]:
        raise SynthmedError(f"{ds.root}: classes {ds.classes} differ from the model's {meta['classes']}")
    if (ds.resolution, ds.channels) != (meta["resolution"], meta["in_chans"]):
        raise SynthmedError(f"{ds.root}: images are {ds.resolution}px x{ds.channels}, the model was trained on "
                            f"{meta['resolution']}px x{meta['in_chans']}")


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())
