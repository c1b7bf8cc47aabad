"""A tiny real run of the main job on BreastMNIST 28x28, killed in the classifier grid and resumed.

One run serves every test here (about a minute on 2 cores): a subprocess ``synthmed run`` is killed
(SIGKILL) once the classifier grid has finished its first run; ``run_pipeline`` then resumes it. The
re-run and option-change tests work on the finished folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import medmnist_root

from synthmed.dataset import PreparedDataset
from synthmed.gan.run import GanRun
from synthmed.pipeline.config import load_config
from synthmed.pipeline.main import run_pipeline
from synthmed.pipeline.runner import RunRecord, StageRecord, plan
from synthmed.pipeline.stages import stages_for
from synthmed.report.build import SECTIONS

pytestmark = pytest.mark.slow

TINY = """\
name: tiny
gan: {kimg: 0.3, batch: 32}
generate: {per_class: 120, strategy: top-up}
metrics: {max_images: 100, skip: [frd, inception], options: {msssim_pairs: 20, kid_subsets: 10}}
classify: {epochs: 1, seeds: [0, 1], ratios: [0, 100], real_fractions: [0.25], augment: [none],
           synthetic_only: true, use_filtered: false}
report: {samples_per_class: 9}
"""


def _kill_during_grid(cmd: list[str], out: Path, env: dict, timeout: float = 600) -> str:
    """Start the run; SIGKILL it once one classifier run has finished; return what it printed."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if list(out.glob("work/classify-*/experiment/runs/*/result.json")):
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.2)
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != -signal.SIGKILL:
        pytest.fail(f"the run was not killed in the grid (exit {proc.returncode}):\n{output[-3000:]}")
    return output


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = medmnist_root()
    if root is None:
        pytest.skip("breastmnist.npz not found: set SYNTHMED_DATA_ROOT")
    base = tmp_path_factory.mktemp("e2e")
    config = base / "tiny.yaml"
    config.write_text(TINY)
    out = base / "run"
    mp = pytest.MonkeyPatch()
    mp.setenv("SYNTHMED_DATA_ROOT", str(root))
    mp.setenv("SYNTHMED_CACHE", str(base / "cache"))
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    killed_output = _kill_during_grid([sys.executable, "-m", "synthmed", "run", str(config), "--out", str(out)],
                                      out, env)
    lines: list[str] = []
    printed = io.StringIO()
    start = time.monotonic()
    with contextlib.redirect_stdout(printed):
        run_pipeline(load_config(config), out, echo=lines.append)
    yield {"config": config, "out": out, "lines": lines, "printed": printed.getvalue(), "killed": killed_output,
           "resume_seconds": time.monotonic() - start}
    mp.undo()


def test_killed_run_resumes_where_it_stopped(tiny_run) -> None:
    lines = tiny_run["lines"]
    for stage in ("prepare", "gan", "generate", "metrics", "filter"):
        assert any(stage in line and " cached " in line for line in lines), lines
    assert any("classify" in line and "resuming" in line for line in lines), lines
    assert "done before, skipped" in tiny_run["printed"]  # the grid skipped the run finished before the kill
    assert re.search(r"\[1/9\] prepare +running", tiny_run["killed"])  # the killed run did the earlier stages
    assert not any((tiny_run["out"] / "work").iterdir())


def test_run_folder_has_config_seeds_and_report(tiny_run) -> None:
    out = tiny_run["out"]
    info = RunRecord.load(out)
    assert info.seeds == {"gan": 0, "generate": 0, "metrics": 0, "filter": 0, "real_subsets": 0,
                          "classify": [0, 1]}
    assert [p.status for p in info.plan][:6] == ["cached"] * 6
    assert all(not Path(p.folder).is_absolute() for p in info.plan)  # the run folder can move
    assert load_config(out / "config.yaml") == load_config(tiny_run["config"])
    results = json.loads((out / "results.json").read_text())
    assert results["missing"] == {}
    assert results["dataset"]["counts"]["train"] == {"malignant": 147, "normal, benign": 399}
    assert results["synthetic"]["generated"] == {"malignant": 120, "normal, benign": 120}
    # The only GAN is the 25 % subset's, trained for 0.3 * 0.25 ** 0.5 kimg.
    assert results["gan"]["ticks"] and results["gan"]["ticks"][-1]["kimg"] >= 0.15
    assert results["metrics"]["overall"]["kid_domain"] is not None
    # 240 generated, then the filter stage topped short classes up (at most top_up_factor x their need)
    top_up = results["filter"]["top_up"]["per_class"]
    assert results["filter"]["kept"] + results["filter"]["removed"] == sum(r["generated"] for r in top_up.values())
    assert all(120 <= r["generated"] <= max(120, 20 * r["need"]) for r in top_up.values())
    conds = results["classifier"]["conditions"]
    assert [(c["source"], c["ratio"], c["seeds"]) for c in conds] == [
        ("real", 0, [0, 1]), ("mixed", 100, [0, 1]), ("synthetic", 100, [0, 1])]
    assert all(0 <= c["auc"] <= 1 and c["ci_low"] <= c["auc"] <= c["ci_high"] for c in conds)
    assert len(results["statistics"]["table"]) == 2 and len(results["verdicts"]["all"]) == 2
    assert any(v.startswith("synthetic-only") for v in results["verdicts"]["all"])
    html = (out / "report.html").read_text()
    assert all(f'<section id="{s}">' in html for s in SECTIONS)


def test_subset_gan_saw_exactly_the_classifiers_subset(tiny_run) -> None:
    """The low-data cell's GAN, metrics reference and filter learnt from the classifiers' 25 %, by content hash."""
    out = tiny_run["out"]
    done = {p.name.rsplit("-", 1)[0]: StageRecord.load(p).summary for p in (out / "stages").iterdir()}
    assert "gan" not in done  # no real fraction 1 in this grid: no GAN on the whole train split
    gan_dir = next((out / "stages").glob("gan-f0.25-*")) / done["gan-f0.25"]["run"]
    gan_data = PreparedDataset.open(GanRun.open(gan_dir).options()["data"])
    assert gan_data.split_names == ["train"] and len(gan_data.entries("train")) == 137  # 546 * 0.25 = 136.5
    saw = gan_data.images_hash("train")
    rows = [json.loads(line) for line in next(out.glob("stages/classify-*/experiment/results.jsonl")).open()]
    assert len(rows) == 6 and {r["real_images_hash"] for r in rows if r["source"] != "synthetic"} == {saw}
    assert all(r["steps"] == r["epoch_steps"] == 3 for r in rows)  # 137 images, batch 64: 3 steps, every run
    assert done["metrics-f0.25"]["real"]["images_hash"] == done["filter-f0.25"]["real"]["images_hash"] == saw
    assert done["classify"]["real_subsets"]["0.25"] == {"split": "train", "n": 137, "images_hash": saw,
                                                        "trained_hash": saw}
    assert saw not in (done["classify"]["val"]["images_hash"], done["classify"]["test"]["images_hash"])
    audit = json.loads((out / "results.json").read_text())["leakage"]
    assert not audit["leak"] and audit["verdict"].startswith("No val/test image reached training")
    assert audit["source_duplicates"] == {"val": 0, "test": 1}  # one in BreastMNIST's official splits
    assert [(g["stage"], g["real_images"], g["kimg"]) for g in audit["gans"]] == [("gan-f0.25", 137, 0.15)]


