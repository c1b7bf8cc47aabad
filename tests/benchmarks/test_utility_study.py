"""The utility study's analysis (benchmarks/utility_study.py) on a made-up grid, and its per-dataset configs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from statsmodels.stats.multitest import multipletests

from synthmed.pipeline.config import build_config
from tests.stats.conftest import write_experiment

SPEC = importlib.util.spec_from_file_location(
    "utility_study", Path(__file__).resolve().parents[2] / "benchmarks" / "utility_study.py")
study = importlib.util.module_from_spec(SPEC)
sys.modules[SPEC.name] = study  # its dataclasses look their module up there
SPEC.loader.exec_module(study)

# Per real fraction: validation AUC of the mixed cells (the study must choose on these, not on test).
VAL = {(1.0, 50, "none"): 0.80, (1.0, 100, "none"): 0.85, (0.25, 50, "none"): 0.75, (0.25, 100, "none"): 0.70,
       (1.0, 50, "traditional"): 0.90, (1.0, 100, "traditional"): 0.60}  # 0.25: 0.5 both, the smaller ratio wins


def _grid(tmp_path: Path, with_val: bool = True) -> Path:
    runs = []
    for seed in (0, 1):
        for f in (1.0, 0.25):
            runs += [{"source": "real", "real_fraction": f, "seed": seed, "separation": 2.0},
                     {"source": "real", "augment": "traditional", "real_fraction": f, "seed": seed, "separation": 2.1},
                     {"source": "mixed", "ratio": 50, "real_fraction": f, "seed": seed, "separation": 2.3},
                     {"source": "mixed", "ratio": 100, "real_fraction": f, "seed": seed, "separation": 1.6},
                     {"source": "mixed", "ratio": 50, "augment": "traditional", "real_fraction": f, "seed": seed,
                      "separation": 2.2},
                     {"source": "mixed", "ratio": 100, "augment": "traditional", "real_fraction": f, "seed": seed,
                      "separation": 1.9},
                     {"source": "synthetic", "ratio": 100, "real_fraction": f, "seed": seed, "separation": 0.5}]
    exp = write_experiment(tmp_path / "exp", [{**r, "arch": "cnn"} for r in runs])
    rows = [json.loads(line) for line in (exp / "results.jsonl").read_text().splitlines()]
    for i, r in enumerate(rows):
        r["metrics"]["auc"] = 0.5 + 0.01 * i  # what mean +- sd over seeds is taken of
        if with_val:
            r["best_val_auc"] = VAL.get((r["real_fraction"], r["ratio"], r["augment"]), 0.5) + 0.01 * r["seed"]
    (exp / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return exp


def _config():
    return build_config({"classify": {"seeds": [0, 1], "real_fractions": [1.0, 0.25]}}, "quality")


def test_the_mixed_ratio_is_chosen_on_validation_and_each_condition_meets_both_baselines(tmp_path) -> None:
    result = study.analyse(_config(), SimpleNamespace(experiment=_grid(tmp_path)))
    full, quarter = result["fractions"]["1"], result["fractions"]["0.25"]
    assert (full["mixed_choice"]["chosen"], quarter["mixed_choice"]["chosen"]) == (100, 50)
    assert list(full["conditions"]) == [study.REAL, study.TRADITIONAL, study.MIXED, study.MIXED_TRAD, study.SYNTHETIC]
    # the traditional mixed runs choose their ratio apart: 50 at 1 (val 0.90 vs 0.60), 50 at 0.25 (a tie: smaller)
    assert (full["mixed_traditional_choice"]["chosen"], quarter["mixed_traditional_choice"]["chosen"]) == (50, 50)
    assert full["conditions"][study.MIXED_TRAD]["cell"] == "mixed r=50% rf=1 aug=traditional cnn"
    assert list(full["conditions"][study.MIXED_TRAD]["vs"]) == [study.REAL, study.TRADITIONAL]
    assert full["conditions"][study.MIXED]["cell"] == "mixed r=100% rf=1 aug=none cnn"
    assert quarter["conditions"][study.MIXED]["cell"] == "mixed r=50% rf=0.25 aug=none cnn"
    assert full["conditions"][study.REAL]["auc"]["mean"] == pytest.approx((0.50 + 0.64) / 2)  # rows 0 and 14
    assert full["conditions"][study.MIXED]["val_auc"]["mean"] == pytest.approx(0.855)
    assert full["conditions"][study.REAL]["vs"] == {}
    assert list(full["conditions"][study.TRADITIONAL]["vs"]) == [study.REAL]
    assert list(full["conditions"][study.SYNTHETIC]["vs"]) == [study.REAL, study.TRADITIONAL]
    vs = full["conditions"][study.SYNTHETIC]["vs"][study.TRADITIONAL]
    assert (vs["baseline"], vs["verdict"]) == ("real rf=1 aug=traditional cnn", "worse") and vs["delta_auc"] < 0
    # One Holm family: the dataset's 14 comparisons (7 per fraction), as statsmodels adjusts them.
    rows = [v for f in (full, quarter) for c in f["conditions"].values() for v in c["vs"].values()]
    assert len(rows) == 14 and result["family"] == "Holm over this dataset's 14 comparisons"
    adjusted = multipletests([r["p"] for r in rows], method="holm")[1]
    assert [r["p_holm"] for r in rows] == pytest.approx(list(adjusted))
    text = study.markdown({"setting": "test", "seeds": [0, 1], "datasets": {"toy": {
        "note": "made up", "grid_notes": [], "grids": {"1": "toy-grid.png"}, **result}}})
    assert "| 1 | real + synthetic |" in text and "real + synthetic ratio 100 %" in text
    assert "| 1 | real + synthetic + traditional |" in text and "real + synthetic + traditional ratio 50 %" in text
    assert "![toy GAN, real fraction 1](toy-grid.png)" in text


def test_without_validation_auc_in_the_rows_every_ratio_is_reported(tmp_path) -> None:
    result = study.analyse(_config(), SimpleNamespace(experiment=_grid(tmp_path, with_val=False)))
    full = result["fractions"]["1"]
    assert full["mixed_choice"]["chosen"] is None and "every ratio is reported" in full["mixed_choice"]["rule"]
    assert f"{study.MIXED} (50 %)" in full["conditions"] and f"{study.MIXED} (100 %)" in full["conditions"]
    assert f"{study.MIXED_TRAD} (100 %)" in full["conditions"]
    assert result["family"] == "Holm over this dataset's 22 comparisons"


def test_dataset_configs_are_the_quality_profile_with_their_own_data() -> None:
    args = study.parse([])
    breast = study.config_for(study.DATASETS["breastmnist"], args)
    assert breast == build_config({"name": "utility-breastmnist"}, "quality")  # the profile's own run, renamed
    rbc = study.config_for(study.DATASETS["rbc"], args)
    assert (rbc.data.source, rbc.gan.resolution, rbc.classify.resolution, rbc.classify.images_per_run) == (
        "csv", 32, 32, None)
    pneumonia = study.config_for(study.DATASETS["pneumoniamnist"], args)
    assert (pneumonia.data.medmnist, pneumonia.data.size, pneumonia.gan.kimg) == ("pneumoniamnist", 28, 180.0)
    tiny = study.config_for(study.DATASETS["breastmnist"], study.parse(["--tiny"]))
    assert (tiny.data.size, tiny.classify.seeds, tiny.classify.epochs, tiny.metrics.enabled) == (28, [0, 1], 1, False)
    assert study.parse(["--tiny"]).results.endswith("utility-tiny/results")
    with pytest.raises(SystemExit):
        study.parse(["--datasets", "breastmnist,chestmnist"])
