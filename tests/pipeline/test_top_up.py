"""The filter stage tops a short class up from the GAN, bounded by filter.top_up_factor, and says what fell short."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tests.conftest import write_toy_dataset

from synthmed.dataset import PreparedDataset
from synthmed.filter.filtering import _sum_summaries
from synthmed.gan.train import TrainConfig, train_gan
from synthmed.generate.generate import generate_dataset
from synthmed.pipeline.config import build_config
from synthmed.pipeline.runner import StageContext
from synthmed.pipeline.stages import _extra, class_need, run_filter


def test_extra_hand_computed() -> None:
    need, kept, made = np.array([10, 10, 10, 4]), np.array([2, 10, 0, 1]), np.array([8, 20, 10, 4])
    limit = np.array([30, 30, 30, 10])
    # class 0: short 8 at pass rate 1/4 -> ceil(1.25 * 8 * 4) = 40, clipped to 30 - 8 = 22; class 1: not short;
    # class 2: nothing passed yet -> as many as the limit allows (20); class 3: short 3 at 1/4 -> 15, clipped to 6
    assert _extra(need, kept, made, limit).tolist() == [22, 0, 20, 6]
    assert _extra(need, kept, limit, limit).tolist() == [0, 0, 0, 0]  # limit reached: give up


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
                        "filter": {"top_up_factor": 2.0}})
    ctx = StageContext("filter", tmp_path / "filter", cfg,
                       {"prepare": prep, "gan": tmp_path / "gan", "generate": tmp_path / "generate"},
                       {"gan": {"run": str(Path(run).relative_to(tmp_path / "gan"))},
                        "prepare": {"train_hash": real.images_hash("train")}}, {}, tmp_path)
    (tmp_path / "filter").mkdir()
    summary = run_filter(ctx)
    need = class_need(cfg, real, [1.0])
    assert need.tolist() == [12, 12]  # ratio 100 % of 24 real images, split like the real classes
    top = summary["top_up"]
    saved = json.loads((tmp_path / "filter" / "filter.json").read_text())
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
