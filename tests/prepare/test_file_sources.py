"""Folder and CSV sources end to end through the CLI: classes, splits, patients, DICOM, NIfTI, conversions."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from synthmed.dataset import PreparedDataset
from synthmed.prepare.splitting import assign_splits
from tests.prepare.helpers import PATIENT_ID, PATIENT_NAME, png_folder, write_dicom, write_nifti, write_png


def test_stratified_split_counts_by_hand() -> None:
    labels = [0] * 60 + [1] * 40
    splits = assign_splits(labels, None, (0.7, 0.15, 0.15), seed=0)
    counts = Counter(zip(splits, labels, strict=True))
    # 15 test (9 + 6), then 15 of the remaining 85 for val (51:34 -> 9 + 6), the rest train.
    assert counts == {("train", 0): 42, ("train", 1): 28, ("val", 0): 9, ("val", 1): 6,
                      ("test", 0): 9, ("test", 1): 6}
    assert splits == assign_splits(labels, None, (0.7, 0.15, 0.15), seed=0)
    assert splits != assign_splits(labels, None, (0.7, 0.15, 0.15), seed=1)


def test_patient_grouped_split_has_no_overlap() -> None:
    rng = np.random.default_rng(0)
    patients = [f"p{i:02d}" for i in range(40) for _ in range(int(rng.integers(1, 5)))]
    labels = [int(p[1:]) % 3 == 0 for p in patients]  # a patient's images share a label
    splits = assign_splits([int(v) for v in labels], patients, (0.7, 0.15, 0.15), seed=3)
    owner: dict[str, set[str]] = {}
    for p, s in zip(patients, splits, strict=True):
        owner.setdefault(p, set()).add(s)
    assert all(len(s) == 1 for s in owner.values())
    per_split = Counter(next(iter(s)) for s in owner.values())
    assert set(per_split) == {"train", "val", "test"}
    assert 4 <= per_split["test"] <= 8 and 4 <= per_split["val"] <= 9  # 40 patients: 1/7 and 1/6 of the rest


def test_png_folder_with_mixed_sizes_and_channels(tmp_path, cli) -> None:
    png_folder(tmp_path / "src", {"benign": 8, "malignant": 6}, size=(20, 30))
    rng = np.random.default_rng(1)
    write_png(tmp_path / "src" / "benign" / "rgb.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    write_png(tmp_path / "src" / "malignant" / "big.png", rng.integers(0, 256, (32, 32), dtype=np.uint8))
    (tmp_path / "src" / "benign" / ".DS_Store").write_bytes(b"\0")
    code, out, err = cli(["prepare", "--folder", tmp_path / "src", "--out", tmp_path / "ds", "--resolution", 16])
    assert code == 0, err
    ds = PreparedDataset.open(tmp_path / "ds")
    assert ds.classes == ["benign", "malignant"] and ds.channels == 1 and ds.resolution == 16
    totals = Counter(int(e["label"]) for s in ds.split_names for e in ds.entries(s))
    assert totals == {0: 9, 1: 7}
    assert all(len(ds.entries(s)) > 0 for s in ("train", "val", "test"))
    conv = ds.meta["conversions"]
    # 14 images of 20x30 padded; all but the 16x16 one resized; the RGB one made gray.
    assert conv["images"] == 16 and conv["padded_to_square"] == 14 and conv["resized"] == 15 and conv["to_gray"] == 1
    assert conv["source_shapes"] == {"20x30x1": 14, "16x16x3": 1, "32x32x1": 1}
    assert "to_gray 1" in out and "padded_to_square 14" in out
    assert ds.load_images("train").shape[1:] == (16, 16, 1)
    sources = {e["source_file"] for s in ds.split_names for e in ds.entries(s)}
    assert "benign/rgb.png" in sources


def test_same_seed_same_dataset(tmp_path, cli) -> None:
    png_folder(tmp_path / "src", {"a": 6, "b": 6})
    hashes = []
    for name, seed in (("x", 5), ("y", 5), ("z", 6)):
        code, _, err = cli(["prepare", "--folder", tmp_path / "src", "--out", tmp_path / name, "--resolution", 8,
                            "--seed", seed])
        assert code == 0, err
        hashes.append(PreparedDataset.open(tmp_path / name).content_hash)
    assert hashes[0] == hashes[1] != hashes[2]
    assert PreparedDataset.open(tmp_path / "x").meta["split"]["seed"] == 5


def test_csv_with_patients_names_and_ints(tmp_path, cli) -> None:
    png_folder(tmp_path / "img", {"x": 24}, size=(8, 8))
    rows = ["path,label,patient_id"] + [f"img/x/{i:03d}.png,{i // 2 % 2},P{i // 2}" for i in range(24)]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    code, _, err = cli(["prepare", "--csv", tmp_path / "labels.csv", "--out", tmp_path / "ds", "--resolution", 8,
                        "--split-ratios", "0.6,0.2,0.2"])
    assert code == 0, err
    ds = PreparedDataset.open(tmp_path / "ds")
    assert ds.classes == ["0", "1"]
    seen: dict[str, str] = {}
    for split in ds.split_names:
        for e in ds.entries(split):
            assert seen.setdefault(e["patient_id"], split) == split  # no patient in two splits
    assert len(seen) == 12 and ds.split_names == ["train", "val", "test"]
    assert ds.meta["split"]["method"].startswith("StratifiedGroupKFold")


def test_csv_given_split_and_named_labels(tmp_path, cli) -> None:
    png_folder(tmp_path / "img", {"x": 6}, size=(8, 8))
    split = ["train", "train", "train", "train", "val", "test"]
    label = ["tumour", "normal", "tumour", "normal", "tumour", "normal"]
    rows = ["path,label,split"] + [f"img/x/{i:03d}.png,{label[i]},{split[i]}" for i in range(6)]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    code, _, err = cli(["prepare", "--csv", tmp_path / "labels.csv", "--out", tmp_path / "ds", "--resolution", 8])
    assert code == 0, err
    ds = PreparedDataset.open(tmp_path / "ds")
    assert ds.classes == ["normal", "tumour"]
    assert ds.class_counts("train") == {"normal": 2, "tumour": 2}
    assert ds.class_counts("val") == {"normal": 0, "tumour": 1}
    assert ds.class_counts("test") == {"normal": 1, "tumour": 0}


def test_dicom_folder_leaks_no_tag(tmp_path, cli) -> None:
    rng = np.random.default_rng(0)
    for cls in ("ct_a", "ct_b"):
        for i in range(4):
            stored = rng.integers(0, 3000, (12, 12)).astype(np.uint16)
            write_dicom(tmp_path / "src" / cls / f"{PATIENT_ID}_{i}.dcm", stored, intercept=-1024)
    code, _, err = cli(["prepare", "--folder", tmp_path / "src", "--out", tmp_path / "ds", "--resolution", 12,
                        "--bit-depth", 16, "--window-center", 40, "--window-width", 400])
    assert code == 0, err
    ds = PreparedDataset.open(tmp_path / "ds")
    assert sum(len(ds.entries(s)) for s in ds.split_names) == 8 and ds.bit_depth == 16
    for path in (tmp_path / "ds").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PATIENT_ID.encode() not in data and PATIENT_NAME.encode() not in data, path
    assert ds.meta["preprocessing"]["read"]["window_center"] == 40


def test_nifti_folder_with_masks(tmp_path, cli) -> None:
    rng = np.random.default_rng(0)
    for cls in ("healthy", "lesion"):
        for i in range(3):
            write_nifti(tmp_path / "src" / cls / f"case{i}.nii.gz", rng.random((10, 10, 7)).astype(np.float32))
            mask = np.zeros((10, 10, 7), np.uint8)
            mask[4:6, 4:6, 2:4] = 1  # slices 2 and 3
            write_nifti(tmp_path / "src" / cls / f"case{i}_mask.nii.gz", mask)
    code, _, err = cli(["prepare", "--folder", tmp_path / "src", "--out", tmp_path / "ds", "--resolution", 8,
                        "--nifti-slices", "mask"])
    assert code == 0, err
    ds = PreparedDataset.open(tmp_path / "ds")
    entries = [e for s in ds.split_names for e in ds.entries(s)]
    assert len(entries) == 12 and {e["slice"] for e in entries} == {2, 3}
    masks = [ds.load_mask(e) for e in entries]  # the mask volume's slice, stored beside each slice image
    assert all(m is not None and m.shape == (8, 8) and 0 < m.sum() < 64 for m in masks)
    by_file: dict[str, set[str]] = {}
    for s in ds.split_names:
        for e in ds.entries(s):
            by_file.setdefault(e["source_file"], set()).add(s)
    assert len(by_file) == 6 and all(len(v) == 1 for v in by_file.values())  # a volume's slices share a split


def test_skip_bad_lists_reasons(tmp_path, cli) -> None:
    png_folder(tmp_path / "src", {"a": 4, "b": 4})
    write_dicom(tmp_path / "src" / "a" / "empty.dcm", np.zeros((4, 4), np.uint16), pixels=False)
    code, _, err = cli(["prepare", "--folder", tmp_path / "src", "--out", tmp_path / "ds", "--resolution", 8,
                        "--skip-bad"])
    assert code == 0, err
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert [(Path(s["path"]).name, s["reason"]) for s in meta["skipped"]] == [("empty.dcm", "DICOM has no pixel data")]
    code, out, _ = cli(["info", tmp_path / "ds"])
    assert code == 0 and "skipped files: 1" in out


def test_csv_mask_column_chooses_slices(tmp_path, cli) -> None:
    rng = np.random.default_rng(0)
    rows = ["path,label,mask"]
    for i in range(6):
        write_nifti(tmp_path / "vols" / f"v{i}.nii", rng.random((6, 6, 5)).astype(np.float32))
        seg = np.zeros((6, 6, 5), np.uint8)
        seg[2, 2, i % 5] = 1  # one slice per volume: i % 5
        write_nifti(tmp_path / "segs" / f"s{i}.nii.gz", seg)
        rows.append(f"vols/v{i}.nii,{'ab'[i % 2]},segs/s{i}.nii.gz")
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    code, _, err = cli(["prepare", "--csv", tmp_path / "list.csv", "--out", tmp_path / "ds", "--resolution", 8,
                        "--nifti-slices", "mask", "--split-ratios", "0.34,0.33,0.33"])
    assert code == 0, err
    ds = PreparedDataset.open(tmp_path / "ds")
    slices = {e["source_file"]: e["slice"] for s in ds.split_names for e in ds.entries(s)}
    assert slices == {f"vols/v{i}.nii": i % 5 for i in range(6)}
    assert all(ds.load_mask(e).sum() > 0 for sp in ds.split_names for e in ds.entries(sp))


def _gray_as_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[:, :, None], 3, axis=2)


def test_equal_channel_rgb_becomes_gray_and_is_counted(tmp_path, cli) -> None:
    rng = np.random.default_rng(2)
    src = tmp_path / "src"
    for cls in ("a", "b"):
        for i in range(4):  # RGB files of gray pictures, as most ultrasound exports
            write_png(src / cls / f"g{i}.png", _gray_as_rgb(rng.integers(0, 256, (12, 12), dtype=np.uint8)))
    smooth = np.tile(np.linspace(0, 255, 12, dtype=np.uint8), (12, 1))
    Image.fromarray(_gray_as_rgb(smooth)).save(src / "a" / "j.jpg", quality=90)  # JPEG: channels equal too
    write_png(src / "b" / "colour.png", rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    code, out, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 12])
    assert code == 0, err
    ds = PreparedDataset.open(tmp_path / "ds")
    conv = ds.meta["conversions"]
    assert ds.channels == 1 and conv["equal_channel_rgb_to_gray"] == 9 and conv["to_gray"] == 1, conv
    assert "equal_channel_rgb_to_gray 9" in out
    entry = next(e for s in ds.split_names for e in ds.entries(s) if e["source_file"] == "a/g0.png")
    rng = np.random.default_rng(2)
    np.testing.assert_array_equal(ds.load_image(entry)[:, :, 0], rng.integers(0, 256, (12, 12), dtype=np.uint8))

    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds3", "--resolution", 12, "--channels", 3])
    assert code == 0, err
    ds3 = PreparedDataset.open(tmp_path / "ds3")
    assert ds3.channels == 3 and "equal_channel_rgb_to_gray" not in ds3.meta["conversions"]


def test_colour_sources_keep_colour(tmp_path, cli) -> None:
    rng = np.random.default_rng(3)
    src = tmp_path / "src"
    for cls in ("a", "b"):
        for i in range(4):
            write_png(src / cls / f"c{i}.png", rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
    write_png(src / "a" / "g.png", _gray_as_rgb(rng.integers(0, 256, (12, 12), dtype=np.uint8)))
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 12])
    assert code == 0, err
    ds = PreparedDataset.open(tmp_path / "ds")
    conv = ds.meta["conversions"]  # the RGB file of a gray picture joins the colour majority unchanged
    assert ds.channels == 3 and "to_gray" not in conv and "to_rgb" not in conv, conv
