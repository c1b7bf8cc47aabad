"""Your own data through ``synthmed run``: the config's data sources (folder, CSV with patients, a prepared
dataset, a DICOM folder), one source only, a cache key that follows the files, ``init --folder/--csv``, and
the GAN and classifiers at their own resolutions.

Every run is tiny (a few dozen images of 24 px, 0.05 kimg, one epoch, one seed), a few seconds each.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.conftest import REPO, make_class_image
from tests.prepare.helpers import write_png

from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.pipeline.config import build_config, load_config
from synthmed.pipeline.main import run_pipeline
from synthmed.pipeline.runner import plan
from synthmed.pipeline.stages import STAGES

pytestmark = pytest.mark.slow

TINY = """\
name: {name}
gan: {{kimg: 0.05, batch: 16, resolution: {gan_res}}}
generate: {{per_class: 16}}
metrics: {{enabled: false}}
filter: {{enabled: false}}
classify: {{epochs: 1, batch: 16, seeds: [0], ratios: [0, 50], real_fractions: [1.0], augment: [none],
           synthetic_only: false}}
report: {{samples_per_class: 2}}
"""
SHARED_DICOM = REPO.parent / "shared" / "data" / "dicom"


def _config(tmp_path: Path, data: str, gan_res: str = "null", name: str = "own") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(TINY.format(name=name, gan_res=gan_res) + data + "\n")
    return path


def _class_folder(root: Path, per_class: int = 14, side: int = 24, masks: bool = False) -> Path:
    rng = np.random.default_rng(0)
    for label, name in enumerate(("benign", "malignant")):
        for i in range(per_class):
            write_png(root / name / f"{name}{i}.png", make_class_image(label, side, 1, rng))
            if masks:
                write_png(root / name / f"{name}{i}_mask.png", np.full((side, side), 255 * (i % 2), np.uint8))
    return root


def _run(config: Path, out: Path) -> dict:
    lines: list[str] = []
    run_pipeline(load_config(config), out, echo=lines.append)
    assert (out / "report.html").is_file(), lines
    return json.loads((out / "results.json").read_text())


def test_folder_source_runs_with_own_gan_resolution(tmp_path) -> None:
    _class_folder(tmp_path / "images", masks=True)
    config = _config(tmp_path, "data: {folder: images}", gan_res="16")  # relative to the config file
    results = _run(config, tmp_path / "run")
    assert results["dataset"]["totals"] == {"benign": 14, "malignant": 14} and results["dataset"]["masks"] == 28
    assert results["resolutions"] == {"prepared": 24, "gan": 16, "classify": 24, "resize_filter": "lanczos"}
    assert results["synthetic"]["resolution"] == 16  # made at the GAN's size, resized for the classifiers
    views = [PreparedDataset.open(p) for p in (tmp_path / "run" / "views").iterdir()]
    assert sorted(v.resolution for v in views) == [16, 24]  # real for the GAN, synthetic for the classifiers
    assert [c["source"] for c in results["classifier"]["conditions"]] == ["real", "mixed"]
    html = (tmp_path / "run" / "report.html").read_text()
    assert "the GAN learns and generates at\n      16&times;16" in html


def test_folder_with_masks_runs_the_low_data_chain(tmp_path) -> None:
    """A real fraction below 1 copies its subset's masks with their images (the default plan's 25 % does)."""
    _class_folder(tmp_path / "images", masks=True)
    rng = np.random.default_rng(2)
    for mask_file in (tmp_path / "images").glob("*/*_mask.png"):  # lesion-like blobs, not whole-image masks
        write_png(mask_file, np.where(rng.random((24, 24)) < 0.3, 255, 0).astype(np.uint8))
    config = _config(tmp_path, "data: {folder: images}", gan_res="16")
    config.write_text(config.read_text().replace("real_fractions: [1.0]", "real_fractions: [0.5]")
                      .replace("synthetic_only: false", "synthetic_only: false, workers: 1"))  # no Ray start-up
    results = _run(config, tmp_path / "run")
    assert [c["real_fraction"] for c in results["classifier"]["conditions"]] == [0.5, 0.5]
    stages = tmp_path / "run" / "stages"
    real = PreparedDataset.open(next(stages.glob("prepare-*")) / "dataset")
    subset = PreparedDataset.open(next(stages.glob("subset-f0.5-*")) / "dataset")
    assert subset.has_masks("train") and subset.meta["masks"] == len(subset.entries("train")) == 10
    chosen = [e["source_index"] for e in subset.entries("train")]
    assert np.array_equal(subset.load_masks("train"), real.load_masks("train", chosen))
    with Image.open(subset.mask_path(subset.entries("train")[0])) as im:
        assert im.mode == "L" and set(np.unique(np.asarray(im))) <= {0, 255}


def test_csv_source_keeps_patients_in_one_split(tmp_path) -> None:
    rng = np.random.default_rng(1)
    rows = ["path,label,patient_id"]
    for p in range(12):  # two classes: K > 2 through the whole job is the many-classes work's test
        for j in range(3):
            label = p % 2
            write_png(tmp_path / "cells" / f"p{p}_{j}.png", make_class_image(label, 20, 3, rng))
            rows.append(f"cells/p{p}_{j}.png,{('a', 'b')[label]},smear{p}")
    (tmp_path / "cells.csv").write_text("\n".join(rows) + "\n")
    results = _run(_config(tmp_path, "data: {csv: cells.csv, split_ratios: [0.5, 0.25, 0.25]}"), tmp_path / "run")
    real = PreparedDataset.open(next((tmp_path / "run" / "stages").glob("prepare-*")) / "dataset")
    where: dict[str, set[str]] = {}
    for split in real.split_names:
        for entry in real.entries(split):
            where.setdefault(entry["patient_id"], set()).add(split)
    assert len(where) == 12 and all(len(s) == 1 for s in where.values())
    assert real.meta["split"]["method"] == "StratifiedGroupKFold by patient_id"
    assert results["dataset"]["classes"] == ["a", "b"] and results["resolutions"]["classify"] == 20


def test_prepared_dataset_source_is_copied_and_resized(tmp_path, toy_dataset) -> None:
    toy = toy_dataset(counts={"train": [10, 10], "val": [4, 4], "test": [4, 4]}, resolution=32)
    results = _run(_config(tmp_path, f"data: {{dataset: {toy.root}, resolution: 16}}"), tmp_path / "run")
    assert results["dataset"]["resolution"] == 16 and results["dataset"]["source"]["content_hash"] == toy.content_hash
    assert results["dataset"]["counts"]["train"] == {"class0": 10, "class1": 10}


@pytest.mark.skipif(not SHARED_DICOM.is_dir(), reason="../shared/data/dicom not found")
def test_dicom_folder_source(tmp_path) -> None:
    # Real DICOM files (pydicom's test data): CT 512x512 in one class, MR (64x64 multi-frame, 1024x1024) in the other.
    for name in ("ct", "mr"):
        (tmp_path / "scans" / name).mkdir(parents=True)
    for i in range(6):
        shutil.copy(SHARED_DICOM / "693_UNCR.dcm", tmp_path / "scans" / "ct" / f"ct{i}.dcm")
    for i in range(3):
        shutil.copy(SHARED_DICOM / "emri_small.dcm", tmp_path / "scans" / "mr" / f"mr{i}.dcm")
    config = _config(tmp_path, "data: {dicom: scans, resolution: 32, split_ratios: [0.34, 0.33, 0.33]}")
    results = _run(config, tmp_path / "run")
    totals = results["dataset"]["totals"]
    assert totals["ct"] == 6 and totals["mr"] == 3 * 10  # emri_small has 10 frames, one image each
    assert results["resolutions"] == {"prepared": 32, "gan": 32, "classify": 32, "resize_filter": "lanczos"}
    write_png(tmp_path / "scans" / "ct" / "stray.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(SynthmedError, match=r"stray\.png: not a DICOM file"):
        plan(STAGES, load_config(config), tmp_path / "run")


def test_source_content_is_in_the_prepare_key(tmp_path) -> None:
    images = _class_folder(tmp_path / "images", per_class=4)
    config = _config(tmp_path, "data: {folder: images}")
    key = plan(STAGES, load_config(config), tmp_path / "run")[0].key
    assert plan(STAGES, load_config(config), tmp_path / "run")[0].key == key
    moved = shutil.copytree(images, tmp_path / "elsewhere" / "images", copy_function=shutil.copy2)
    assert plan(STAGES, load_config(_config(tmp_path / "elsewhere", "data: {folder: images}")),
                tmp_path / "run")[0].key == key  # same files elsewhere: same key
    target = images / "benign" / "benign0.png"
    Image.fromarray(np.zeros((24, 24), np.uint8)).save(target)
    os.utime(target, ns=(1, 1))
    assert plan(STAGES, load_config(config), tmp_path / "run")[0].key != key  # an edited file re-runs prepare
    (moved / "benign" / "benign3.png").unlink()
    assert plan(STAGES, load_config(_config(tmp_path / "elsewhere", "data: {folder: images}")),
                tmp_path / "run")[0].key != key  # a removed one too


@pytest.mark.parametrize(("data", "message"), [
    ({"folder": "a", "csv": "b.csv"}, "data: give exactly one source of medmnist, folder, csv, dicom, nifti, dataset "
                                      "(got folder and csv)"),
    ({"medmnist": None}, "(got none)"),
    ({"folder": "a", "window_center": 40}, "give both window_center and window_width"),
])
def test_sources_are_one_of(data, message) -> None:
    with pytest.raises(SynthmedError) as info:
        build_config({"data": data})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_init_writes_a_config_for_a_folder_or_csv(tmp_path, capsys) -> None:
    from tests.prepare.helpers import run_cli

    _class_folder(tmp_path / "my images", per_class=3)
    code, out, err = run_cli(["init", "--folder", str(tmp_path / "my images")], capsys)
    assert code == 0, err
    (tmp_path / "c.yaml").write_text(out)
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.name == "my-images-cpu" and cfg.data.source == "folder" and cfg.data.medmnist is None
    assert Path(cfg.data.folder).samefile(tmp_path / "my images")
    (tmp_path / "labels.csv").write_text("path,label\n")
    code, out, _ = run_cli(["init", "--csv", str(tmp_path / "labels.csv"), "--profile", "gpu"], capsys)
    assert code == 0 and "csv: " in out and "name: " in out
    code, _, err = run_cli(["init", "--folder", str(tmp_path / "nothing")], capsys)
    assert code == 1 and "not a folder" in err


def test_cpu_profile_caps_resolutions() -> None:
    from synthmed.pipeline.config import classify_resolution, gan_resolution

    cpu, gpu = build_config({"data": {"folder": "x"}}, "cpu"), build_config({"data": {"folder": "x"}}, "gpu")
    assert [gan_resolution(cpu, r) for r in (28, 48, 256)] == [28, 32, 32]
    assert [classify_resolution(gpu, r) for r in (28, 128, 512)] == [28, 128, 256]
    explicit = build_config({"data": {"folder": "x"}, "gan": {"resolution": 64}, "classify": {"resolution": 48}})
    assert (gan_resolution(explicit, 256), classify_resolution(explicit, 256)) == (64, 48)


def test_run_name_follows_the_data_unless_given() -> None:
    assert build_config({"data": {"csv": "../shared/data/rbc/labels.csv"}}).name == "rbc-cpu"
    assert build_config({"data": {"folder": "/x/my images"}}, "gpu").name == "my-images-gpu"
    assert build_config({"data": {"medmnist": "pneumoniamnist"}}).name == "pneumoniamnist-cpu"
    assert build_config({"name": "mine", "data": {"folder": "x"}}).name == "mine"
    assert build_config({}).name == "breastmnist-cpu"


def test_prepared_dataset_without_a_test_split_is_one_line(tmp_path, toy_dataset) -> None:
    toy = toy_dataset(counts={"train": [6, 6], "val": [2, 2]})
    with pytest.raises(SynthmedError, match="the 'test' split is missing; synthmed run needs train, val and test"):
        _run(_config(tmp_path, f"data: {{dataset: {toy.root}}}"), tmp_path / "run")
