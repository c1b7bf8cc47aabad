"""The report from hand-made stage outputs: every section, every number in results.json, reasons for gaps."""

from __future__ import annotations

import json
import re
from html import unescape

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from synthmed.filter.result import FilterResult
from synthmed.pipeline.config import ExperimentConfig
from synthmed.report import collect
from synthmed.report.build import SECTIONS, build_report, format_number
from synthmed.stats.result import StatsResult


def test_every_section_rendered_with_images(fake_report) -> None:
    _results, out = fake_report
    html = (out / "report.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    assert 'class="missing"' not in html  # nothing was skipped in the fake run
    # Self-contained: every image is a data URI, nothing is fetched.
    sources = re.findall(r'<img[^>]* src="([^"]+)"', html)
    assert len(sources) == 2 * 2 + 2 + 1 + 3  # sample grids, GAN curves + grid, memorization, 3 plots
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in html and "https://" not in html
    # the generator family that made the images is named, with its summary
    assert "made by the <b>dcgan</b> family (DCGAN: small and fast (CPU))" in html


def test_results_json_holds_the_numbers(fake_report, fake_run) -> None:
    _results, out = fake_report
    saved = json.loads((out / "results.json").read_text())
    assert saved["dataset"]["counts"]["train"] == {"malignant": 24, "benign": 16}
    assert saved["metrics"]["overall"]["frd"] == 12.5
    benign = saved["filter"]["per_class"]["benign"]
    assert (benign["kept"], benign["removed"], benign["real_pass_rate"]) == (25, 5, 0.9)
    assert len(saved["gan"]["ticks"]) == 6
    # Per-seed AUCs are the rows' own numbers: real, mixed 50/100 at two fractions, synthetic, real + augment.
    conds = saved["classifier"]["conditions"]
    assert len(conds) == 8 and all(len(c["auc_seeds"]) == 2 for c in conds)
    assert [(c["source"], c["ratio"], c["real_fraction"], c["augment"]) for c in conds][:3] == [
        ("real", 0, 1.0, "none"), ("real", 0, 1.0, "traditional"), ("real", 0, 0.25, "none")]
    # The plotted AUC of a cell is the statistics stage's seed-ensemble estimate (same numbers as the verdicts).
    stats = StatsResult.load(fake_run.folder("stats")).as_dict()
    comp = next(c for c in stats["comparisons"] if c["config"]["source"] == "synthetic"
                and c["config"]["augment"] == "none")
    cell = next(c for c in conds if c["source"] == "synthetic" and c["augment"] == "none")
    assert cell["auc"] == comp["ensemble"]["bootstrap"]["models"][0]["auc"]["estimate"]
    assert cell["ci_low"] <= cell["auc"] <= cell["ci_high"]
    assert saved["verdicts"]["all"] == [c["sentence"] for c in stats["comparisons"]]
    assert sum(saved["verdicts"]["counts"].values()) == len(stats["comparisons"])
    assert any("synthetic-only" in v for v in saved["verdicts"]["headline"])


def test_generated_counts_include_the_filters_top_up(fake_run, tmp_path) -> None:
    import shutil
    from dataclasses import replace

    # The generate stage made 30 per class; the filter's top-up made 15 more malignant ones (45 in all).
    folder = tmp_path / "filter"
    shutil.copytree(fake_run.folders["filter"], folder)
    summary = FilterResult.load(folder)
    summary.top_up.per_class["malignant"].generated = 45
    summary.write(folder)
    results = build_report(replace(fake_run, folders={**fake_run.folders, "filter": folder}), tmp_path / "out")
    assert results["synthetic"]["generated"] == {"malignant": 45, "benign": 30}
    assert "(generated in all, with the filter's top-up:" in unescape((tmp_path / "out" / "report.html").read_text())
    # Without a top-up round the generate stage's counts stand.
    summary.top_up.rounds = 0
    summary.write(folder)
    results = build_report(replace(fake_run, folders={**fake_run.folders, "filter": folder}), tmp_path / "out2")
    assert results["synthetic"]["generated"] == {"malignant": 30, "benign": 30}


def test_verdict_boxes_coloured_by_their_own_verdict() -> None:
    from synthmed.report.build import verdicts

    def comp(sentence, verdict):
        return {"name": sentence, "sentence": sentence, "verdict": verdict, "baseline_name": "real",
                "config": {"source": "mixed", "ratio": 50, "real_fraction": 1.0, "augment": "none", "arch": "cnn"}}

    comparisons = [comp("a", "worse"), comp("b", "better"), comp("c", "no significant difference")]
    v = verdicts(StatsResult(settings={}, comparisons=comparisons, skipped=[], notes=[]))
    assert v["headline"] == ["a", "b", "c"]
    assert v["headline_verdicts"] == ["worse", "better", "no significant difference"]


def test_summary_says_when_training_ran_below_the_data_resolution() -> None:
    from synthmed.report.build import _strongest_headline

    out = {"summary": "3 configurations compared.", "headline": ["old"], "headline_verdicts": ["better"]}
    _strongest_headline(out, {"comparisons": []}, {"prepared": 256, "gan": 32, "classify": 32},
                        ExperimentConfig(profile="cpu"))
    assert out["summary"].startswith("3 configurations compared. These verdicts hold at a fraction")
    assert "the gpu profile (up to 256 px) would train at the data's 256 px" in out["summary"]
    assert out["headline"] == ["old"]  # a stats file without the strongest arm keeps its headline
    same = {"summary": "S."}
    _strongest_headline(same, {}, {"prepared": 64, "gan": 64, "classify": 64}, ExperimentConfig(profile="quality"))
    assert same == {"summary": "S."}


def test_headline_boxes_in_html_follow_verdicts(fake_report, fake_run) -> None:
    _results, out = fake_report
    html = (out / "report.html").read_text()
    stats = StatsResult.load(fake_run.folder("stats")).as_dict()
    # The headline: every synthetic condition on all the real data against the strongest real-only arm (here the
    # plain one: the fake grid recorded no validation AUC to choose by), and the summary names it.
    heads = [c for c in stats["strongest"]["comparisons"] if c["config"]["real_fraction"] == 1.0]
    assert heads and all(c["config"]["source"] != "real" for c in heads)
    assert "against real-only, the strongest real-only arm of the grid on validation" in unescape(html)
    for c in heads:
        want = {"better": "verdict v-better", "worse": "verdict v-worse"}.get(c["verdict"], "verdict")
        assert f'<p class="{want}">{c["sentence"]}' in unescape(html)


def test_roc_ensemble_auc_matches_sklearn(fake_report, fake_run) -> None:
    results, _ = fake_report
    exp = fake_run.folder("classify") / "experiment"
    lines = [json.loads(line) for line in (exp / "results.jsonl").read_text().splitlines()]
    rows = [r for r in lines if r["source"] == "real" and r["real_fraction"] == 1.0 and r["augment"] == "none"]
    scores = [np.loadtxt(exp / r["predictions"], delimiter=",", skiprows=1) for r in rows]
    mean = np.mean([s[:, 3] for s in scores], axis=0)  # score_0: the positive class is 0 here
    expected = roc_auc_score(scores[0][:, 1] == 0, mean)
    roc = next(c for c in results["classifier"]["roc"] if c["source"] == "real")
    assert roc["auc"] == pytest.approx(expected)
    assert roc["fpr"][0] == 0 and roc["tpr"][-1] == 1


def test_skipped_stages_say_why(fake_run, tmp_path) -> None:
    from dataclasses import replace

    src = replace(fake_run, folders={**fake_run.folders, "metrics": None, "filter": None},
                  skipped={"metrics": "disabled in the config (metrics.enabled: false)",
                           "filter": "disabled in the config (filter.enabled: false)"})
    results = build_report(src, tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "stage metrics was skipped: disabled in the config (metrics.enabled: false)" in html
    assert "stage filter was skipped" in html
    assert "metrics" not in results and results["missing"]["metrics"].startswith("stage metrics was skipped")
    # Without the filter the classifiers' synthetic images are the generated ones.
    assert results["synthetic"]["from_stage"] == "generate"


def test_without_statistics_ci_is_t_over_seeds(fake_run, tmp_path) -> None:
    from dataclasses import replace

    from scipy import stats

    src = replace(fake_run, folders={**fake_run.folders, "stats": None})
    results = build_report(src, tmp_path)
    cell = results["classifier"]["conditions"][0]
    assert cell["ci_kind"] == "t over seeds"
    v = np.array(cell["auc_seeds"])
    low, high = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((low, high))
    assert "verdicts" not in results and "stage stats has no output" in results["missing"]["statistics"]


def test_format_number() -> None:
    assert format_number(None) == "n/a"
    assert format_number(0.87654) == "0.877"
    assert format_number(1.0) == "1.000"
    assert format_number(12.345) == "12.35"
    assert format_number(0.00001234) == "1.23e-05"
    assert format_number(7) == "7"
    assert format_number(float("nan")) == "n/a"


def test_a_failing_part_costs_only_its_section(fake_run, tmp_path, monkeypatch) -> None:
    """A bug in one plot: the classifier section names the error, every other section and results.json remain."""
    from synthmed.report import plots

    def broken(curves):
        raise ValueError("a bug in the ROC plot")

    monkeypatch.setattr(plots, "roc_curves", broken)
    results = build_report(fake_run, tmp_path)
    assert list(results["failed"]) == ["classifier"]
    assert results["failed"]["classifier"].startswith("ValueError: a bug in the ROC plot (at test_report.py:")
    assert results["sections_rendered"] == [s for s in SECTIONS if s != "classifier"]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["failed"] == results["failed"] and saved["verdicts"]["all"]  # the statistics are all there
    html = (tmp_path / "report.html").read_text()
    assert all(f'<section id="{s}">' in html for s in SECTIONS)
    assert "this section could not be built: ValueError: a bug in the ROC plot" in html


def test_a_failing_section_template_costs_only_that_section(fake_run, tmp_path, monkeypatch) -> None:
    """Data the statistics template does not expect (a row without its columns) fails that section alone."""
    monkeypatch.setattr(collect, "stats_table", lambda stats: [{"name": "odd row"}])
    results = build_report(fake_run, tmp_path)
    assert list(results["failed"]) == ["statistics"] and "UndefinedError" in results["failed"]["statistics"]
    html = (tmp_path / "report.html").read_text()
    assert "this section could not be rendered: UndefinedError" in html
    assert all(f'<section id="{s}">' in html for s in SECTIONS)
    assert json.loads((tmp_path / "results.json").read_text())["failed"] == results["failed"]


def test_multiclass_roc_is_macro_one_vs_rest() -> None:
    """K = 3, no positive class: the macro AUC is sklearn's ovr/macro AUC, the curve the mean of the 3 curves."""
    from synthmed.stats.summary import ensemble_roc

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 90)
    scores = rng.dirichlet([1, 1, 1], 90) + 0.5 * np.eye(3)[labels]
    scores /= scores.sum(axis=1, keepdims=True)
    roc = ensemble_roc(labels, scores, None)
    assert roc["positive_class"] is None and roc["kind"] == "macro one-vs-rest"
    assert roc["auc"] == pytest.approx(roc_auc_score(labels, scores, multi_class="ovr", average="macro"))
    assert roc["per_class_auc"][2] == pytest.approx(roc_auc_score(labels == 2, scores[:, 2]))
    assert roc["fpr"][0] == 0 and roc["tpr"][-1] == pytest.approx(1) and np.all(np.diff(roc["tpr"]) >= 0)


def test_metrics_reference_columns_and_filter_pass_rates(fake_report) -> None:
    """The metrics table has a 'real val' column per class; the filter section its rules, pass rates and top-up."""
    _results, out = fake_report
    html = (out / "report.html").read_text()
    metrics = html[html.index('<section id="metrics">'):html.index('<section id="filter">')]
    assert metrics.count(", real val</th>") == 3  # overall and both classes
    filtered = html[html.index('<section id="filter">'):]
    filtered = filtered[:filtered.index("</section>")]
    assert "Kept when: confidence" in filtered and "real_pass_rate" in filtered and "Top-up" in filtered
