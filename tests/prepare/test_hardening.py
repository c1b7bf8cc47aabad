"""Hostile but realistic inputs to prepare: decompression bombs, --out naming a file, duplicate
and outside CSV paths, stale .partial folders of killed runs; each a one-line error or documented behaviour."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthmed.dataset import DatasetWriter
from synthmed.errors import BadInputError
from synthmed.utils.atomic import PROCESS_START
from tests.prepare.helpers import png_folder, write_png


def bomb_png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height 8-bit gray pixels, with one tiny compressed row: a few hundred
    bytes on disk that would decode to width*height bytes (the decompression-bomb shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def _one_line(err: str) -> bool:
    return err.strip().count("\n") == 0 and "Traceback" not in err and err.startswith("error: ")


def test_decompression_bomb_is_one_line_and_skippable(tmp_path, cli) -> None:
    src = png_folder(tmp_path / "src", {"a": 4, "b": 4})
    bomb_png(src / "a" / "bomb.png", 30000, 30000)
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 8])
    assert code == 1 and _one_line(err) and not (tmp_path / "ds").exists(), err
    assert "bomb.png: image is 30000x30000, larger than the limit 89478485 pixels (--max-pixels)" in err
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 8, "--skip-bad"])
    assert code == 0 and err == "", err
    skipped = json.loads((tmp_path / "ds" / "dataset.json").read_text())["skipped"]
    assert [(Path(s["path"]).name, s["reason"]) for s in skipped] == [
        ("bomb.png", "image is 30000x30000, larger than the limit 89478485 pixels (--max-pixels)")]


def test_max_pixels_replaces_pillows_guard(tmp_path, cli, monkeypatch) -> None:
    """Below --max-pixels an image is read without Pillow's warning (shrunk here so a test image trips it)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow warns above 1000 px, raises above 2000
    src = png_folder(tmp_path / "src", {"a": 3, "b": 3}, size=(50, 50))  # 2500 px
    with _no_warnings():
        code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 8])
    assert code == 0 and err == "", err
    assert Image.MAX_IMAGE_PIXELS == 1000  # restored
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds2", "--max-pixels", 2499])
    assert code == 1 and _one_line(err) and "image is 50x50, larger than the limit 2499 pixels" in err


class _no_warnings:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings(record=True)
        self.caught = self._ctx.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        assert not [w for w in self.caught if "DecompressionBomb" in type(w.message).__name__], self.caught
        return False


def test_out_naming_a_file(tmp_path, cli) -> None:
    src = png_folder(tmp_path / "src", {"a": 3, "b": 3})
    (tmp_path / "taken").write_text("not a folder")
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "taken"])
    assert code == 1 and _one_line(err) and "taken: is a file; the output must be a folder" in err
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "taken" / "sub"])
    assert code == 1 and _one_line(err) and "cannot create the output's parent folder" in err


def test_csv_listing_a_path_twice_names_both_rows(tmp_path, cli) -> None:
    png_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    rows = ["path,label"] + [f"imgs/{c}/{i:03d}.png,{c}" for c in "ab" for i in range(3)] + ["imgs/./a/001.png,b"]
    (tmp_path / "l.csv").write_text("\n".join(rows) + "\n")
    code, _, err = cli(["prepare", "--csv", tmp_path / "l.csv", "--out", tmp_path / "ds"])
    assert code == 1 and _one_line(err)
    assert "rows 3 and 8 both list imgs/./a/001.png (labels a and b); list each image once" in err, err


def test_csv_paths_outside_its_folder_need_allow_outside(tmp_path, cli) -> None:
    png_folder(tmp_path / "imgs", {"a": 3, "b": 3})
    (tmp_path / "lists").mkdir()
    rows = ["path,label"] + [f"../imgs/{c}/{i:03d}.png,{c}" for c in "ab" for i in range(3)]
    (tmp_path / "lists" / "l.csv").write_text("\n".join(rows) + "\n")
    code, _, err = cli(["prepare", "--csv", tmp_path / "lists" / "l.csv", "--out", tmp_path / "ds"])
    assert code == 1 and _one_line(err) and "row 2: ../imgs/a/000.png is outside the CSV's folder" in err
    code, _, err = cli(["prepare", "--csv", tmp_path / "lists" / "l.csv", "--out", tmp_path / "ds",
                        "--allow-outside", "--split-ratios", "0.34,0.33,0.33"])
    assert code == 0, err
    assert json.loads((tmp_path / "ds" / "dataset.json").read_text())["source"]["outside_csv_folder"] == 6


def _partial(parent: Path, name: str, pid: int, age_s: float, tag: str = "abc123") -> Path:
    folder = parent / f".{name}.{pid}.{tag}.partial"
    folder.mkdir(parents=True)
    (folder / "000000.png").write_bytes(b"half")
    stamp = PROCESS_START - age_s
    os.utime(folder, (stamp, stamp))
    return folder


