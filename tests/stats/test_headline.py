"""The headline's baseline: the strongest real-only arm chosen on validation, and the resolution note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthmed.classify.results import Cell
from synthmed.stats.compare import compare_pairs, compare_results
from synthmed.stats.headline import headline, resolution_note


def grid(seeds: tuple[int, ...] = (0, 1)) -> list[dict]:
    runs: list[dict] = []
    for s in seeds:
        runs += [{"source": "real", "seed": s, "separation": 1.0},
                 {"source": "real", "augment": "traditional", "seed": s, "separation": 2.5},
                 {"source": "synthetic", "ratio": 100, "seed": s, "separation": 0.4},
                 {"source": "mixed", "ratio": 50, "seed": s, "separation": 2.0},
                 {"source": "synthetic", "ratio": 100, "arch": "densenet121", "seed": s}]
    return runs


def with_val_auc(exp: Path, by_augment: dict[str, list[float | None]]) -> Path:
    """Give the real-only runs these validation AUCs (per augmentation, in seed order)."""
    rows = [json.loads(line) for line in (exp / "results.jsonl").read_text().splitlines()]
    for r in rows:
        if r["source"] == "real":
            r["best_val_auc"] = by_augment[r["augment"]][r["seed"]]
    (exp / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return exp


def test_synthetic_conditions_meet_the_real_arm_validation_picks(fake_experiment) -> None:
    exp = with_val_auc(fake_experiment(grid()), {"none": [0.80, 0.82], "traditional": [0.85, 0.86]})
    result = compare_results(exp, seed=3)
    arm = result["strongest"]["arms"][0]
    assert arm["chosen"] == "real rf=1 aug=traditional resnet18" and arm["chosen_words"].startswith("real-only (trad")
    assert [c["val_auc"]["mean"] for c in arm["candidates"]] == pytest.approx([0.81, 0.855])
    comps = result["strongest"]["comparisons"]
    # densenet121 has no real-only arm: nothing to compare it with
    assert [c["name"] for c in comps] == ["mixed r=50% rf=1 aug=none resnet18",
                                          "synthetic r=100% rf=1 aug=none resnet18"]
    # The numbers (and Holm over these two) are compare_pairs' with that baseline; only the words differ.
    trad = Cell("real", 0.0, 1.0, "traditional", "resnet18")
    pairs = compare_pairs(exp, [(Cell("mixed", 50.0, 1.0, "none", "resnet18"), trad),
                                (Cell("synthetic", 100.0, 1.0, "none", "resnet18"), trad)], seed=3)["comparisons"]
    for mine, theirs in zip(comps, pairs, strict=True):
        assert mine["p_holm"] == theirs["p_holm"] and mine["verdict"] == theirs["verdict"]
        assert "vs real-only (traditional augmentation; the strongest real-only arm on validation) 0." \
            in mine["sentence"]
    # The main grid still compares with plain real-only.
    assert all(c["baseline"]["augment"] == "none" for c in result["comparisons"])
    head = headline(result)
    assert head["sentences"] == [c["sentence"] for c in comps] and head["verdicts"] == [c["verdict"] for c in comps]
    assert "real-only (traditional augmentation)" in head["summary"]
    assert headline({"comparisons": result["comparisons"]}) is None  # a stats file from before: no headline here


def test_ties_and_missing_validation_auc_keep_the_plain_arm(fake_experiment) -> None:
    tie = compare_results(with_val_auc(fake_experiment(grid(), name="tie"),
                                       {"none": [0.8, 0.9], "traditional": [0.9, 0.8]}), seed=0)
    assert tie["strongest"]["arms"][0]["chosen"] == "real rf=1 aug=none resnet18"
    old = compare_results(fake_experiment(grid(), name="old"), seed=0)  # rows without a validation AUC
    arm = old["strongest"]["arms"][0]
    assert arm["chosen"] == "real rf=1 aug=none resnet18" and "no validation AUC" in arm["rule"]


def test_resolution_note_names_the_profile_that_keeps_the_size() -> None:
    caps = {"cpu": 32, "quality": 64, "gpu": 256}
    note = resolution_note(256, 32, 32, "cpu", caps)
    assert "the generator at 32 px and the classifiers at 32 px" in note and "256 px" in note
    assert "the gpu profile (up to 256 px)" in note
    assert "quality profile (up to 64 px)" in resolution_note(64, 32, 64, "cpu", caps)
    assert resolution_note(64, 64, 64, "quality", caps) is None
    assert resolution_note(None, 32, 32, "cpu", caps) is None
    assert "config sets" in resolution_note(48, 32, 32, "quality", caps)  # below the cap: the config chose it
    assert "no profile reaches 512 px" in resolution_note(512, 256, 256, "gpu", caps)
    assert resolution_note(256, 32, 32, "cpu") == note  # the pipeline's caps by default
