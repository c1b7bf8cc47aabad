"""Nothing read from outside a prepared dataset: entry paths stay in its folder (text and symlinks), and the
content hash can be checked on demand (``synthmed info --verify``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.prepare.helpers import run_cli

from synthmed.dataset import PreparedDataset
from synthmed.errors import BadInputError


def _edit_entry(ds: PreparedDataset, **changes) -> Path:
    """Rewrite the first train entry of ``ds``'s dataset.json with ``changes``."""
    manifest = ds.root / "dataset.json"
    meta = json.loads(manifest.read_text())
    meta["splits"]["train"][0].update(changes)
    manifest.write_text(json.dumps(meta))
    return manifest


def _outside_png(where: Path) -> Path:
    where.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((32, 32), 200, np.uint8)).save(where)
    return where


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("path", "../../other/x.png", "leaves the dataset folder (..)"),
    ("path", "images/../../x.png", "leaves the dataset folder (..)"),
    ("path", "/etc/hostname", "is absolute"),
    ("path", "C:/Windows/x.png", "is absolute"),
    ("path", "", "is not a path inside the dataset"),
    ("path", 7, "is not a path inside the dataset"),
    ("mask", "../x_mask.png", "leaves the dataset folder"),
    ("path", "images/x\n.png", "contains a control character"),  # found by the dataset.json fuzz
    ("label", "1", "not a whole number"),
    ("label", 1.0, "not a whole number"),
])
def test_entry_paths_that_leave_the_folder_are_refused_on_open(toy_dataset, key, value, problem) -> None:
    ds = toy_dataset(counts={"train": [3, 3]})
    manifest = _edit_entry(ds, **{key: value})
    with pytest.raises(BadInputError) as info:
        PreparedDataset.open(ds.root)
    message = str(info.value)
    assert message.startswith(f"{manifest}: splits.train[0]") and problem in message and "\n" not in message


def test_a_symlink_out_of_the_folder_is_refused_when_read(toy_dataset, tmp_path) -> None:
    ds = toy_dataset(counts={"train": [3, 3]})
    outside = _outside_png(tmp_path / "elsewhere" / "secret.png")
    first = ds.root / ds.entries("train")[0]["path"]
    first.unlink()
    first.symlink_to(outside)
    (ds.root / "images" / "linked").symlink_to(outside.parent, target_is_directory=True)  # a linked folder
    _edit_entry(ds, mask="images/linked/secret.png")
    ds = PreparedDataset.open(ds.root)  # the text is fine: the links are judged when read
    with pytest.raises(BadInputError, match="leads outside the dataset folder"):
        ds.load_images("train")
    with pytest.raises(BadInputError, match="leads outside the dataset folder"):
        ds.load_mask(ds.entries("train")[0])
    inside = ds.root / "images" / "inside.png"
    inside.symlink_to(ds.root / ds.entries("train")[1]["path"])  # a link that stays inside is the user's own
    assert ds.load_image({"path": "images/inside.png", "label": 0}).shape == (32, 32, 1)


def test_train_gan_and_reader_study_do_not_read_outside(toy_dataset, tmp_path, capsys) -> None:
    real = toy_dataset(counts={"train": [4, 4], "test": [4, 4]}, name="real")
    syn = toy_dataset(counts={"train": [4, 4]}, name="syn", seed=1)
    manifest = _edit_entry(real, path="/etc/hostname")
    code, _, err = run_cli(["train-gan", "--data", str(real.root), "--arch", "dcgan", "--out", str(tmp_path / "runs"),
                            "--kimg", "0.016"], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and str(manifest) in err and "is absolute" in err
    assert not (tmp_path / "runs").exists()
    _edit_entry(real, path="images/train/000000.png")
    meta = json.loads(manifest.read_text())
    meta["splits"]["test"][0]["path"] = "../syn/images/train/000000.png"  # another dataset's image
    manifest.write_text(json.dumps(meta))
    code, _, err = run_cli(["reader-study", "create", "--real", f"{real.root}:test", "--synthetic", str(syn.root),
                            "--n-real", "8", "--n-synthetic", "2", "--out", str(tmp_path / "study")], capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1 and "splits.test[0].path" in err
    assert not (tmp_path / "study").exists()


def test_info_verify_checks_the_content_hash(toy_dataset, capsys) -> None:
    ds = toy_dataset(counts={"train": [3, 3]})
    code, out, _ = run_cli(["info", str(ds.root), "--verify"], capsys)
    assert code == 0 and f"content hash verified: {ds.content_hash}" in out
    image = ds.root / ds.entries("train")[2]["path"]
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(image)  # edited after the dataset was written
    code, _, _ = run_cli(["info", str(ds.root)], capsys)
    assert code == 0  # opening alone reads no image: cheap for large sets
    code, _, err = run_cli(["info", str(ds.root), "--verify"], capsys)
    assert code == 1 and err.strip() == (f"error: {ds.root / 'dataset.json'}: content hash mismatch: the files hash "
                                         f"to {_rehash(ds)[:12]}..., the manifest records {ds.content_hash[:12]}... "
                                         "(files changed since it was written)")
    image.unlink()
    code, _, err = run_cli(["info", str(ds.root), "--verify"], capsys)
    assert code == 1 and "cannot read" in err and str(image) in err and len(err.strip().splitlines()) == 1


def _rehash(ds: PreparedDataset) -> str:
    from synthmed.dataset import content_hash

    return content_hash(ds.root, ds.meta["splits"])


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_verify_refuses_a_symlink_out_before_hashing(toy_dataset, tmp_path, capsys) -> None:
    ds = toy_dataset(counts={"train": [3, 3]})
    first = ds.root / ds.entries("train")[0]["path"]
    first.unlink()
    first.symlink_to(_outside_png(tmp_path / "out" / "x.png"))
    code, _, err = run_cli(["info", str(ds.root), "--verify"], capsys)
    assert code == 1 and "leads outside the dataset folder" in err


def test_a_null_split_verifies_in_one_line(toy_dataset) -> None:
    """Found by the dataset.json fuzz: ``"val": null`` opened, then verifying iterated None."""
    ds = toy_dataset(counts={"train": [3, 3]})
    meta = json.loads((ds.root / "dataset.json").read_text())
    (ds.root / "dataset.json").write_text(json.dumps({**meta, "splits": {**meta["splits"], "val": None}}))
    PreparedDataset.open(ds.root).verify_content()  # the same content: the null split adds nothing


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_preparing_from_a_prepared_dataset_copies_nothing_from_outside(toy_dataset, tmp_path, capsys) -> None:
    """``prepare --dataset`` (and the pipeline's ``data: {dataset: X}``) copies the folder: a link out is refused
    before the copy, and the copy of a clean dataset opens and verifies."""
    ds = toy_dataset(counts={"train": [3, 3], "val": [1, 1], "test": [1, 1]})
    code, _, err = run_cli(["prepare", "--dataset", str(ds.root), "--out", str(tmp_path / "copy")], capsys)
    assert code == 0, err
    PreparedDataset.open(tmp_path / "copy").verify_content()
    first = ds.root / ds.entries("train")[0]["path"]
    first.unlink()
    first.symlink_to(_outside_png(tmp_path / "out" / "x.png"))
    code, _, err = run_cli(["prepare", "--dataset", str(ds.root), "--out", str(tmp_path / "copy2")], capsys)
    assert code == 1 and "leads outside the dataset folder" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "copy2").exists()
