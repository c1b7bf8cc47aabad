"""A tiny five-class run of the main job through report.html (the binary tests alone missed a crash).

The data is a MedMNIST-format file built here under RetinaMNIST's name (5 classes, RGB, imbalanced like the
real one), with toy shapes that a one-epoch CNN can partly tell apart. The run takes about 15 s on 2 cores.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tests.conftest import make_class_image

from synthmed.pipeline.config import build_config
from synthmed.pipeline.main import run_pipeline
from synthmed.report.build import SECTIONS

pytestmark = pytest.mark.slow

COUNTS = {"train": [40, 16, 24, 24, 12], "val": [8, 6, 6, 6, 6], "test": [16, 10, 10, 10, 8]}
CONFIG = {
    "name": "tiny5", "data": {"medmnist": "retinamnist"}, "gan": {"kimg": 0.3, "batch": 32},
    "generate": {"per_class": 60},
    "metrics": {"max_images": 60, "skip": ["frd", "inception"], "options": {"msssim_pairs": 20, "kid_subsets": 10}},
    "classify": {"epochs": 1, "seeds": [0, 1], "ratios": [0, 100], "real_fractions": [1.0], "augment": ["none"],
                 "synthetic_only": True, "use_filtered": False},
    "report": {"samples_per_class": 4},
}


def write_five_class_npz(root) -> None:
    """Classes 0-2: disk, square, bar (tests/conftest.py); 3 and 4: the disk and square turned by 90 degrees
    and darker, so some classes are easy and some are confused, as in graded data."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, per_class in COUNTS.items():
        images, labels = [], []
        for label, n in enumerate(per_class):
            for _ in range(n):
                img = make_class_image(label, 28, 3, rng)
                images.append(np.rot90(img // 2 + 20).copy() if label >= 3 else img)
                labels.append(label)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = np.stack(images), np.array(labels)[:, None]
    root.mkdir(parents=True, exist_ok=True)
    np.savez(root / "retinamnist.npz", **arrays)


@pytest.fixture(scope="module")
def five_class_run(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("e2e5")
    write_five_class_npz(base / "data")
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNTHMED_CACHE", str(base / "cache"))
    cfg = build_config({**CONFIG, "data": {**CONFIG["data"], "root": str(base / "data")}})
    lines: list[str] = []
    run_pipeline(cfg, base / "run", echo=lines.append)
    yield base / "run", lines, cfg
    mp.undo()


def test_five_classes_reach_the_report(five_class_run) -> None:
    out, _, _ = five_class_run
    results = json.loads((out / "results.json").read_text())
    assert results["failed"] == {} and results["missing"] == {}
    assert results["sections_rendered"] == SECTIONS
    assert len(results["dataset"]["classes"]) == 5
    roc = results["classifier"]["roc"]
    assert [c["source"] for c in roc] == ["real", "mixed", "synthetic"]
    assert all(c["positive_class"] is None and c["kind"] == "macro one-vs-rest" for c in roc)
    assert all(len(c["per_class_auc"]) == 5 and c["auc"] == pytest.approx(np.mean(c["per_class_auc"])) for c in roc)
    assert len(results["statistics"]["table"]) == 2
    # Statistics: macro AUC with a permutation test, per-class DeLong beside it; verdicts name the classes.
    assert all(t["primary_test"] == "permutation (macro one-vs-rest AUC)" for t in results["statistics"]["table"])
    assert [len(c["classes"]) for c in results["statistics"]["per_class"]] == [5, 5]
    assert all("by class (one-vs-rest DeLong)" in v for v in results["verdicts"]["all"])
    breakdown = results["classifier"]["per_class"]
    assert [c["source"] for c in breakdown] == ["real", "mixed", "synthetic"]
    assert all(np.sum(c["confusion_matrix"]) == sum(COUNTS["test"]) for c in breakdown)
    assert np.sum(breakdown[0]["confusion_matrix"], axis=1).tolist() == COUNTS["test"]
    html = (out / "report.html").read_text()
    assert all(f'<section id="{s}">' in html for s in SECTIONS)


@pytest.mark.browser
def test_five_class_report_renders_in_chromium(five_class_run) -> None:
    from tests.report.browser import render

    out, _, _ = five_class_run
    info = render(out / "report.html", "report-e2e-5class.png")
    assert [s["id"] for s in info["sections"]] == SECTIONS
    broken = [i["alt"] for i in info["images"] if not i["complete"] or i["width"] == 0]
    assert not broken and len(info["images"]) == 5 * 2 + 2 + 1 + 3  # samples, GAN, memorization, plots
    assert info["missing"] == []


def test_report_stage_with_a_failing_section_publishes_the_rest_and_fails(five_class_run, monkeypatch) -> None:
    """The report stage writes every other section to the run folder, names the failed one, and is not cached."""
    from synthmed.errors import SynthmedError
    from synthmed.report import plots

    out, _, cfg = five_class_run
    monkeypatch.setattr(plots, "roc_curves", lambda curves: 1 / 0)
    cfg = cfg.model_copy(update={"report": cfg.report.model_copy(update={"samples_per_class": 3})})
    with pytest.raises(SynthmedError, match=r"stage report: section classifier: ZeroDivisionError"):
        run_pipeline(cfg, out, echo=lambda line: None)
    results = json.loads((out / "results.json").read_text())
    assert list(results["failed"]) == ["classifier"] and results["verdicts"]["all"]
    assert "this section could not be built: ZeroDivisionError" in (out / "report.html").read_text()
    assert len(list(out.glob("stages/report-*"))) == 1  # only the earlier, complete report is cached
