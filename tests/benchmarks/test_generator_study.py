"""The generator study's pure parts (benchmarks/generator_study.py): its configs, option checks, the classification
accuracy score's analysis and the strongest real baseline's choice, on made-up grids."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from synthmed.classify.results import load_results
from synthmed.errors import SynthmedError
from tests.stats.conftest import write_experiment

SPEC = importlib.util.spec_from_file_location(
    "generator_study", Path(__file__).resolve().parents[2] / "benchmarks" / "generator_study.py")
study = importlib.util.module_from_spec(SPEC)
sys.modules[SPEC.name] = study  # its dataclasses look their module up there
SPEC.loader.exec_module(study)


def test_arm_configs_and_options(capsys) -> None:
    args = study.parse(["--generators", "dcgan-ada,bagan-gp", "--seeds", "0,1"])
    assert args.budget_minutes == 30 and [(d.name, g) for d, g in study.arms(args)] == [
        ("rbc", "dcgan-ada"), ("rbc", "bagan-gp"), ("breastmnist", "dcgan-ada"), ("ph2", "dcgan-ada")]
    cfg = study.config_for(study.DATASETS["rbc"], "dcgan-ada", 573.6, args)
    assert (cfg.profile, cfg.gan.arch, cfg.gan.aug, cfg.gan.kimg, cfg.gan.resolution) == ("quality", "dcgan", "ada",
                                                                                         573.6, 32)
    assert not cfg.filter.enabled and cfg.classify.ratios == [0] and cfg.classify.synthetic_only
    assert cfg.classify.options.synthetic_weight is None  # the profile's loss weight would scale synthetic-only runs
    with pytest.raises(SystemExit, match=r"^error: --generators: unknown gan9; choose from "):
        study.parse(["--generators", "gan9"])
    with pytest.raises(SystemExit, match=r"^error: --datasets: unknown mnist"):
        study.parse(["--datasets", "mnist"])


def _rows(tmp_path: Path, runs: list[dict], auc: dict, val: dict) -> list:
    exp = write_experiment(tmp_path / "exp", runs)
    lines = [json.loads(line) for line in (exp / "results.jsonl").read_text().splitlines()]
    for r in lines:
        key = (r["arch"], r["augment"], r["source"])
        r["metrics"]["auc"], r["best_val_auc"] = auc[key] + 0.01 * r["seed"], val.get(key, 0.5) + 0.01 * r["seed"]
    (exp / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return exp


def test_fidelity_compares_synthetic_only_with_real_only(tmp_path) -> None:
    runs = [{"source": s, "ratio": 100 if s == "synthetic" else 0, "seed": seed, "arch": "cnn",
             "separation": 2.0 if s == "real" else 0.3} for seed in (0, 1) for s in ("real", "synthetic")]
    exp = _rows(tmp_path, runs, {("cnn", "none", "real"): 0.9, ("cnn", "none", "synthetic"): 0.6}, {})
    cfg = study.config_for(study.DATASETS["breastmnist"], "dcgan-ada", 10.0, study.parse(["--seeds", "0,1"]))
    out = study.fidelity(cfg, exp, ["benign", "malignant"], ["a note"])
    assert out["real-only"]["auc"]["mean"] == pytest.approx(0.905)
    assert out["synthetic-only"]["per_class_auc"]["benign"]["mean"] == pytest.approx(0.605)  # two classes: the AUC
    assert out["per_class_delta"]["malignant"] == pytest.approx(-0.3)
    assert out["vs_real"]["verdict"] == "worse" and out["vs_real"]["delta_auc"] < 0 and out["notes"] == ["a note"]


def test_the_baseline_is_chosen_on_validation_not_test(tmp_path) -> None:
    runs = [{"source": "real", "augment": aug, "arch": arch, "seed": seed}
            for seed in (0, 1) for arch in study.BASELINE_ARCHS for aug in study.BASELINE_AUGMENTS]
    auc = {(a, g, "real"): 0.8 for a in study.BASELINE_ARCHS for g in study.BASELINE_AUGMENTS}
    auc[("cnn", "none", "real")], auc[("resnet18", "traditional", "real")] = 0.70, 0.75
    auc[("cnn", "traditional", "real")] = 0.95  # best on test, not chosen: validation does not see it
    val = {("resnet18", "traditional", "real"): 0.9, ("resnet18", "trivialaugment", "real"): 0.9}  # a tie
    rows = load_results(_rows(tmp_path, runs, auc, val))[1]
    table = study.baseline_table(rows, [1.0], [0, 1], ["benign", "malignant"])["1"]
    assert table["chosen"] == "resnet18/traditional"  # the tie goes to the earlier augmentation
    assert table["chosen_minus_plain_test_auc"]["mean"] == pytest.approx(0.05)
    assert table["table"]["cnn/none"]["val_auc"]["mean"] == pytest.approx(0.505)
    with pytest.raises(SynthmedError, match=r"expected \[0, 1, 2\]"):
        study.baseline_table(rows, [1.0], [0, 1, 2], ["benign", "malignant"])


def test_the_winner_is_chosen_on_validation_among_every_arm(tmp_path) -> None:
    args = study.parse(["--datasets", "rbc", "--generators", "dcgan-ada,stylegan2-ada,bagan-gp",
                        "--results", str(tmp_path)])
    rbc = study.DATASETS["rbc"]

    def arm(gen: str, val: float, test: float) -> None:
        fidelity = {"synthetic-only": {"val_auc": {"mean": val, "sd": 0.0}, "auc": {"mean": test, "sd": 0.0}}}
        (tmp_path / f"rbc-{gen}.json").write_text(json.dumps({"fidelity": fidelity}))

    arm("dcgan-ada", 0.80, 0.95)  # best on test: validation does not see it
    arm("stylegan2-ada", 0.85, 0.70)
    with pytest.raises(SynthmedError, match="bagan-gp's has not run"):
        study.winner(rbc, args)
    arm("bagan-gp", 0.85, 0.90)  # ties with stylegan2-ada: the earlier in the study's order
    assert study.winner(rbc, args) == ("stylegan2-ada", {"dcgan-ada": 0.80, "stylegan2-ada": 0.85, "bagan-gp": 0.85})
