"""The recipe search's table (benchmarks/quality_recipes.py) on made-up grid rows: paired differences by hand."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from synthmed.errors import SynthmedError

SPEC = importlib.util.spec_from_file_location(
    "quality_recipes", Path(__file__).resolve().parents[2] / "benchmarks" / "quality_recipes.py")
recipes = importlib.util.module_from_spec(SPEC)
sys.modules[SPEC.name] = recipes  # its dataclass looks its module up while it is built
SPEC.loader.exec_module(recipes)


def _row(source: str, ratio: float, augment: str, seed: int, auc: float, real_hash: str = "h") -> dict:
    return {"run_id": f"cnn-{source}-r{ratio:g}-f0.25-{augment}-s{seed}", "source": source, "ratio": ratio,
            "real_fraction": 0.25, "augment": augment, "seed": seed, "arch": "cnn", "metrics": {"auc": auc},
            "real_images_hash": real_hash}


BASELINES = {"cnn": [_row("real", 0, "none", 0, 0.70), _row("real", 0, "none", 1, 0.80),
                     _row("real", 0, "traditional", 0, 0.75), _row("real", 0, "traditional", 1, 0.75)]}


def test_rows_give_val_auc_over_seeds_and_paired_differences_from_both_baselines() -> None:
    mixed = [_row("mixed", 100, "none", 0, 0.74), _row("mixed", 100, "none", 1, 0.82)]
    (row,) = recipes.summarise("dcgan-ada", "mixed", mixed, BASELINES)
    assert row["condition"] == "real + synthetic 100 %" and row["seeds"] == [0, 1]
    assert row["val_auc"]["mean"] == pytest.approx(0.78) and row["val_auc"]["sd"] == pytest.approx(0.08 / 2 ** 0.5)
    # seed 0: +0.04, seed 1: +0.02 vs real-only; -0.01 and +0.07 vs real + traditional augmentation
    assert row["delta_vs_real"]["mean"] == pytest.approx(0.03)
    assert row["delta_vs_real_trad"]["mean"] == pytest.approx(0.03)
    assert row["delta_vs_real_trad"]["sd"] == pytest.approx(0.08 / 2 ** 0.5)
    base = recipes.summarise("—", "baseline-cnn", BASELINES["cnn"], BASELINES)
    assert [r["condition"] for r in base] == ["real-only", "real + trad aug"]
    assert base[0]["delta_vs_real"] is None and base[1]["delta_vs_real_trad"] is None  # not against themselves
    assert base[1]["delta_vs_real"]["mean"] == pytest.approx(0.0) and base[0]["delta_vs_real_trad"]["mean"] == 0.0


def test_best_recipe_per_fraction_needs_every_seed_and_a_mixed_cell_its_baselines_real_images() -> None:
    rows = recipes.summarise("g", "mixed", [_row("mixed", 50, "none", 0, 0.90), _row("mixed", 100, "none", 0, 0.72),
                                            _row("mixed", 100, "none", 1, 0.83)], BASELINES)
    best = recipes.best_per_fraction(rows, n_seeds=2)
    assert best["0.25"]["condition"] == "real + synthetic 100 %"  # ratio 50 (+0.20) has only one seed done
    with pytest.raises(SynthmedError, match="other real images than its baseline"):
        recipes.summarise("g", "mixed", [_row("mixed", 100, "none", 0, 0.7, real_hash="other")], BASELINES)



def test_every_classifier_recipe_starts_from_plain_mixing_whatever_the_profile_chose() -> None:
    from synthmed.pipeline.config import build_config

    assert build_config({}, "quality").classify.options.synthetic_weight == 0.5  # the profile's choice
    args = recipes.parse([])
    base = recipes.base_config(args)
    plain = recipes.grid_kwargs(base, recipes.CLS_RECIPES["mixed"], args)
    assert not {k for k in plain if k.startswith("synthetic_")}  # torch's plain cross-entropy
    weighted = recipes.grid_kwargs(base, recipes.CLS_RECIPES["weight-0.5"], args)
    assert weighted["synthetic_weight"] == 0.5
