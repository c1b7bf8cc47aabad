"""The prepared-dataset contract: round trip, spec parsing, validation, atomic folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthmed.dataset import DatasetWriter, PreparedDataset, parse_spec
from synthmed.errors import BadInputError, SynthmedError
from synthmed.utils.atomic import atomic_dir, write_json
from synthmed.utils.runs import next_run_dir


def test_round_trip_pixels_labels_and_counts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 16, 16), dtype=np.uint8)
    with DatasetWriter(tmp_path / "ds", ["a", "b"], 16, 1) as w:
        for i, img in enumerate(images):
            w.add(img, i % 2, "train", patient_id=f"p{i}")
        w.finish(source={"type": "test"}, preprocessing={})
    ds = PreparedDataset.open(tmp_path / "ds")
    np.testing.assert_array_equal(ds.load_images("train")[:, :, :, 0], images)
    assert ds.labels("train").tolist() == [0, 1, 0, 1, 0]
    assert ds.meta["counts"] == {"train": {"a": 3, "b": 2}}
    assert ds.entries("train")[3]["patient_id"] == "p3"
    x, y = ds.load_tensor("train", [1, 2])
    assert x.shape == (2, 1, 16, 16) and float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    assert y.tolist() == [1, 0]


def test_sixteen_bit_grayscale_is_kept_exactly(tmp_path: Path) -> None:
    img = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000).astype(np.uint16)
    with DatasetWriter(tmp_path / "ds", ["a", "b"], 8, 1, bit_depth=16) as w:
        w.add(img, 0, "test")
        w.finish(source={}, preprocessing={})
    ds = PreparedDataset.open(tmp_path / "ds")
    out = ds.load_images("test")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out[0, :, :, 0], img)


def test_a_mask_read_from_one_dataset_writes_into_another(tmp_path: Path) -> None:
    mask = np.zeros((8, 8), np.uint8)
    mask[2:5, 3:7] = 255
    with DatasetWriter(tmp_path / "a", ["a", "b"], 8, 1) as w:
        w.add(np.zeros((8, 8), np.uint8), 0, "train", mask=mask)
        first = w.finish(source={}, preprocessing={})
    a = PreparedDataset.open(tmp_path / "a")
    read = a.load_mask(a.entries("train")[0])
    assert read.dtype == np.bool_
    with DatasetWriter(tmp_path / "b", ["a", "b"], 8, 1) as w:
        w.add(a.load_images("train")[0], 0, "train", mask=read)
        second = w.finish(source={}, preprocessing={})
    assert second["content_hash"] == first["content_hash"]  # the same mask bytes as the original
    with pytest.raises(SynthmedError, match="is not 8x8 uint8 0/255"), \
            DatasetWriter(tmp_path / "c", ["a", "b"], 8, 1) as w:
        w.add(np.zeros((8, 8), np.uint8), 0, "train", mask=mask // 2)


def test_content_hash_changes_with_pixels(tmp_path: Path) -> None:
    hashes = []
    for value in (10, 11):
        with DatasetWriter(tmp_path / f"ds{value}", ["a", "b"], 4, 1) as w:
            w.add(np.full((4, 4), value, np.uint8), 0, "train")
            meta = w.finish(source={}, preprocessing={})
        hashes.append(meta["content_hash"])
    assert hashes[0] != hashes[1]


def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), DatasetWriter(tmp_path / "ds", ["a", "b"], 4, 1) as w:
        w.add(np.zeros((4, 4), np.uint8), 0, "train")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_wrong_shape_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SynthmedError, match="does not match"), DatasetWriter(tmp_path / "ds", ["a", "b"], 4, 1) as w:
        w.add(np.zeros((5, 4), np.uint8), 0, "train")
    assert not (tmp_path / "ds").exists()


def test_parse_spec() -> None:
    assert parse_spec("data/b28:test") == (Path("data/b28"), "test")
    assert parse_spec("data/b28") == (Path("data/b28"), None)
    assert parse_spec("data/b28", "train") == (Path("data/b28"), "train")
    assert parse_spec("weird:name") == (Path("weird:name"), None)


def test_open_rejects_bad_manifests(tmp_path: Path) -> None:
    with pytest.raises(SynthmedError, match=r"no dataset\.json"):
        PreparedDataset.open(tmp_path)
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(BadInputError, match="not valid JSON"):
        PreparedDataset.open(tmp_path)
    meta = {"classes": ["a"], "splits": {"train": [{"path": "x.png", "label": 3}]}, "resolution": 4,
            "channels": 1, "content_hash": "0"}
    write_json(tmp_path / "dataset.json", meta)
    with pytest.raises(BadInputError, match="label 3 outside"):
        PreparedDataset.open(tmp_path)


def test_open_spec_names_missing_split(toy_dataset) -> None:
    ds = toy_dataset(counts={"train": [3, 3]})
    with pytest.raises(SynthmedError, match="split 'test' is absent"):
        PreparedDataset.open_spec(f"{ds.root}:test")


def test_atomic_dir_refuses_to_overwrite_and_replaces_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("old")
    with pytest.raises(SynthmedError, match="not empty"), atomic_dir(target):
        pass
    assert (target / "keep.txt").read_text() == "old"
    with atomic_dir(target, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_numbered_run_folders(tmp_path: Path) -> None:
    first = next_run_dir(tmp_path, "dcgan-breast")
    second = next_run_dir(tmp_path, "dcgan breast/64")
    assert first.name == "00000-dcgan-breast"
    assert second.name == "00001-dcgan-breast-64"


def test_manifest_is_plain_json(toy_dataset) -> None:
    ds = toy_dataset()
    meta = json.loads((ds.root / "dataset.json").read_text())
    assert meta["format"] == "synthmed-prepared-dataset" and meta["classes"] == ["class0", "class1"]
