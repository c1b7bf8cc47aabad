"""The RBC study's statistics (benchmarks/imbalance_study.py) on made-up predictions, against scikit-learn."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

SPEC = importlib.util.spec_from_file_location(
    "imbalance_study", Path(__file__).resolve().parents[2] / "benchmarks" / "imbalance_study.py")
study = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(study)
CLASSES = ["normal", "ovalocyte", "stomatocyte", "teardrop"]


def _predictions(rng: np.random.Generator, labels: np.ndarray, skill: float) -> np.ndarray:
    logits = rng.normal(size=(len(labels), len(CLASSES)))
    logits[np.arange(len(labels)), labels] += skill
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def test_macro_auc_matches_sklearn_and_a_model_against_itself_differs_by_nothing() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), [40, 20, 15, 10])
    a, b = _predictions(rng, labels, 1.5), _predictions(rng, labels, 0.5)
    out = study.macro_auc_bootstrap(labels, a, b, np.random.default_rng(1))
    assert out["auc_a"] == pytest.approx(roc_auc_score(labels, a, multi_class="ovr", average="macro"))
    assert out["auc_b"] == pytest.approx(roc_auc_score(labels, b, multi_class="ovr", average="macro"))
    assert out["diff"] == pytest.approx(out["auc_a"] - out["auc_b"])
    assert out["diff_ci"][0] > 0 and out["p"] < 0.01  # skill 1.5 vs 0.5 on 85 cases: clearly better
    same = study.macro_auc_bootstrap(labels, a, a, np.random.default_rng(1))
    assert same["diff"] == 0 and same["diff_ci"] == [0.0, 0.0] and same["p"] == 1.0


def test_analysis_tests_each_arm_against_real_only_with_holm_over_the_study() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), [40, 20, 15, 10])

    def unit(arm: str, seed: int, skill: float) -> dict:
        probs = _predictions(rng, labels, skill)
        per_class = {c: {"sensitivity": float((probs.argmax(1)[labels == i] == i).mean())}
                     for i, c in enumerate(CLASSES)}
        return {"arm": arm, "seed": seed, "labels": labels.tolist(), "probs": probs.tolist(), "test_hash": "h",
                "auc": roc_auc_score(labels, probs, multi_class="ovr"), "per_class": per_class}

    units = {"real": [unit("real", s, 1.0) for s in (0, 1)], "real+x": [unit("real+x", s, 2.0) for s in (0, 1)]}
    result = study.analyse(units, CLASSES)
    row = result["arms"]["real+x"]
    assert set(row["rare"]) == {"teardrop", "stomatocyte"}
    # three tests in the family: Holm multiplies the smallest p by 3 (capped at 1)
    ps = [row["macro_auc"]["p"], row["rare"]["teardrop"]["p_mcnemar"], row["rare"]["stomatocyte"]["p_mcnemar"]]
    assert row["macro_auc"]["p_holm"] >= row["macro_auc"]["p"]
    assert min(row["macro_auc"]["p_holm"], row["rare"]["teardrop"]["p_holm"],
               row["rare"]["stomatocyte"]["p_holm"]) == pytest.approx(min(1.0, 3 * min(ps)))
    assert row["macro_auc"]["diff"] > 0 and "Holm over 3 tests" in result["family"]
    assert result["test_counts"] == {"normal": 40, "ovalocyte": 20, "stomatocyte": 15, "teardrop": 10}
    assert "macro_auc" not in result["arms"]["real"]
