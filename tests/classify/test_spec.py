"""Training-set specifications: parsing, exact per-class counts, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from synthmed.classify.spec import TrainSpec, allocate, parse_train_spec, resolve
from synthmed.errors import SynthmedError


def test_parse_bare_dir_is_real_only() -> None:
    spec = parse_train_spec("data/b28:train")
    assert (spec.real, spec.synthetic, spec.source, spec.effective_ratio, spec.fraction) == (
        "data/b28:train", None, "real", 0.0, 1.0)


def test_parse_mixed_and_round_trip() -> None:
    spec = parse_train_spec("real=data/b28, synthetic=runs/syn, ratio=50, fraction=0.25, draw=balanced")
    assert (spec.source, spec.ratio, spec.fraction, spec.draw) == ("mixed", 50.0, 0.25, "balanced")
    assert parse_train_spec(spec.to_text()) == spec


def test_parse_synthetic_only_defaults() -> None:
    assert parse_train_spec("synthetic=runs/syn").source == "synthetic"
    spec = parse_train_spec("source=synthetic,real=data/b28,synthetic=runs/syn")
    assert (spec.source, spec.effective_ratio) == ("synthetic", 100.0)


@pytest.mark.parametrize("text, problem", [
    ("real=a,colour=red", "unknown key"),
    ("real=a,fraction=0", "fraction"),
    ("real=a,fraction=1.5", "fraction"),
    ("real=a,ratio=-5,synthetic=b", "ratio"),
    ("real=a,ratio=5000,synthetic=b", r"ratio must be a percentage in 0\.\.1000"),
    ("real=a,ratio=nan,synthetic=b", "ratio must be a percentage"),
    ("real=a,ratio=x", "numbers"),
    ("source=real,real=a,synthetic=b", "source=mixed"),
    ("source=mixed,real=a", "synthetic=DIR"),
    ("synthetic=b,ratio=50", "need real=DIR"),
    ("real=a,real=b", "twice"),
    ("ratio=50", "names no data"),
])
def test_parse_rejects_bad_specs(text: str, problem: str) -> None:
    with pytest.raises(SynthmedError, match=problem):
        parse_train_spec(text)


def test_allocate_hand_computed() -> None:
    # 10 * 147/546 = 2.69, 10 * 399/546 = 7.31: floors 2 + 7, the larger remainder (class 0) gets the last one.
    assert allocate(10, [147, 399]).tolist() == [3, 7]
    # Equal remainders: lower index first.
    assert allocate(5, [1, 1, 1]).tolist() == [2, 2, 1]
    assert allocate(0, [3, 4]).tolist() == [0, 0]
    assert allocate(7, [0, 2]).tolist() == [0, 7]


@pytest.fixture
def real_and_synthetic(toy_dataset):
    real = toy_dataset({"train": [24, 16], "val": [4, 4], "test": [4, 4]}, resolution=16, name="real")
    syn = toy_dataset({"train": [30, 30]}, resolution=16, seed=1, name="syn")
    return str(real.root), str(syn.root)


def test_real_fraction_counts_are_exact(real_and_synthetic) -> None:
    real, _ = real_and_synthetic
    comp = resolve(TrainSpec(real=real, fraction=0.5), seed=3)
    assert comp.counts["real"] == [12, 8] and comp.n_synthetic == 0
    # 40 * 0.3 = 12 images: quotas 7.2 and 4.8 -> 7 + 4, the last to class 1 (remainder 0.8).
    assert resolve(TrainSpec(real=real, fraction=0.3), seed=3).counts["real"] == [7, 5]


def test_mixed_counts_stratified_and_balanced(real_and_synthetic) -> None:
    real, syn = real_and_synthetic
    comp = resolve(TrainSpec(real=real, synthetic=syn, ratio=50, fraction=0.5), seed=0)
    assert comp.counts == {"real": [12, 8], "synthetic": [6, 4]}
    comp = resolve(TrainSpec(real=real, synthetic=syn, ratio=75, draw="balanced"), seed=0)
    assert comp.counts == {"real": [24, 16], "synthetic": [15, 15]}
    # 25 % of 40 = 10 synthetic, split 24:16 -> 6 + 4.
    assert resolve(TrainSpec(real=real, synthetic=syn, ratio=25), seed=0).counts["synthetic"] == [6, 4]


@pytest.mark.parametrize("strategy, total, expected", [
    # Real [10, 20, 60], total 30: proportional 3.3 + 6.7 + 20 -> 3, 7, 20 (largest remainder); balanced 10 each;
    # top-up raises the smallest first: 10 -> 20 (+10), then both to 30 (+10, +10) -> [20, 10, 0]; minority: the
    # median is 20, only class 0 is below it -> all 30 to it.
    ("proportional", 30, [3, 7, 20]), ("stratified", 30, [3, 7, 20]), ("balanced", 30, [10, 10, 10]),
    ("top-up", 30, [20, 10, 0]), ("minority", 30, [30, 0, 0]),
    # Top-up past the largest class: 50 + 40 = 90 reach 60; 10 left, 3 each to 63 and the last to class 0.
    ("top-up", 100, [54, 43, 3]), ("top-up", 0, [0, 0, 0]),
    # 5: class 0 alone is below the others (10 -> 15). 21: 10 bring class 0 to 20, 10 more both to 25, the odd one
    # to the lower class index at that level.
    ("top-up", 5, [5, 0, 0]), ("top-up", 21, [16, 5, 0]),
])
def test_generation_strategy_counts_by_hand(strategy, total, expected) -> None:
    from synthmed.classify.spec import synthetic_counts

    assert synthetic_counts([10, 20, 60], total, strategy).tolist() == expected


def test_strategies_on_breastmnist_counts() -> None:
    from synthmed.classify.spec import synthetic_counts

    # 147 malignant, 399 benign; ratio 50 % = 273 images. Top-up: 252 bring malignant to 399, the other 21 split
    # 11 + 10 (the odd one to class 0); minority: the median is 273, malignant alone is below it.
    assert synthetic_counts([147, 399], 273, "proportional").tolist() == [74, 199]
    assert synthetic_counts([147, 399], 273, "balanced").tolist() == [137, 136]
    assert synthetic_counts([147, 399], 273, "top-up").tolist() == [263, 10]
    assert synthetic_counts([147, 399], 273, "minority").tolist() == [273, 0]
    with pytest.raises(SynthmedError, match="unknown generation strategy"):
        synthetic_counts([1, 2], 3, "random")


def test_mixed_draw_follows_the_strategy(real_and_synthetic) -> None:
    real, syn = real_and_synthetic
    # Real [24, 16], ratio 25 % = 10 synthetic: top-up fills class 1 first (16 -> 24 would need 8, then 1 + 1).
    comp = resolve(TrainSpec(real=real, synthetic=syn, ratio=25, draw="top-up"), seed=0)
    assert comp.counts == {"real": [24, 16], "synthetic": [1, 9]}
    assert resolve(TrainSpec(real=real, synthetic=syn, ratio=25, draw="minority"), seed=0).counts["synthetic"] == [
        0, 10]
    # Synthetic-only replaces the real set: top-up means nothing there, it is drawn like the real classes.
    only = resolve(TrainSpec(real=real, synthetic=syn, source="synthetic", draw="top-up"), seed=0)
    assert only.counts["synthetic"] == [24, 16]


def test_synthetic_only_counts(real_and_synthetic) -> None:
    real, syn = real_and_synthetic
    comp = resolve(TrainSpec(real=real, synthetic=syn, source="synthetic", fraction=0.5), seed=0)
    assert comp.n_real == 0 and comp.counts["synthetic"] == [12, 8]
    assert resolve(TrainSpec(synthetic=syn), seed=0).counts["synthetic"] == [30, 30]


def test_too_few_synthetic_images_is_one_clear_error(real_and_synthetic) -> None:
    real, syn = real_and_synthetic
    # 200 % of 40 = 80 synthetic, class 0 would need 48 of 30.
    with pytest.raises(SynthmedError, match="class0 needs 48, has 30"):
        resolve(TrainSpec(real=real, synthetic=syn, ratio=200), seed=0)


def test_selection_is_seeded_and_nested(real_and_synthetic) -> None:
    real, syn = real_and_synthetic
    a = resolve(TrainSpec(real=real, synthetic=syn, ratio=50, fraction=0.5), seed=7)
    b = resolve(TrainSpec(real=real, synthetic=syn, ratio=50, fraction=0.5), seed=7)
    c = resolve(TrainSpec(real=real, synthetic=syn, ratio=50, fraction=0.5), seed=8)
    assert np.array_equal(a.real_indices, b.real_indices) and np.array_equal(a.synthetic_indices, b.synthetic_indices)
    assert not np.array_equal(a.real_indices, c.real_indices)
    quarter = resolve(TrainSpec(real=real, fraction=0.25), seed=7)
    assert set(quarter.real_indices) <= set(a.real_indices)


def test_mismatched_classes_are_rejected(toy_dataset) -> None:
    real = toy_dataset({"train": [4, 4]}, resolution=16, name="real")
    other = toy_dataset({"train": [4, 4, 4]}, resolution=16, name="other")
    with pytest.raises(SynthmedError, match="differ from the real dataset"):
        resolve(TrainSpec(real=str(real.root), synthetic=str(other.root)), seed=0)
