"""Statistics against hand-computed values and the reference libraries."""

from __future__ import annotations

import pytest

from synthmed.reader_study.results import agreement, compute_results, confusion_stats, render_text, results_csv


def _rows(reader: str, pairs: list[tuple[str, str]], cls: str = "c") -> list[dict]:
    return [{"reader": reader, "image_id": f"img{i}", "truth": t, "answer": a, "class_name": cls, "confidence": None}
            for i, (t, a) in enumerate(pairs)]


def test_confusion_stats_hand_computed() -> None:
    # 3 real judged real, 1 real judged synthetic, 2 synthetic judged real, 4 synthetic judged synthetic.
    pairs = [("real", "real")] * 3 + [("real", "synthetic")] + [("synthetic", "real")] * 2 + \
            [("synthetic", "synthetic")] * 4
    s = confusion_stats(_rows("a", pairs))
    assert (s["real_judged_real"], s["real_judged_synthetic"], s["synthetic_judged_real"],
            s["synthetic_judged_synthetic"]) == (3, 1, 2, 4)
    assert s["accuracy"] == pytest.approx(0.7)
    # Two-sided exact binomial, 7 of 10 at p = 0.5: 2 * (120 + 45 + 10 + 1) / 1024.
    assert s["p_value_vs_50"] == pytest.approx(2 * 176 / 1024)
    assert s["sensitivity"] == pytest.approx(4 / 6) and s["specificity"] == pytest.approx(3 / 4)
    assert s["balanced_accuracy"] == pytest.approx((4 / 6 + 3 / 4) / 2)
    assert s["f1"] == pytest.approx(2 * 4 / (2 * 4 + 1 + 2))  # synthetic positive
    assert s["f1_real"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))  # the SQ-AGGAN table's TP = real judged real
    assert s["accuracy_ci_low"] < 0.7 < s["accuracy_ci_high"]


def test_empty_reader_has_no_numbers() -> None:
    s = confusion_stats([])
    assert s["n"] == 0 and s["accuracy"] is None and s["f1"] is None and s["sensitivity"] is None


def test_cohen_kappa_hand_computed() -> None:
    # A: s s r r, B: s r r r -> p_o = 3/4, p_e = .5*.25 + .5*.75 = .5, kappa = (.75 - .5) / .5 = .5
    rows = _rows("A", [("real", "synthetic"), ("real", "synthetic"), ("real", "real"), ("real", "real")])
    rows += _rows("B", [("real", "synthetic"), ("real", "real"), ("real", "real"), ("real", "real")])
    ag = agreement(rows)
    assert ag["method"] == "cohen" and ag["n_images"] == 4 and ag["kappa"] == pytest.approx(0.5)


def test_fleiss_kappa_hand_computed() -> None:
    # 3 readers, 4 images with 3, 0, 2, 1 "synthetic" votes: P_i = 1, 1, 1/3, 1/3 -> P = 2/3;
    # p(synthetic) = 6/12 -> P_e = .5; kappa = (2/3 - 1/2) / (1/2) = 1/3.
    votes = {"A": "srss", "B": "srsr", "C": "srrr"}
    rows = []
    for name, v in votes.items():
        rows += _rows(name, [("real", "synthetic" if ch == "s" else "real") for ch in v])
    ag = agreement(rows)
    assert ag["method"] == "fleiss" and ag["kappa"] == pytest.approx(1 / 3)


def test_agreement_uses_only_images_all_readers_answered() -> None:
    rows = _rows("A", [("real", "synthetic"), ("real", "real"), ("real", "real")])
    rows += _rows("B", [("real", "synthetic"), ("real", "real")])
    assert agreement(rows)["n_images"] == 2
    assert agreement(_rows("A", [("real", "real")]))["kappa"] is None


def test_results_table_and_csv() -> None:
    rows = _rows("alice", [("real", "real"), ("synthetic", "real")], cls="benign")
    rows += _rows("alice", [("real", "real"), ("synthetic", "synthetic")], cls="malignant")
    for r in rows[2:]:
        r["image_id"] += "m"
    res = compute_results(rows, [{"name": "alice", "total": 4}, {"name": "bob", "total": 4}])
    alice = res["readers"][0]
    assert alice["answered"] == 4 and alice["accuracy"] == pytest.approx(0.75)
    assert [c["class"] for c in alice["per_class"]] == ["benign", "malignant"]
    assert alice["per_class"][1]["accuracy"] == pytest.approx(1.0)
    assert res["readers"][1]["n"] == 0 and res["mean_f1"] == pytest.approx(alice["f1"])
    text = render_text(res)
    assert "2/2 100.0% (TP)" in text and "1/2  50.0% (FN)" in text and "Mean F1" in text
    lines = results_csv(res).splitlines()
    assert lines[0].split(",")[:3] == ["reader", "class", "n_real"]
    assert [line.split(",")[1] for line in lines[1:]] == ["all", "benign", "malignant", "all"]
