"""Many-class statistics: macro one-vs-rest AUC by hand and against scikit-learn, the permutation test against
exact enumeration, the two-class case against the binary path, and the grid comparison end to end."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from synthmed.stats.bootstrap import bootstrap_metrics
from synthmed.stats.compare import compare_results
from synthmed.stats.delong import delong_test
from synthmed.stats.multiclass import (
    bootstrap_macro,
    macro_auc,
    per_class_tests,
    permutation_test,
    permutations_for_family,
)

# 6 images, 3 classes (two each); rows are probabilities of classes 0, 1, 2.
LABELS = np.array([0, 0, 1, 1, 2, 2])
SCORES = np.array([[0.7, 0.2, 0.1],
                   [0.4, 0.4, 0.2],
                   [0.3, 0.5, 0.2],
                   [0.5, 0.3, 0.2],
                   [0.1, 0.3, 0.6],
                   [0.2, 0.5, 0.3]])


def test_macro_auc_by_hand_and_sklearn() -> None:
    # Class 0 vs rest: positives 0.7, 0.4; negatives 0.3, 0.5, 0.1, 0.2. Pairs won: 0.7 beats all 4,
    # 0.4 beats 0.3, 0.1, 0.2 (3): 7/8. Class 1: positives 0.5, 0.3 vs 0.2, 0.4, 0.3, 0.5: 0.5 beats 0.2, 0.4, 0.3
    # and ties 0.5 (3.5); 0.3 beats 0.2, ties 0.3 (1.5): 5/8. Class 2: positives 0.6, 0.3 vs 0.1, 0.2, 0.2, 0.2:
    # 4 + 4 = 8/8. Macro: (7/8 + 5/8 + 8/8) / 3 = 20/24.
    assert macro_auc(LABELS, SCORES) == pytest.approx(20 / 24)
    assert macro_auc(LABELS, SCORES) == pytest.approx(roc_auc_score(LABELS, SCORES, multi_class="ovr",
                                                                    average="macro"))


def _pair_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """AUC by counting every (positive, negative) pair: wins 1, ties 1/2 (the definition, no ranks)."""
    pos, neg = score[positive][:, None], score[~positive][None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def _exact_permutation_p(labels, a, b) -> float:
    """Every one of the 2^N swaps of the rank-transformed scores: the exact two-sided permutation p."""
    def macro(s):
        return np.mean([_pair_auc(labels == c, s[:, c]) for c in range(s.shape[1])])

    a, b = (np.column_stack([rankdata(s[:, c]) for c in range(s.shape[1])]) for s in (a, b))
    observed = abs(macro(a) - macro(b))
    hits = 0
    for swap in itertools.product([False, True], repeat=len(labels)):
        m = np.array(swap)[:, None]
        hits += abs(macro(np.where(m, b, a)) - macro(np.where(m, a, b))) >= observed - 1e-12
    return hits / 2 ** len(labels)


def test_permutation_test_matches_exact_enumeration() -> None:
    rng = np.random.default_rng(3)
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    a = rng.dirichlet([1, 1, 1], 9) + 0.6 * np.eye(3)[labels]
    b = rng.dirichlet([1, 1, 1], 9)
    a, b = a / a.sum(1, keepdims=True), b / b.sum(1, keepdims=True)
    exact = _exact_permutation_p(labels, a, b)
    res = permutation_test(labels, a, b, np.random.default_rng(0), n_perm=20000)
    assert res["diff"] == pytest.approx(macro_auc(labels, a) - macro_auc(labels, b))
    assert 0.005 < exact < 0.5  # a case where the answer is neither trivial nor certain
    assert res["p"] == pytest.approx(exact, abs=0.01)  # Monte Carlo error at 20000 draws: about 0.002


def test_permutation_test_known_extremes() -> None:
    labels = np.repeat([0, 1, 2], 30)
    rng = np.random.default_rng(1)
    perfect = np.eye(3)[labels] * 0.8 + 0.1
    noise = rng.dirichlet([1, 1, 1], labels.size)
    same = permutation_test(labels, noise, noise, np.random.default_rng(0), n_perm=500)
    assert same["diff"] == 0 and same["p"] == 1.0  # identical models: every permutation is as extreme
    far = permutation_test(labels, perfect, noise, np.random.default_rng(0), n_perm=500)
    assert far["p"] == pytest.approx(1 / 501)  # no permutation reaches a perfect model's lead


def test_permutation_test_holds_its_level_for_differently_calibrated_equal_models() -> None:
    """H0 true: b is an independent copy of a's model with every score cubed (same AUC, other calibration).
    Rejections at 0.1 stay near 10 % (200 data sets: binomial sd 2 %)."""
    rng = np.random.default_rng(11)
    labels = np.repeat([0, 1, 2], 20)
    p_values = []
    for _ in range(200):
        a, b = (rng.dirichlet([1, 1, 1], labels.size) + 0.3 * np.eye(3)[labels] for _ in range(2))
        p_values.append(permutation_test(labels, a, b ** 3, rng, n_perm=199)["p"])
    assert 0.04 <= np.mean(np.array(p_values) <= 0.1) <= 0.17


def test_two_classes_through_the_many_class_path_equal_the_binary_numbers() -> None:
    """K = 2: macro AUC = the binary AUC, its class-stratified bootstrap interval = the binary one (same
    resamples), and each class's DeLong test = the binary DeLong test."""
    rng = np.random.default_rng(5)
    labels = np.r_[np.zeros(30, int), np.ones(50, int)]
    p0 = np.round(rng.uniform(size=80) * 0.5 + 0.4 * (labels == 0), 4) / 1.0
    a = np.stack([p0, 1 - p0], axis=1)
    q0 = np.round(rng.uniform(size=80), 4)
    b = np.stack([q0, 1 - q0], axis=1)
    pred_a, pred_b = a.argmax(1), b.argmax(1)
    binary = bootstrap_metrics(labels == 0, np.stack([a[:, 0], b[:, 0]]), np.stack([pred_a == 0, pred_b == 0]),
                               np.random.default_rng(9), 2000)
    macro = bootstrap_macro(labels, np.stack([a, b]), np.stack([pred_a, pred_b]), np.random.default_rng(9), 2000)
    for i in (0, 1):
        assert macro["models"][i]["auc"] == pytest.approx(binary["models"][i]["auc"])
    assert macro["difference"]["auc"] == pytest.approx(binary["difference"]["auc"])
    ref = delong_test(labels == 0, a[:, 0], b[:, 0])
    for c in per_class_tests(labels, a, b, pred_a, pred_b, ["x", "y"]):
        assert (c["auc"], c["baseline_auc"], c["p"]) == pytest.approx((ref.auc_a, ref.auc_b, ref.p))