def test_stale_partials_of_killed_runs_are_removed(tmp_path, cli) -> None:
    src = png_folder(tmp_path / "src", {"a": 3, "b": 3})
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # a process that has exited
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = _partial(tmp_path, "ds", dead_pid, age_s=3600)
        running = _partial(tmp_path, "ds", live.pid, age_s=3600)  # a concurrent build of the same output
        other = _partial(tmp_path, "other", dead_pid, age_s=3600)  # another output's: not this command's kind
        fresh = _partial(tmp_path, "ds", dead_pid, age_s=-60, tag="new")  # newer than this process
        code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 8,
                            "--split-ratios", "0.34,0.33,0.33"])
        assert code == 0
        assert not stale.exists() and running.exists() and other.exists() and fresh.exists()
        assert err.strip() == f"removed {stale}: a partial folder left by an earlier killed run"
    finally:
        live.kill()
        live.wait()


def test_dataset_writers_remove_their_stale_partials(tmp_path, capsys) -> None:
    """generate, filter and the pipeline's resized views write through DatasetWriter: the same clean-up."""
    stale = _partial(tmp_path, "synthetic", 2**22 + 12345, age_s=10)
    with DatasetWriter(tmp_path / "synthetic", ["a", "b"], 4, 1) as writer:
        writer.add(np.zeros((4, 4), np.uint8), 0, "train")
        writer.finish(source={}, preprocessing={})
    assert not stale.exists() and "removed" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]


def test_bad_input_corpus_through_the_cli(tmp_path) -> None:
    """Every case above through a real ``synthmed`` process: exit 1, one stderr line, no traceback, no output."""
    src = png_folder(tmp_path / "src", {"a": 3, "b": 3})
    bomb_png(tmp_path / "bombs" / "a" / "x.png", 30000, 30000)
    png_folder(tmp_path / "bombs", {"b": 2})
    write_png(tmp_path / "bombs" / "a" / "ok.png", np.zeros((4, 4), np.uint8))
    (tmp_path / "file").write_text("x")
    (tmp_path / "dup.csv").write_text("path,label\nsrc/a/000.png,a\nsrc/a/000.png,b\n")
    (tmp_path / "out.csv").write_text("path,label\n/etc/hostname,a\nsrc/b/000.png,b\n")
    (tmp_path / "bad.yaml").write_bytes(b"data: {folder: [\xff\xfe")
    (tmp_path / "two.yaml").write_text("data: {folder: src, csv: dup.csv}\n")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04" + os.urandom(200))
    cases = [
        ["prepare", "--folder", tmp_path / "bombs", "--out", tmp_path / "o1"],
        ["prepare", "--folder", src, "--out", tmp_path / "file"],
        ["prepare", "--csv", tmp_path / "dup.csv", "--out", tmp_path / "o2"],
        ["prepare", "--csv", tmp_path / "out.csv", "--out", tmp_path / "o3"],
        ["prepare", "--medmnist", "breastmnist", "--root", tmp_path / "npz", "--out", tmp_path / "o4"],
        ["run", tmp_path / "bad.yaml", "--out", tmp_path / "o5"],
        ["run", tmp_path / "two.yaml", "--out", tmp_path / "o6"],
        ["run", tmp_path / "missing.yaml", "--out", tmp_path / "o7"],
        ["run", tmp_path / "dup.yaml", "--out", tmp_path / "o8"],
        ["run", tmp_path / "ok.yaml", "--out", tmp_path / "file"],
    ]
    (tmp_path / "missing.yaml").write_text("data: {folder: no-such-folder}\n")
    (tmp_path / "dup.yaml").write_text("data: {csv: dup.csv}\n")
    (tmp_path / "ok.yaml").write_text("data: {folder: src}\n")
    (tmp_path / "npz").mkdir()
    (tmp_path / "junk.npz").rename(tmp_path / "npz" / "breastmnist.npz")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for args in cases:
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "synthmed", *map(str, args)], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120)
        assert proc.returncode == 1, (args, proc.stderr)
        assert _one_line(proc.stderr) and "Traceback" not in proc.stdout, (args, proc.stderr)
        out = Path(args[args.index("--out") + 1])
        assert not out.exists() or out == tmp_path / "file", args
        assert not list(tmp_path.glob(".*.partial")), args
        assert time.monotonic() - start < 60


