"""The leakage audit and the oracle-GAN label, on the fake run (no training)."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from synthmed.classify.results import Cell, ResultRow
from synthmed.dataset import DatasetWriter, PreparedDataset
from synthmed.pipeline.config import ExperimentConfig
from synthmed.report import audit
from synthmed.report.build import ReportSources, build_report

CONFIG = ExperimentConfig()


def _audit(fake_run: ReportSources, summaries: dict[str, dict], runs: list[ResultRow] = ()) -> dict:
    """The audit of the fake run with other summaries (read as their models, as the report reads them)."""
    return audit.audit(dataclasses.replace(fake_run, summaries=summaries).summary_records(), CONFIG, list(runs), None)


def test_audit_table_and_verdict_of_a_clean_run(fake_report, fake_run) -> None:
    results, out = fake_report
    lk = results["leakage"]
    assert not lk["leak"] and lk["verdict"].startswith("No val/test image reached training")
    rows = {(t["stage"], t["split"], t["fraction"]): t for t in lk["table"]}
    # 40 training images, the 25 % subset 10 (24:16 -> 6 + 4); GAN, metrics and filter of each scope listed once.
    assert rows[("gan", "train", 1.0)]["n"] == 40 and rows[("gan-f0.25", "train", 0.25)]["n"] == 10
    assert rows[("gan-f0.25", "train", 0.25)]["images_hash"] == rows[("classify", "train", 0.25)]["images_hash"]
    assert rows[("classify", "val", 1.0)]["n"] == 8 and rows[("classify", "test", 1.0)]["n"] == 60
    assert len(lk["table"]) == 6 + 2 + 2
    assert [(g["stage"], g["real_images"], g["kimg"]) for g in lk["gans"]] == [("gan", 40, 6.0), ("gan-f0.25", 10, 3.0)]
    assert lk["source_duplicates"] == {"val": 0, "test": 0}
    html = (out / "report.html").read_text()
    assert "Leakage audit" in html and lk["verdict"] in html
    # The stage table times the 25 % chain too (the fake run has folders only for the whole split's chain).
    from synthmed.report.build import stage_names

    fake = dataclasses.replace(fake_run, skipped={"filter-f0.25": "off", "gan-f0.25": "x", "subset-f0.25": "x"})
    assert stage_names(fake)[4:9] == ["filter", "subset-f0.25", "gan-f0.25", "filter-f0.25", "classify"]


def test_a_gan_that_saw_other_images_is_a_leak(fake_run) -> None:
    summaries = copy.deepcopy(fake_run.summaries)
    summaries["gan-f0.25"]["real"] = summaries["gan"]["real"]  # the subset GAN trained on the whole split
    result = _audit(fake_run, summaries)
    assert result["leak"] and result["verdict"].startswith("LEAK: gan-f0.25 learnt from other images")
    runs = [ResultRow(Cell("mixed", 50, 0.25, "none", "cnn"), seed=0, run_id="mixed", metrics={}, positive_class=0,
                      predictions=Path("predictions.csv"), line=1, row={"real_images_hash": "0" * 64})]
    assert "classifiers of real fraction 0.25" in _audit(fake_run, fake_run.summaries, runs)["verdict"]


def test_oracle_cells_are_labelled_upper_bound(fake_run, tmp_path) -> None:
    oracle = dataclasses.replace(fake_run, config={**fake_run.config, "classify": {"oracle_gan": True}})
    results = build_report(oracle, tmp_path)
    labels = {(c["source"], c["real_fraction"]): c["gan"] for c in results["classifier"]["conditions"]
              if c["augment"] == "none"}
    assert labels[("mixed", 0.25)] == "oracle GAN (upper bound)"
    assert labels[("mixed", 1.0)] is None and labels[("real", 0.25)] is None
    low = [v for v in results["verdicts"]["all"] if "0.25 of the real images" in v]
    assert low and all(v.startswith("oracle GAN (upper bound): ") for v in low)
    assert "oracle GAN (upper bound)" in (tmp_path / "report.html").read_text()
    assert not any(v.startswith("oracle") for v in build_report(fake_run, tmp_path / "plain")["verdicts"]["all"])


def test_source_duplicates_counts_pixel_identical_images(tmp_path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (4, 8, 8), dtype=np.uint8)
    with DatasetWriter(tmp_path / "ds", ["a", "b"], 8, 1) as w:
        for i, img in enumerate(images):
            w.add(img, i % 2, "train")
        w.add(images[2], 0, "test")  # the same pixels as a training image (another label does not matter)
        w.add(rng.integers(0, 255, (8, 8), dtype=np.uint8), 1, "test")
        w.finish(source={}, preprocessing={})
    assert audit.source_duplicates(PreparedDataset.open(tmp_path / "ds")) == {"val": 0, "test": 1}


def test_strategy_section_minority_sensitivity_by_hand(fake_report, fake_run) -> None:
    import csv

    results, _ = fake_report
    st = results["strategy"]
    # Fake training split: 24 malignant, 16 benign; the median is 20, so benign is the minority class.
    assert st["strategy"] == "proportional" and st["minority"] == ["benign"] and st["train_counts"] == [24, 16]
    cell = next(c for c in st["cells"] if (c["source"], c["real_fraction"]) == ("real", 1.0))
    exp = fake_run.folder("classify") / "experiment"
    scores = []
    for seed in (0, 1):
        with open(exp / "runs" / f"real-r0-f1.0-none-s{seed}" / "predictions.csv") as fh:
            rows = list(csv.DictReader(fh))
        scores.append([float(r["score_0"]) for r in rows])
        labels = np.array([int(r["label"]) for r in rows])
    # Positive class 0, thresholds 0.5: the ensemble says malignant when the mean malignant score is >= 0.5.
    predicted = np.where(np.mean(scores, axis=0) >= 0.5, 0, 1)
    hits, n = int((predicted[labels == 1] == 1).sum()), int((labels == 1).sum())
    p, z = hits / n, 1.959963984540054
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n
                                                                                        + z * z / (4 * n * n))
    sens = cell["minority_sensitivity"][0]
    assert (sens["hits"], sens["support"]) == (hits, n) == (sens["hits"], 40)
    assert sens["ci_low"] == pytest.approx(centre - half) and sens["ci_high"] == pytest.approx(centre + half)


def test_filter_calibration_on_val_is_listed_and_said(fake_run) -> None:
    summaries = copy.deepcopy(fake_run.summaries)
    val = summaries["classify"]["val"]
    for stage in ("filter", "filter-f0.25"):
        summaries[stage]["calibrated_on"] = val
    result = _audit(fake_run, summaries)
    rows = [r for r in result["table"] if r["role"].startswith("filter thresholds")]
    assert [(r["stage"], r["split"], r["n"]) for r in rows] == [("filter", "val", 8), ("filter-f0.25", "val", 8)]
    assert not result["leak"] and "as scores, to calibrate the filter's thresholds" in result["verdict"]