def _write_three_class_experiment(folder, n_per_class=40):
    """Two seeds each of: a baseline; a condition whose class-2 score separates class 2 far better (the other
    columns, hence the other classes' one-vs-rest AUCs, unchanged); and one identical to the baseline."""
    labels = np.repeat([0, 1, 2], n_per_class)
    onehot = np.eye(3)[labels]
    rows = []
    for source, ratio in (("real", 0), ("mixed", 100), ("synthetic", 100)):
        for seed in (0, 1):
            noise = np.random.default_rng([seed, 7]).normal(0, 1, onehot.shape)
            scores = 1 / (1 + np.exp(-(onehot * 0.8 + noise)))
            if source == "mixed":
                scores[:, 2] = 1 / (1 + np.exp(-(onehot[:, 2] * 3.0 + noise[:, 2])))
            run_id = f"{source}-s{seed}"
            path = folder / "runs" / run_id / "predictions.csv"
            path.parent.mkdir(parents=True)
            lines = ["index,label,pred,score_0,score_1,score_2"]
            lines += [f"{i},{y},{p.argmax()},{p[0]:.8g},{p[1]:.8g},{p[2]:.8g}" for i, (y, p) in
                      enumerate(zip(labels, scores, strict=True))]
            path.write_text("\n".join(lines) + "\n")
            rows.append({"run_id": run_id, "source": source, "ratio": ratio, "real_fraction": 1.0,
                         "augment": "none", "seed": seed, "arch": "cnn", "positive_class": None,
                         "metrics": {"auc": 0.0, "threshold": None,
                                     "per_class": {n: {} for n in ("ant", "bee", "cat")}},
                         "predictions": f"runs/{run_id}/predictions.csv"})
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_grid_comparison_names_the_class_that_got_better(tmp_path) -> None:
    _write_three_class_experiment(tmp_path)
    result = compare_results(tmp_path, out=tmp_path / "stats.json")
    mixed, synthetic = sorted(result["comparisons"], key=lambda c: c["config"]["source"])
    assert mixed["primary_test"] == "permutation (macro one-vs-rest AUC)" and mixed["positive_class"] is None
    assert mixed["verdict"] == "better" and mixed["classes_better"] == ["cat"] and mixed["classes_worse"] == []
    assert "better for cat" in mixed["sentence"] and "no class worse" in mixed["sentence"]
    assert synthetic["verdict"] == "no significant difference" and synthetic["p_primary"] == 1.0
    assert synthetic["classes_better"] == synthetic["classes_worse"] == []
    # Holm runs over 2 primary + 2 x 3 per-class p-values: the smallest is multiplied by 8.
    family = [c["p_primary"] for c in result["comparisons"]] + [k["p"] for c in result["comparisons"]
                                                                  for k in c["per_class"]]
    smallest = min(family)
    holm_of_smallest = [c["p_holm"] for c in result["comparisons"] if c["p_primary"] == smallest] + [
        k["p_holm"] for c in result["comparisons"] for k in c["per_class"] if k["p"] == smallest]
    assert holm_of_smallest[0] == pytest.approx(min(1.0, 8 * smallest))
    assert "macro one-vs-rest AUC" in result["settings"]["primary_test"]
    header = (tmp_path / "stats.csv").read_text().splitlines()[0]
    assert header.endswith("primary_test,primary_p,p_holm,classes_better,classes_worse")


def test_the_permutation_count_grows_with_the_holm_family_so_its_floor_cannot_decide_a_verdict(tmp_path) -> None:
    # 21 comparisons of 6 classes: 147 p-values; 4 * 147 / 0.05 - 1 permutations put 147 / (n + 1) at alpha / 4
    assert permutations_for_family(147, 0.05, 2000) == 11759
    assert permutations_for_family(8, 0.05, 2000) == 2000  # small families keep the bootstrap's count
    assert 147 / (permutations_for_family(147, 0.05, 2000) + 1) == pytest.approx(0.05 / 4)
    _write_three_class_experiment(tmp_path)
    result = compare_results(tmp_path, alpha=0.001)  # 2 comparisons x (1 + 3 classes) = 8 p-values
    assert {c["ensemble"]["permutation"]["n_perm"] for c in result["comparisons"]} == {31999}
    assert "31999 permutations" in result["settings"]["primary_test"]
