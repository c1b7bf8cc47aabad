"""MedMNIST source: official split counts and labels, CLI, offline error."""

from __future__ import annotations

import numpy as np
import pytest

from synthmed.cli import main
from synthmed.dataset import PreparedDataset


def test_breastmnist_official_splits(breast28: PreparedDataset) -> None:
    assert breast28.classes == ["malignant", "normal, benign"]
    assert {s: len(breast28.entries(s)) for s in ("train", "val", "test")} == {"train": 546, "val": 78, "test": 156}
    assert breast28.class_counts("train") == {"malignant": 147, "normal, benign": 399}
    assert breast28.class_counts("test") == {"malignant": 42, "normal, benign": 114}


def test_breastmnist_pixels_are_the_official_ones(breast28: PreparedDataset) -> None:
    from tests.conftest import medmnist_root

    with np.load(medmnist_root() / "breastmnist.npz") as npz:
        official, labels = npz["test_images"], npz["test_labels"][:, 0]
    ours = breast28.load_images("test")[:, :, :, 0]
    np.testing.assert_array_equal(ours, official)
    np.testing.assert_array_equal(breast28.labels("test"), labels)


def test_offline_missing_file_is_one_line_error(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("SYNTHMED_DATA_ROOT", raising=False)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["prepare", "--medmnist", "breastmnist", "--size", "224", "--root", str(tmp_path / "nothing"),
              "--out", str(out)])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "breastmnist_224.npz" in err and str(tmp_path / "nothing") in err
    assert not out.exists()


def test_npz_missing_keys(tmp_path, capsys) -> None:
    np.savez(tmp_path / "breastmnist.npz", train_images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(SystemExit):
        main(["prepare", "--medmnist", "breastmnist", "--root", str(tmp_path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert "breastmnist.npz" in err and "missing keys" in err and "val_images" in err
    assert not (tmp_path / "o").exists()
