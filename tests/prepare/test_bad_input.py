"""Every bad input: exit 1, one line on stderr naming the file and the problem, no output folder left."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.prepare.helpers import png_folder, write_dicom, write_nifti, write_png


def _truncated_png(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"a": 3, "b": 3})
    bad = root / "src" / "b" / "001.png"
    bad.write_bytes(bad.read_bytes()[:120])  # header intact, image data cut: fails only when decoded
    return ["--folder", root / "src"], "001.png", "truncated"


def _corrupt_png(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"a": 3, "b": 3})
    (root / "src" / "a" / "junk.png").write_bytes(b"\x00not a png at all" * 10)
    return ["--folder", root / "src"], "junk.png", "not a readable image"


def _unreadable_dicom(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"a": 3, "b": 3})
    (root / "src" / "a" / "scan.dcm").write_bytes(b"garbage" * 40)
    return ["--folder", root / "src"], "scan.dcm", "unreadable DICOM"


def _dicom_no_pixels(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"a": 3, "b": 3})
    write_dicom(root / "src" / "b" / "nopix.dcm", np.zeros((4, 4), np.uint16), pixels=False)
    return ["--folder", root / "src"], "nopix.dcm", "DICOM has no pixel data"


def _truncated_dicom(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"a": 3, "b": 3})
    bad = write_dicom(root / "src" / "b" / "cut.dcm", np.arange(256, dtype=np.uint16).reshape(16, 16))
    bad.write_bytes(bad.read_bytes()[:-100])
    return ["--folder", root / "src"], "cut.dcm", "DICOM"


def _non_image(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"a": 3, "b": 3})
    (root / "src" / "a" / "notes.txt").write_text("hello")
    return ["--folder", root / "src"], "notes.txt", "not a supported image file"


def _empty_class(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"a": 3, "b": 3})
    (root / "src" / "c").mkdir()
    (root / "src" / "c" / ".DS_Store").write_bytes(b"x")  # hidden files do not count as images
    return ["--folder", root / "src"], "src/c", "has no image files"


def _single_class(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"only": 4})
    return ["--folder", root / "src"], "src", "needs at least two classes"


def _csv_missing_file(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"a": 2, "b": 2})
    (root / "src" / "labels.csv").write_text("path,label\na/000.png,a\nb/000.png,b\nb/404.png,b\n")
    return ["--csv", root / "src" / "labels.csv"], "labels.csv row 4", "file not found"


def _csv_no_label_column(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"a": 2, "b": 2})
    (root / "src" / "labels.csv").write_text("path,diagnosis\na/000.png,a\n")
    return ["--csv", root / "src" / "labels.csv"], "labels.csv", "missing label"


def _csv_single_class(root: Path) -> tuple[list, str, str]:
    png_folder(root / "src", {"a": 2})
    (root / "src" / "labels.csv").write_text("path,label\na/000.png,1\na/001.png,1\n")
    return ["--csv", root / "src" / "labels.csv"], "labels.csv", "needs at least two classes"


def _nifti_4d(root: Path) -> tuple[list, str, str]:
    for name in ("a", "b"):
        for i in range(3):
            write_nifti(root / "src" / name / f"v{i}.nii.gz", np.random.default_rng(i).random((4, 4, 3, 2)))
    return ["--folder", root / "src"], "v0.nii.gz", "4-D NIfTI with 2 volumes"


def _truncated_nifti(root: Path) -> tuple[list, str, str]:
    for name in ("a", "b"):
        for i in range(3):
            write_nifti(root / "src" / name / f"v{i}.nii.gz", np.random.default_rng(i).random((16, 16, 8)))
    bad = root / "src" / "b" / "v2.nii.gz"
    bad.write_bytes(bad.read_bytes()[:-200])  # header readable, voxel data cut: fails only when decoded
    return ["--folder", root / "src"], "v2.nii.gz", "cannot read NIfTI voxel data"


def _nifti_bad_header(root: Path) -> tuple[list, str, str]:
    _truncated_nifti(root)
    bad = root / "src" / "a" / "v1.nii.gz"
    bad.write_bytes(bad.read_bytes()[:100])
    return ["--folder", root / "src"], "v1.nii.gz", "unreadable NIfTI"


def _npz_missing_keys(root: Path) -> tuple[list, str, str]:
    root.joinpath("npz").mkdir()
    np.savez(root / "npz" / "breastmnist.npz", train_images=np.zeros((2, 28, 28), np.uint8))
    return ["--medmnist", "breastmnist", "--root", root / "npz"], "breastmnist.npz", "missing keys"


CASES = [_truncated_png, _corrupt_png, _unreadable_dicom, _dicom_no_pixels, _truncated_dicom, _non_image, _empty_class,
         _single_class, _csv_missing_file, _csv_no_label_column, _csv_single_class, _nifti_4d, _truncated_nifti,
         _nifti_bad_header, _npz_missing_keys]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.strip("_") for c in CASES])
def test_bad_input_one_line_no_output(case, tmp_path, cli) -> None:
    args, names, problem = case(tmp_path)
    out = tmp_path / "outputs" / "ds"
    code, _, err = cli(["prepare", *args, "--out", out, "--resolution", 16])
    lines = err.strip().splitlines()
    assert code == 1
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and names in lines[0] and problem in lines[0], lines[0]
    assert not out.exists()
    leftovers = list(out.parent.iterdir()) if out.parent.exists() else []
    assert leftovers == [], leftovers  # no .ds.*.partial temporary folder either


def test_debug_shows_the_traceback(tmp_path, cli) -> None:
    args, _, _ = _non_image(tmp_path)
    from synthmed.errors import BadInputError

    with pytest.raises(BadInputError, match=r"notes\.txt"):
        cli(["--debug", "prepare", *args, "--out", tmp_path / "o"])


def test_truncated_png_is_skipped_with_skip_bad(tmp_path, cli) -> None:
    import json

    args, _, _ = _truncated_png(tmp_path)
    (tmp_path / "src" / "a" / "notes.txt").write_text("hello")
    out = tmp_path / "o"
    code, stdout, err = cli(["prepare", *args, "--out", out, "--resolution", 16, "--skip-bad"])
    assert code == 0, err
    meta = json.loads((out / "dataset.json").read_text())
    reasons = {Path(s["path"]).name: s["reason"] for s in meta["skipped"]}
    assert set(reasons) == {"001.png", "notes.txt"}
    assert "truncated" in reasons["001.png"] and "not a supported image file" in reasons["notes.txt"]
    assert sum(len(v) for v in meta["splits"].values()) == 5  # 6 PNGs, 1 truncated; the text file was never one
    rows = (out / "skipped.csv").read_text().splitlines()
    assert rows[0] == "path,reason" and len(rows) == 3
    assert "skipped files: 2" in stdout


def test_skip_bad_cannot_empty_a_class(tmp_path, cli) -> None:
    png_folder(tmp_path / "src", {"a": 3})
    write_png(tmp_path / "src" / "b" / "x.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "src" / "b" / "x.png").write_bytes(b"broken")
    code, _, err = cli(["prepare", "--folder", tmp_path / "src", "--out", tmp_path / "o", "--skip-bad"])
    assert code == 1 and "class 'b' has no usable images" in err and not (tmp_path / "o").exists()


def test_existing_output_is_not_touched(tmp_path, cli) -> None:
    args, _, _ = _non_image(tmp_path)
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = cli(["prepare", *args, "--out", out])
    assert code == 1 and "exists and is not empty" in err and (out / "keep.txt").read_text() == "mine"
