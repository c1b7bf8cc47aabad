"""End to end on a fake experiment folder: pairing, numbers against scikit-learn/statsmodels, outputs, CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import typer
from sklearn.metrics import roc_auc_score
from statsmodels.stats.multitest import multipletests
from typer.testing import CliRunner

from synthmed.errors import BadInputError, SynthmedError
from synthmed.stats import commands
from synthmed.stats.compare import compare_results


def grid(seeds: tuple[int, ...] = (0, 1)) -> list[dict]:
    runs: list[dict] = []
    for s in seeds:
        real = len(runs)
        runs += [{"source": "real", "seed": s, "separation": 2.0},
                 {"source": "synthetic", "ratio": 100, "seed": s, "separation": 0.4},
                 {"source": "mixed", "ratio": 50, "seed": s, "same_as": real},
                 {"source": "real", "augment": "traditional", "seed": s, "separation": 2.2},
                 {"source": "synthetic", "ratio": 100, "arch": "densenet121", "seed": s}]
    return runs


def _scores(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: int(r["index"]))
    return np.array([int(r["label"]) for r in rows]), np.array([float(r["score_1"]) for r in rows])


def test_grid_comparison(fake_experiment, tmp_path: Path) -> None:
    exp = fake_experiment(grid())
    out = tmp_path / "cmp" / "comparison.json"
    result = compare_results(exp, out=out, seed=3)
    by_name = {c["name"]: c for c in result["comparisons"]}
    assert set(by_name) == {"synthetic r=100% rf=1 aug=none resnet18", "mixed r=50% rf=1 aug=none resnet18",
                            "real rf=1 aug=traditional resnet18"}
    assert [s["name"] for s in result["skipped"]] == ["synthetic r=100% rf=1 aug=none densenet121"]

    synth = by_name["synthetic r=100% rf=1 aug=none resnet18"]
    assert synth["verdict"] == "worse" and synth["p_delong"] < 0.01 and synth["ensemble"]["delong"]["diff"] < 0
    assert synth["sentence"].startswith("synthetic-only (ratio 100 %) AUC ")
    same = by_name["mixed r=50% rf=1 aug=none resnet18"]  # identical predictions to the baseline
    assert same["p_delong"] == 1.0 and same["verdict"] == "no significant difference"
    assert same["ensemble"]["mcnemar"]["p"] == 1.0 and same["across_seeds"]["auc"]["wilcoxon"]["p"] == 1.0
    aug = by_name["real rf=1 aug=traditional resnet18"]
    assert aug["baseline"]["augment"] == "none" and aug["baseline"]["source"] == "real"

    # AUCs are scikit-learn's: per seed on that run's file, and for the ensemble on the mean of the seeds.
    rows = [json.loads(line) for line in (exp / "results.jsonl").read_text().splitlines()]
    files = {(r["source"], r["arch"], r["augment"], r["seed"]): exp / r["predictions"] for r in rows}
    y, s0 = _scores(files[("synthetic", "resnet18", "none", 0)])
    _, s1 = _scores(files[("synthetic", "resnet18", "none", 1)])
    assert synth["per_seed"][0]["delong"]["auc_a"] == pytest.approx(roc_auc_score(y, s0))
    assert synth["ensemble"]["delong"]["auc_a"] == pytest.approx(roc_auc_score(y, (s0 + s1) / 2))
    assert synth["ensemble"]["bootstrap"]["models"][0]["auc"]["estimate"] == pytest.approx(
        roc_auc_score(y, (s0 + s1) / 2))

    # Holm over the grid's primary p-values, as statsmodels computes it.
    p = [c["p_delong"] for c in result["comparisons"]]
    assert [c["p_holm"] for c in result["comparisons"]] == pytest.approx(list(multipletests(p, method="holm")[1]))

    # Outputs: strict JSON (no NaN/Infinity) equal to the returned dict, and one CSV row per comparison.
    def no_constants(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    assert json.loads(out.read_text(), parse_constant=no_constants) == json.loads(json.dumps(result))
    with open(out.with_suffix(".csv"), newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["name"] for r in table] == [c["name"] for c in result["comparisons"]]
    assert float(table[0]["delong_p"]) == pytest.approx(result["comparisons"][0]["p_delong"], abs=1e-6)
    assert result["settings"]["n_boot"] == 2000 and result["settings"]["seed"] == 3


def test_same_seed_same_numbers(fake_experiment) -> None:
    exp = fake_experiment(grid((0,))[:2])
    assert compare_results(exp, seed=1) == compare_results(exp, seed=1)
    other = compare_results(exp, seed=2)["comparisons"][0]["ensemble"]["bootstrap"]
    assert other != compare_results(exp, seed=1)["comparisons"][0]["ensemble"]["bootstrap"]


def test_positive_class_zero_gives_the_same_numbers(fake_experiment) -> None:
    # The same simulated models with the positive class stored as label 0 (score_0): nothing may change.
    one = compare_results(fake_experiment(grid((0,))[:2], name="pos1"))["comparisons"][0]
    zero = compare_results(fake_experiment(grid((0,))[:2], name="pos0", positive_class=0))["comparisons"][0]
    assert zero["positive_class"] == 0 and one["positive_class"] == 1
    for key in ("ensemble", "across_seeds", "p_delong", "p_holm", "verdict", "n_pos"):
        assert zero[key] == one[key]


def _app() -> typer.Typer:
    """Only this stage's verb, so the test does not depend on the other stages' modules."""
    app = typer.Typer()
    commands.register(app)

    @app.callback()
    def _root() -> None:  # keeps "compare" a sub-command, as in the real CLI
        pass

    return app


def test_cli_writes_table(fake_experiment, tmp_path: Path) -> None:
    exp = fake_experiment(grid((0,))[:2])
    out = tmp_path / "c.json"
    res = CliRunner().invoke(_app(), ["compare", "--results", str(exp), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "synthetic r=100%" in res.output and "DeLong p" in res.output and "worse" in res.output
    assert out.is_file() and out.with_suffix(".csv").is_file()


def test_mismatched_test_images_name_the_file(fake_experiment, tmp_path: Path) -> None:
    exp = fake_experiment(grid((0,))[:2])
    victim = exp / "runs" / "run001" / "predictions.csv"
    lines = victim.read_text().splitlines()
    victim.write_text("\n".join(lines[:-1]) + "\n")  # one test image fewer
    with pytest.raises(BadInputError) as exc:
        compare_results(exp, out=tmp_path / "c.json")
    assert exc.value.path == str(victim) and "not the same test images" in str(exc.value)
    assert "\n" not in str(exc.value) and not (tmp_path / "c.json").exists()
    victim.write_text(lines[0] + "\n" + "\n".join(line.replace(",0,", ",1,", 1) for line in lines[1:]) + "\n")
    with pytest.raises(BadInputError, match="labels differ"):
        compare_results(exp)


def test_bad_inputs(fake_experiment, tmp_path: Path) -> None:
    with pytest.raises(SynthmedError, match=r"results\.jsonl"):
        compare_results(tmp_path / "nowhere")
    exp = fake_experiment(grid((0,))[:2])
    with pytest.raises(SynthmedError, match="at least 2000"):
        compare_results(exp, n_boot=100)
    with pytest.raises(SynthmedError, match="no runs with source 'mixed'"):
        compare_results(exp, baseline="mixed")
    (exp / "results.jsonl").write_text('{"source": "real"}\n')
    with pytest.raises(SynthmedError, match="line 1: missing seed, predictions"):
        compare_results(exp)


def test_compare_pairs_repeats_the_grid_numbers_and_holms_over_its_own_pairs(fake_experiment) -> None:
    from synthmed.classify.results import Cell
    from synthmed.stats.compare import compare_pairs

    exp = fake_experiment(grid())
    full = compare_results(exp, seed=3)

    def cell(d: dict) -> Cell:
        return Cell(d["source"], float(d["ratio"]), float(d["real_fraction"]), d["augment"], d["arch"])

    # The grid's own pairs in its order: the same numbers, to the last digit.
    pairs = [(cell(c["config"]), cell(c["baseline"])) for c in full["comparisons"]]
    again = compare_pairs(exp, pairs, seed=3)
    assert again["comparisons"] == full["comparisons"]

    # Any cell as the baseline: real + traditional augmentation. Holm runs over these two pairs only.
    trad = Cell("real", 0.0, 1.0, "traditional", "resnet18")
    mixed, synth = Cell("mixed", 50.0, 1.0, "none", "resnet18"), Cell("synthetic", 100.0, 1.0, "none", "resnet18")
    result = compare_pairs(exp, [(mixed, trad), (synth, trad)], seed=3)
    first, second = result["comparisons"]
    assert first["baseline_name"] == "real rf=1 aug=traditional resnet18"
    assert first["sentence"].endswith(first["verdict"]) and "real-only (traditional augmentation)" in first["sentence"]
    rows = [json.loads(line) for line in (exp / "results.jsonl").read_text().splitlines()]
    files = {(r["source"], r["augment"], r["arch"], r["seed"]): exp / r["predictions"] for r in rows}
    y, m0 = _scores(files[("mixed", "none", "resnet18", 0)])
    _, m1 = _scores(files[("mixed", "none", "resnet18", 1)])
    _, t0 = _scores(files[("real", "traditional", "resnet18", 0)])
    _, t1 = _scores(files[("real", "traditional", "resnet18", 1)])
    assert first["ensemble"]["delong"]["diff"] == pytest.approx(roc_auc_score(y, (m0 + m1) / 2)
                                                                - roc_auc_score(y, (t0 + t1) / 2))
    p = [first["p_delong"], second["p_delong"]]
    assert [first["p_holm"], second["p_holm"]] == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert result["settings"]["baseline"] == "per pair"
    with pytest.raises(SynthmedError, match="no runs of mixed r=75% rf=1 aug=none resnet18"):
        compare_pairs(exp, [(Cell("mixed", 75.0, 1.0, "none", "resnet18"), trad)])


def test_compare_pairs_across_two_grids_is_the_one_grid_comparison(fake_experiment) -> None:
    """A configuration in one results folder against a baseline in another (same test cases): the numbers of the
    same pair within one folder, one Holm family over both folders' pairs; a cell in both folders: the first's."""
    import shutil

    from synthmed.classify.results import Cell
    from synthmed.stats.compare import compare_pairs

    rows = grid()
    exp = fake_experiment(rows)
    split = exp.parent / "split"
    shutil.copytree(exp, split)  # the same predictions files; each folder keeps half of the rows
    lines = (exp / "results.jsonl").read_text().splitlines()
    real = [line for line in lines if json.loads(line)["source"] == "real"]
    (split / "results.jsonl").write_text("\n".join(real) + "\n")
    synthetic = split.parent / "synthetic"
    shutil.copytree(exp, synthetic)
    (synthetic / "results.jsonl").write_text("\n".join(x for x in lines if x not in real) + "\n")
    trad = Cell("real", 0.0, 1.0, "traditional", "resnet18")
    mixed, synth = Cell("mixed", 50.0, 1.0, "none", "resnet18"), Cell("synthetic", 100.0, 1.0, "none", "resnet18")
    one = compare_pairs(exp, [(mixed, trad), (synth, trad)], seed=3)
    two = compare_pairs([synthetic, split], [(mixed, trad), (synth, trad)], seed=3)
    assert two["comparisons"] == one["comparisons"]
    assert two["settings"]["results"] == [str(synthetic / "results.jsonl"), str(split / "results.jsonl")]
    both = compare_pairs([split, exp], [(mixed, trad)], seed=3)  # trad in both folders: the first's runs
    assert both["comparisons"][0] == one["comparisons"][0] | {"p_holm": both["comparisons"][0]["p_holm"]}
    assert f"{trad.label()}: the runs of {split / 'results.jsonl'}" in " ".join(both["notes"])


def test_result_rows_carry_the_validation_auc_when_the_grid_recorded_it(fake_experiment) -> None:
    from synthmed.classify.results import load_results

    exp = fake_experiment(grid((0,)))
    lines = (exp / "results.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    rows[0]["best_val_auc"], rows[1]["best_val_auc"] = 0.875, float("nan")
    (exp / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    by_id = {r.run_id: r for r in load_results(exp)[1]}
    assert (by_id["run000"].val_auc, by_id["run001"].val_auc, by_id["run003"].val_auc) == (0.875, None, None)