def test_csv_symlinks_out_of_its_folder_need_allow_outside(tmp_path, cli) -> None:
    """The outside check follows symlinks: a linked file or a linked folder is read from where it leads."""
    png_folder(tmp_path / "outside", {"a": 3, "b": 3})
    src = png_folder(tmp_path / "src", {"a": 3, "b": 3})
    (src / "a" / "link.png").symlink_to(tmp_path / "outside" / "a" / "000.png")
    (src / "linked").symlink_to(tmp_path / "outside" / "b", target_is_directory=True)
    (src / "inside.png").symlink_to(src / "b" / "000.png")  # a link that stays inside is the user's own
    for row, shown in (("a/link.png,a", "a/link.png"), ("linked/001.png,b", "linked/001.png"),
                       ("b/001.png,b\nb/002.png,b\nx,a", None)):
        rows = ["path,label", "a/000.png,a", "a/001.png,a", "inside.png,b", row]
        (src / "l.csv").write_text("\n".join(rows) + "\n")
        code, _, err = cli(["prepare", "--csv", src / "l.csv", "--out", tmp_path / "ds", "--resolution", 8,
                            "--split-ratios", "0.34,0.33,0.33"])
        if shown is None:  # no link leads out: only the missing file 'x' stops it, by row
            assert code == 1 and "l.csv row 7: file not found" in err, err
            continue
        assert code == 1 and _one_line(err) and f"row 5: {shown} is outside the CSV's folder" in err, err
        assert not (tmp_path / "ds").exists()


def test_folders_named_like_images_and_symlink_loops_are_named(tmp_path, cli) -> None:
    src = png_folder(tmp_path / "src", {"a": 4, "b": 4})
    (src / "a" / "x.png").mkdir()
    (src / "b" / "loop.png").symlink_to(src / "b" / "loop.png")
    (src / "b" / "sub").mkdir()  # a plain subfolder is only walked
    write_png(src / "b" / "sub" / "deep.png", np.zeros((20, 20), np.uint8))
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 8])
    assert code == 1 and _one_line(err) and f"{src / 'a' / 'x.png'}: is a folder, not an image file" in err, err
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", 8, "--skip-bad"])
    assert code == 0, err
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert sorted((Path(s["path"]).name, s["reason"]) for s in meta["skipped"]) == [
        ("loop.png", "is a broken symlink or a symlink loop"), ("x.png", "is a folder, not an image file")]
    assert meta["conversions"]["images"] == 9  # 8 + b/sub/deep.png


def test_partly_nan_nifti_slices_are_counted(tmp_path, cli) -> None:
    from tests.prepare.helpers import write_nifti

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        for i in range(3):
            volume = rng.random((10, 10, 4)).astype(np.float32)
            if cls == "a" and i == 0:
                volume[:3, :, 1] = np.nan  # outside the field of view in slice 1
                volume[0, 0, 2] = np.inf
            write_nifti(tmp_path / "src" / cls / f"v{i}.nii.gz", volume)
    write_nifti(tmp_path / "bad" / "v.nii.gz", np.full((4, 4, 2), np.nan, np.float32))
    code, out, err = cli(["prepare", "--folder", tmp_path / "src", "--out", tmp_path / "ds", "--resolution", 8,
                          "--split-ratios", "0.34,0.33,0.33"])
    assert code == 0, err
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert meta["conversions"]["non_finite_voxels_to_minimum"] == 2 and "non_finite_voxels_to_minimum 2" in out
    flagged = sorted((e["source_file"], e["slice"], e["non_finite_voxels"]) for s in meta["splits"].values()
                     for e in s if "non_finite_voxels" in e)
    assert flagged == [("a/v0.nii.gz", 1, 30), ("a/v0.nii.gz", 2, 1)]
    from synthmed.prepare.readers import ReadOptions, read_image

    with pytest.raises(BadInputError, match="no finite voxel values"):
        read_image(tmp_path / "bad" / "v.nii.gz", ReadOptions(window_center=0.5, window_width=1.0))


@pytest.mark.parametrize(("ratios", "problem"), [
    ("nan,0.5,0.5", "got a non-finite value"), ("inf,0,0", "got a non-finite value"),
    ("1,0,0", "val is 0: that split would be empty"), ("0.5,0.5,0", "test is 0"),
    ("0.7,0.2", "at least 3 items"), ("0.5,0.3,0.3", "they sum to 1.1"), ("a,b,c", "valid number"),
])
def test_split_ratios_are_three_positive_finite_fractions(tmp_path, cli, ratios, problem) -> None:
    src = png_folder(tmp_path / "src", {"a": 4, "b": 4})
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--split-ratios", ratios])
    assert code == 1 and _one_line(err) and "--split-ratios" in err and problem in err, err
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("resolution", ["0", "4", "-64"])
def test_resolution_zero_is_refused_not_defaulted(tmp_path, cli, resolution) -> None:
    src = png_folder(tmp_path / "src", {"a": 4, "b": 4})
    code, _, err = cli(["prepare", "--folder", src, "--out", tmp_path / "ds", "--resolution", resolution])
    assert code == 1 and _one_line(err) and "--resolution: Input should be greater than or equal to 8" in err