def test_grid_draws_synthetic_images_by_the_strategy(tiny_run) -> None:
    strategy = json.loads((tiny_run["out"] / "results.json").read_text())["strategy"]
    assert strategy["strategy"] == "top-up" and strategy["minority"] == ["malignant"]
    cells = {c["source"]: c for c in strategy["cells"]}
    # The 25 % subset: 37 malignant, 100 benign. Ratio 100 % = 137 synthetic, top-up: 63 bring malignant to 100,
    # the other 74 split 37 + 37 -> 137 each. Synthetic-only replaces the real set in its proportions.
    assert (cells["real"]["real"], cells["real"]["synthetic"]) == ([37, 100], [0, 0])
    assert (cells["mixed"]["real"], cells["mixed"]["synthetic"]) == ([37, 100], [100, 37])
    assert (cells["synthetic"]["real"], cells["synthetic"]["synthetic"]) == ([0, 0], [37, 100])
    sens = cells["mixed"]["minority_sensitivity"][0]
    assert sens["support"] == 42 and sens["ci_low"] <= sens["sensitivity"] <= sens["ci_high"]  # 42 malignant tests


def test_rerun_is_all_cached(tiny_run) -> None:
    lines: list[str] = []
    start = time.monotonic()
    run_pipeline(load_config(tiny_run["config"]), tiny_run["out"], echo=lines.append)
    stage_lines = [line for line in lines if line.startswith("[")]
    assert len(stage_lines) == 9 and all(" cached " in line for line in stage_lines)
    assert time.monotonic() - start < 30


def test_changed_option_reruns_only_dependents(tiny_run) -> None:
    cfg = load_config(tiny_run["config"])
    out = tiny_run["out"]
    epochs = cfg.model_copy(update={"classify": cfg.classify.model_copy(update={"epochs": 2})})
    assert [p.status for p in plan(stages_for(epochs), epochs, out)] == ["cached"] * 6 + ["run"] * 3
    kimg = cfg.model_copy(update={"gan": cfg.gan.model_copy(update={"kimg": 0.5})})
    assert [p.status for p in plan(stages_for(kimg), kimg, out)] == ["cached"] * 2 + ["run"] * 7
    samples = cfg.model_copy(update={"report": cfg.report.model_copy(update={"samples_per_class": 4})})
    lines: list[str] = []
    run_pipeline(samples, out, echo=lines.append)
    assert any("report" in line and "done in" in line for line in lines)
    assert sum(" cached " in line for line in lines) == 8  # every stage but the report


@pytest.mark.browser
def test_report_renders_in_chromium(tiny_run) -> None:
    from tests.report.browser import render

    info = render(tiny_run["out"] / "report.html", "report-e2e.png")
    assert [s["id"] for s in info["sections"]] == SECTIONS
    broken = [i["alt"] for i in info["images"] if not i["complete"] or i["width"] == 0]
    assert not broken and len(info["images"]) >= 9
