"""Evaluation metrics: hand-computed cases and agreement with scikit-learn / torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torchmetrics.functional.classification import binary_auroc, multiclass_auroc

from synthmed.classify.evaluate import auc_score, compute_metrics, predictions_csv, youden_threshold
from synthmed.classify.results import read_predictions


def _probs_binary(p_pos: np.ndarray, positive: int) -> np.ndarray:
    out = np.zeros((len(p_pos), 2))
    out[:, positive] = p_pos
    out[:, 1 - positive] = 1 - p_pos
    return out


def test_auc_hand_computed() -> None:
    # Pairs (negative, positive): (0.1,0.35) ok, (0.1,0.8) ok, (0.4,0.35) wrong, (0.4,0.8) ok -> 3/4.
    labels = np.array([0, 0, 1, 1])
    probs = _probs_binary(np.array([0.1, 0.4, 0.35, 0.8]), positive=1)
    assert auc_score(labels, probs, positive=1) == pytest.approx(0.75)


@pytest.mark.parametrize("positive", [0, 1])
def test_binary_auc_equals_sklearn_and_torchmetrics(positive: int) -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    p = np.clip(rng.normal(0.5 + 0.2 * (labels == positive), 0.25), 0, 1)
    probs = _probs_binary(p, positive)
    ours = auc_score(labels, probs, positive)
    assert ours == pytest.approx(skm.roc_auc_score(labels == positive, p), abs=1e-12)
    assert ours == pytest.approx(float(binary_auroc(torch.tensor(p), torch.tensor(labels == positive).long())),
                                 abs=1e-6)


def test_multiclass_macro_auc_equals_sklearn_and_torchmetrics() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 150)
    logits = rng.normal(size=(150, 3)) + 1.5 * np.eye(3)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    ours = auc_score(labels, probs, None)
    assert ours == pytest.approx(skm.roc_auc_score(labels, probs, multi_class="ovr", average="macro"), abs=1e-12)
    tm = multiclass_auroc(torch.tensor(probs), torch.tensor(labels), num_classes=3, average="macro")
    assert ours == pytest.approx(float(tm), abs=1e-6)


def test_youden_threshold_hand_computed() -> None:
    # At 0.8: TPR 0.5, FPR 0 (J 0.5); at 0.35: TPR 1, FPR 0.5 (J 0.5); the first (stricter) maximum wins.
    assert youden_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.8)
    # Perfect separation: the lowest positive score.
    assert youden_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.6, 0.9])) == pytest.approx(0.6)
    assert youden_threshold(np.array([1, 1]), np.array([0.1, 0.2])) == 0.5


def test_binary_metrics_hand_computed() -> None:
    # Positive class 0. Scores of class 0: [0.9, 0.6, 0.3, 0.7, 0.2, 0.1] at threshold 0.5.
    labels = np.array([0, 0, 0, 1, 1, 1])
    probs = _probs_binary(np.array([0.9, 0.6, 0.3, 0.7, 0.2, 0.1]), positive=0)
    m = compute_metrics(labels, probs, ["malignant", "benign"], positive=0, threshold=0.5)
    # Predicted class 0 for the first two and the fourth: TP 2, FN 1, FP 1, TN 2.
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    assert (m["sensitivity"], m["specificity"], m["accuracy"]) == pytest.approx((2 / 3, 2 / 3, 4 / 6))
    assert m["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert m["auc"] == pytest.approx(skm.roc_auc_score(labels == 0, probs[:, 0]))
    assert (m["threshold"], m["positive_class"], m["positive_class_name"]) == (0.5, 0, "malignant")
    assert m["roc"]["fpr"][-1] == 1.0 and m["roc"]["tpr"][-1] == 1.0


def test_multiclass_metrics_macro_with_per_class() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    preds = np.array([0, 1, 1, 1, 2, 0])
    probs = np.full((6, 3), 0.1)
    probs[np.arange(6), preds] = 0.8
    m = compute_metrics(labels, probs, ["a", "b", "c"], positive=None, threshold=None)
    assert m["sensitivity"] == pytest.approx(skm.recall_score(labels, preds, average="macro"))
    assert m["f1"] == pytest.approx(skm.f1_score(labels, preds, average="macro"))
    # Specificity of class a: 4 negatives, one (a 'c') predicted a -> 3/4; b: 3/4; c: 4/4.
    assert [m["per_class"][c]["specificity"] for c in "abc"] == pytest.approx([0.75, 0.75, 1.0])
    assert m["specificity"] == pytest.approx((0.75 + 0.75 + 1.0) / 3)
    assert m["threshold"] is None and m["decision"] == "argmax"


def test_predictions_csv_round_trip(tmp_path) -> None:
    probs = np.array([[0.25, 0.75], [0.9, 0.1]])
    path = tmp_path / "p.csv"
    path.write_text(predictions_csv(np.array([0, 1]), np.array([1, 0]), np.array([1, 0]), probs))
    assert path.read_text().splitlines()[0] == "index,label,pred,score_0,score_1"
    back = read_predictions(path)
    assert back.label.tolist() == [1, 0] and np.allclose(back.scores, probs)
