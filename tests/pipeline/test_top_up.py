"""The filter stage tops a short class up from the GAN, bounded by filter.top_up_factor, and says what fell short."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tests.conftest import write_toy_dataset

from synthmed.dataset import PreparedDataset
from synthmed.filter.filtering import _sum_summaries, keep_best_rejected, merge_filtered
from synthmed.filter.result import FilterResult
from synthmed.filter.top_up import extra_per_class
from synthmed.gan.train import TrainConfig, train_gan
from synthmed.generate.generate import generate_dataset
from synthmed.pipeline.config import build_config
from synthmed.pipeline.runner import StageContext
from synthmed.pipeline.stages import class_need, run_filter


def test_extra_hand_computed() -> None:
    need, kept, made = np.array([10, 10, 10, 4]), np.array([2, 10, 0, 1]), np.array([8, 20, 10, 4])
    limit = np.array([30, 30, 30, 10])
    # class 0: short 8 at pass rate 1/4 -> ceil(1.25 * 8 * 4) = 40, clipped to 30 - 8 = 22; class 1: not short;
    # class 2: nothing passed yet -> as many as the limit allows (20); class 3: short 3 at 1/4 -> 15, clipped to 6
    assert extra_per_class(need, kept, made, limit).tolist() == [22, 0, 20, 6]
    assert extra_per_class(need, kept, limit, limit).tolist() == [0, 0, 0, 0]  # limit reached: give up


def test_sum_summaries() -> None:
    a = {"per_class": {"x": {"total": 10, "kept": 2, "removed": 8, "low_confidence": 8, "unrealistic": 0,
                             "near_copy": 0, "synthetic_pass_rate": 0.2, "real_pass_rate": 0.9, "n_real": 5}},
         "kept": 2, "removed": 8, "rules": ["r"]}
    b = {"per_class": {"x": {"total": 30, "kept": 12, "removed": 18, "low_confidence": 17, "unrealistic": 0,
                             "near_copy": 1, "synthetic_pass_rate": 0.4, "real_pass_rate": 0.9, "n_real": 5}},
         "kept": 12, "removed": 18, "rules": ["r"]}
    total = _sum_summaries([a, b])
    assert total["per_class"]["x"]["kept"] == 14 and total["per_class"]["x"]["synthetic_pass_rate"] == 14 / 40
    assert total["per_class"]["x"]["real_pass_rate"] == 0.9 and total["kept"] == 14 and total["rules"] == ["r"]


def test_filter_stage_tops_up_short_classes(tmp_path: Path) -> None:
    prep = tmp_path / "prepare"
    real = write_toy_dataset(prep / "dataset", {"train": [12, 12], "val": [10, 10], "test": [4, 4]}, resolution=16)
    run = train_gan(TrainConfig(data=str(real.root), arch="dcgan", out=str(tmp_path / "gan" / "runs"), kimg=0.016,
                                batch=8, width=8, z_dim=16, tick_kimg=0.016, snapshot_kimg=1.0, progress=False))
    generate_dataset(run, tmp_path / "generate" / "dataset", per_class=6, progress=False)
    cfg = build_config({"classify": {"ratios": [0, 100], "real_fractions": [1.0], "synthetic_only": False},
                        "filter": {"top_up_factor": 2.0, "when_short": "drop"}})
    ctx = StageContext("filter", tmp_path / "filter", cfg,
                       {"prepare": prep, "gan": tmp_path / "gan", "generate": tmp_path / "generate"},
                       {"gan": {"run": str(Path(run).relative_to(tmp_path / "gan"))},
                        "prepare": {"train_hash": real.images_hash("train")}}, {}, tmp_path)
    (tmp_path / "filter").mkdir()
    summary = run_filter(ctx)
    need = class_need(cfg, real, [1.0])
    assert need.tolist() == [12, 12]  # ratio 100 % of 24 real images, split like the real classes
    top = summary["top_up"]
    saved = FilterResult.load(tmp_path / "filter").as_dict()
    assert saved["top_up"] == top
    kept = PreparedDataset.open(tmp_path / "filter" / "dataset")
    assert len(kept.entries("train")) == saved["kept"] == sum(r["kept"] for r in top["per_class"].values())
    for name, row in top["per_class"].items():
        assert row["generated"] <= 2.0 * row["need"] or row["generated"] == 6  # the bound (first batch aside)
        assert row["short"] == (row["kept"] < row["need"])
        assert saved["per_class"][name]["total"] == row["generated"]
        if row["short"]:  # a class still short is named with its numbers
            assert any(n.startswith(f"{name}: the grid needs {row['need']}, {row['generated']} generated")
                       for n in top["notes"])
    assert top["rounds"] >= 1  # 6 images per class cannot feed a need of 12: it generated more
    seeds = [e["image_seed"] for e in kept.entries("train")]
    assert len(set(seeds)) == len(seeds)  # top-up images are new latents, never repeats


def _fake_filter_output(folder: Path, synthetic: Path, rows: list[tuple[int, str, float, str]]) -> Path:
    """A filter output folder as ``filter_synthetic`` writes it: only the two files ``keep_best_rejected`` reads."""
    folder.mkdir(parents=True)
    (folder / "filter_config.json").write_text(json.dumps({"synthetic": f"{synthetic}:train"}))
    lines = ["index,path,label,class,confidence,realism,nn_train_pixel,dist_aligned_rms,nn_train_feature,"
             "dist_feature,near_copy,decision,reasons"]
    for i, name, conf, reasons in rows:
        label = 0 if name == "class0" else 1
        lines.append(f"{i},p{i}.png,{label},{name},{conf},0,0,0,0,0,{int('near_copy' in reasons)},"
                     f"{'remove' if reasons else 'keep'},{reasons}")
    (folder / "filter_scores.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_keep_best_rejected_hand_computed(tmp_path: Path) -> None:
    syn_a = write_toy_dataset(tmp_path / "gen-a", {"train": [4, 2]}, resolution=8)
    syn_b = write_toy_dataset(tmp_path / "gen-b", {"train": [2, 0]}, resolution=8, seed=1)
    a = _fake_filter_output(tmp_path / "pass-0", syn_a.root, [
        (0, "class0", 0.30, "low_confidence"), (1, "class0", 0.50, "low_confidence;near_copy"),
        (2, "class0", 0.10, "low_confidence"), (3, "class0", 0.90, ""),
        (4, "class1", 0.20, "low_confidence"), (5, "class1", 0.40, "low_confidence;unrealistic")])
    b = _fake_filter_output(tmp_path / "pass-1", syn_b.root, [
        (0, "class0", 0.25, "low_confidence"), (1, "class0", 0.05, "near_copy")])
    admitted = keep_best_rejected([a, b], {"class0": 2, "class1": 0}, tmp_path / "relaxed")
    # class0's rejected-for-confidence-only images: 0.30 (a0), 0.25 (b0), 0.10 (a2); the near copies (a1, b1) never
    assert admitted == {"class0": {"admitted": 2, "lowest_confidence": 0.25},
                        "class1": {"admitted": 0, "lowest_confidence": None}}
    out = PreparedDataset.open(tmp_path / "relaxed")
    entries = out.entries("train")
    assert [(e["filter_confidence"], e["filter_relaxed"]) for e in entries] == [(0.30, True), (0.25, True)]
    assert np.array_equal(out.load_image(entries[0]), syn_a.load_image(syn_a.entries("train")[0]))
    assert np.array_equal(out.load_image(entries[1]), syn_b.load_image(syn_b.entries("train")[0]))


def test_merge_counts_admitted_images_as_kept_not_as_passed(tmp_path: Path) -> None:
    syn = write_toy_dataset(tmp_path / "gen", {"train": [4, 2]}, resolution=8)
    kept = write_toy_dataset(tmp_path / "pass-0", {"train": [1, 2]}, resolution=8)
    part = _fake_filter_output(tmp_path / "scores", syn.root, [
        (0, "class0", 0.30, "low_confidence"), (1, "class0", 0.20, "low_confidence"),
        (2, "class0", 0.10, "low_confidence"), (3, "class0", 0.90, "")])
    keep_best_rejected([part], {"class0": 2}, tmp_path / "relaxed")
    summary = {"per_class": {"class0": {"total": 4, "kept": 1, "removed": 3, "low_confidence": 3, "unrealistic": 0,
                                        "near_copy": 0, "synthetic_pass_rate": 0.25},
                             "class1": {"total": 2, "kept": 2, "removed": 0, "low_confidence": 0, "unrealistic": 0,
                                        "near_copy": 0, "synthetic_pass_rate": 1.0}}, "kept": 3, "removed": 3}
    merged = merge_filtered([kept.root], [summary], tmp_path / "dataset",
                            relaxed=(tmp_path / "relaxed", {"class0": 2}))
    row = merged["per_class"]["class0"]
    assert (row["kept"], row["removed"], row["relaxed"], row["synthetic_pass_rate"]) == (3, 1, 2, 0.25)
    assert (merged["kept"], merged["removed"]) == (5, 1)
    assert len(PreparedDataset.open(tmp_path / "dataset").entries("train")) == 5


def test_filter_stage_fills_a_short_class_with_its_best_rejected_images(tmp_path: Path) -> None:
    prep = tmp_path / "prepare"
    real = write_toy_dataset(prep / "dataset", {"train": [12, 12], "val": [10, 10], "test": [4, 4]}, resolution=16)
    run = train_gan(TrainConfig(data=str(real.root), arch="dcgan", out=str(tmp_path / "gan" / "runs"), kimg=0.016,
                                batch=8, width=8, z_dim=16, tick_kimg=0.016, snapshot_kimg=1.0, progress=False))
    generate_dataset(run, tmp_path / "generate" / "dataset", per_class=6, progress=False)
    # top_up_factor 1: a class gets at most its need (12) generated, so an untrained GAN leaves classes short.
    cfg = build_config({"classify": {"ratios": [0, 100], "real_fractions": [1.0], "synthetic_only": False},
                        "filter": {"top_up_factor": 1.0, "real_pass_rate": 0.99}})
    ctx = StageContext("filter", tmp_path / "filter", cfg,
                       {"prepare": prep, "gan": tmp_path / "gan", "generate": tmp_path / "generate"},
                       {"gan": {"run": str(Path(run).relative_to(tmp_path / "gan"))},
                        "prepare": {"train_hash": real.images_hash("train")}}, {}, tmp_path)
    (tmp_path / "filter").mkdir()
    summary = run_filter(ctx)
    top = summary["top_up"]
    relaxed = {name: row.get("relaxed", 0) for name, row in top["per_class"].items()}
    assert any(relaxed.values()), top  # the 0.016-kimg GAN cannot pass a 99 % real rule for every class
    kept = PreparedDataset.open(tmp_path / "filter" / "dataset")
    counts = np.bincount(kept.labels("train"), minlength=2)
    saved = FilterResult.load(tmp_path / "filter").as_dict()
    for k, (name, row) in enumerate(top["per_class"].items()):
        assert counts[k] == row["kept"] + relaxed[name] == saved["per_class"][name]["kept"]
        if relaxed[name]:
            assert not row["short"] or counts[k] < row["need"]
            assert any(n.startswith(f"{name}: the grid needs {row['need']}") and "best-scoring" in n
                       for n in top["notes"])
    admitted = [e for e in kept.entries("train") if e.get("filter_relaxed")]
    assert len(admitted) == sum(relaxed.values())
