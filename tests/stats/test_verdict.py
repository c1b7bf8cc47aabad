"""Verdict words follow the Holm-adjusted p and the sign of the AUC difference."""

from __future__ import annotations

from synthmed.stats.verdict import format_p, sentence, verdict


def test_verdict_words() -> None:
    assert verdict(0.05, 0.001) == "better"
    assert verdict(-0.05, 0.001) == "worse"
    assert verdict(-0.05, 0.2) == "no significant difference"
    assert verdict(0.05, 0.049, alpha=0.01) == "no significant difference"
    assert verdict(0.0, 0.0) == "no significant difference"
    assert verdict(None, None) == "not tested"


def test_sentence() -> None:
    text = sentence("synthetic-only", (0.861, 0.80, 0.912), "real-only", (0.88, 0.83, 0.92), 0.41, 0.82,
                    "no significant difference")
    assert text == ("synthetic-only AUC 0.86 [0.80, 0.91] vs real-only 0.88 [0.83, 0.92], DeLong p = 0.41 "
                    "(Holm p = 0.82): no significant difference")
    assert format_p(0.0004) == "< 0.001" and format_p(0.0042) == "= 0.004"
    assert "Holm" not in sentence("a", (0.9, 0.8, 1.0), "b", (0.8, 0.7, 0.9), 0.2, 0.2, "no significant difference")


def test_permutation_p_at_its_floor_says_so() -> None:
    from synthmed.stats.verdict import format_permutation_p, multiclass_sentence

    assert format_permutation_p(1 / 2001, 2000) == "= 0.0005 (the floor of 2,000 permutations)"
    assert format_permutation_p(3 / 2001, 2000) == "= 0.001" and format_permutation_p(0.0004, None) == "< 0.001"
    text = multiclass_sentence("a", (0.9, 0.8, 1.0), "b", (0.8, 0.7, 0.9), 1 / 2001, 0.01, "better", [],
                               n_perm=2000)
    assert "permutation p = 0.0005 (the floor of 2,000 permutations) (Holm p = 0.01): better" in text
