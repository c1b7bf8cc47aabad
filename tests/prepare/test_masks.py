"""Segmentation masks beside images (NAME_mask.png, NAME_mask_N.png, CSV 'mask'): never images, stored paired."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthmed.dataset import DatasetWriter, PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.prepare.masks import pair_masks, raster_mask_stem
from tests.conftest import REPO
from tests.prepare.helpers import write_png

SIDE = 16


def _image_and_mask(folder: Path, name: str, value: int, box: tuple[int, int]) -> None:
    """Image of constant ``value``; mask with a 4x4 box at ``box`` (so each pair is recognisable)."""
    write_png(folder / f"{name}.png", np.full((SIDE, SIDE), value, np.uint8))
    mask = np.zeros((SIDE, SIDE), np.uint8)
    mask[box[0] : box[0] + 4, box[1] : box[1] + 4] = 255
    write_png(folder / f"{name}_mask.png", mask)


def _all_entries(ds: PreparedDataset) -> list[dict]:
    return [e for s in ds.split_names for e in ds.entries(s)]


def test_mask_names() -> None:
    assert raster_mask_stem(Path("a/benign (1)_mask.png")) == "benign (1)"
    assert raster_mask_stem(Path("a/x_mask_1.png")) == "x"
    assert raster_mask_stem(Path("a/x_MASK.tif")) == "x"
    assert raster_mask_stem(Path("a/x_masked.png")) is None
    assert raster_mask_stem(Path("a/x_mask.nii.gz")) is None  # NIfTI masks have their own option
    images, masks = pair_masks([Path("c/a.png"), Path("c/a_mask.png"), Path("c/a_mask_1.png"), Path("c/b.jpg")])
    assert images == [Path("c/a.png"), Path("c/b.jpg")]
    assert masks == {Path("c/a.png"): (Path("c/a_mask.png"), Path("c/a_mask_1.png"))}


def test_folder_masks_are_paired_merged_and_not_counted(tmp_path, cli) -> None:
    src = tmp_path / "src"
    for k, cls in enumerate(("benign", "malignant")):
        for i in range(5):
            _image_and_mask(src / cls, f"img{i}", value=40 * i + k, box=(i, 2 * k))
    # a second lesion of benign/img0: merged with the first
    second = np.zeros((SIDE, SIDE), np.uint8)
    second[12:16, 12:16] = 255
    write_png(src / "benign" / "img0_mask_1.png", second)
    code, out, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 8,
                          "--split-ratios", "0.6,0.2,0.2"])
    assert code == 0, err
    assert "masks: 10" in out
    ds = PreparedDataset.open(tmp_path / "ds")
    entries = _all_entries(ds)
    assert len(entries) == 10 and ds.num_masks == 10 and ds.meta["masks"] == 10
    assert ds.meta["source"]["mask_files"] == 11
    for entry in entries:
        cls, name = entry["source_file"].split("/")
        i, k = int(name[3]), ("benign", "malignant").index(cls)
        assert int(ds.load_image(entry)[0, 0, 0]) == 40 * i + k  # the image, not its mask
        expected = np.zeros((SIDE, SIDE), bool)
        expected[i : i + 4, 2 * k : 2 * k + 4] = True
        if name == "img0.png" and cls == "benign":
            expected[12:16, 12:16] = True
        np.testing.assert_array_equal(ds.load_mask(entry), expected[1::2, 1::2])  # nearest (PIL: centres)
    raw = np.asarray(Image.open(ds.mask_path(entries[0])))
    assert raw.dtype == np.uint8 and set(np.unique(raw)) <= {0, 255}
    assert ds.has_masks("train") and ds.load_masks("train").shape == (len(ds.entries("train")), 8, 8)


def test_csv_mask_column(tmp_path, cli) -> None:
    rows = ["path,label,mask"]
    for i in range(6):
        _image_and_mask(tmp_path / "imgs", f"p{i}", value=10 * i, box=(i, i))
        rows.append(f"imgs/p{i}.png,{'ab'[i % 2]},imgs/p{i}_mask.png")
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    code, _, err = cli(["prepare", "--csv", tmp_path / "list.csv", "--out", tmp_path / "ds", "--resolution", SIDE,
                        "--split-ratios", "0.34,0.33,0.33"])
    assert code == 0, err
    ds = PreparedDataset.open(tmp_path / "ds")
    for entry in _all_entries(ds):
        i = int(entry["source_file"][len("imgs/p")])
        assert ds.load_mask(entry)[i : i + 4, i : i + 4].all() and ds.load_mask(entry).sum() == 16


def test_mask_of_another_size_is_one_line(tmp_path, cli) -> None:
    src = tmp_path / "src"
    for cls in ("a", "b"):
        for i in range(3):
            _image_and_mask(src / cls, f"x{i}", 0, (0, 0))
    write_png(src / "b" / "x1_mask.png", np.zeros((SIDE, SIDE + 2), np.uint8))
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 8])
    assert code == 1 and not (tmp_path / "ds").exists()
    assert err.strip().count("\n") == 0 and "x1_mask.png" in err and "18x16" in err and "16x16" in err, err


def test_mask_without_its_image_is_one_line(tmp_path, cli) -> None:
    src = tmp_path / "src"
    for cls in ("a", "b"):
        for i in range(3):
            _image_and_mask(src / cls, f"x{i}", 0, (0, 0))
    (src / "a" / "x2.png").unlink()
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 8])
    assert code == 1 and err.strip().count("\n") == 0
    assert "x2_mask.png" in err and "mask without its image" in err, err


def test_load_masks_needs_a_mask_per_entry(tmp_path) -> None:
    with DatasetWriter(tmp_path / "ds", ["a", "b"], 4, 1) as w:
        w.add(np.zeros((4, 4), np.uint8), 0, "train", mask=np.full((4, 4), 255, np.uint8))
        w.add(np.zeros((4, 4), np.uint8), 1, "train")
        w.finish(source={}, preprocessing={})
    ds = PreparedDataset.open(tmp_path / "ds")
    assert ds.load_mask(ds.entries("train")[1]) is None and not ds.has_masks("train")
    assert ds.load_masks("train", [0]).all()
    with pytest.raises(SynthmedError, match="1 of 2 'train' entries have no mask"):
        ds.load_masks("train")


def test_ph2_gives_200_images_with_200_masks(tmp_path, cli) -> None:
    ph2 = REPO.parent / "shared" / "data" / "ph2"
    if not ph2.is_dir():
        pytest.skip("../shared/data/ph2 not found")
    code, _, err = cli(["prepare", "--folder", ph2, "--out", tmp_path / "ds", "--resolution", 32])
    assert code == 0, err
    ds = PreparedDataset.open(tmp_path / "ds")
    entries = _all_entries(ds)
    assert len(entries) == 200 and ds.num_masks == 200
    assert all(e["mask"] == e["path"].removesuffix(".png") + "_mask.png" for e in entries)
    assert not any("_mask" in e["source_file"] for e in entries)
