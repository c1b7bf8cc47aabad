"""Property tests (Hypothesis): random and mutated bytes as PNG, JPEG, DICOM, NIfTI, NPZ, CSV and YAML inputs.

Whatever the bytes, a reader either succeeds or raises ``SynthmedError`` (the CLI's one-line error) with a
one-line message; any other exception is a bug. Mutations start from a valid file of each kind, so the parsers
get past their magic numbers and meet corrupt headers, chunk lengths, tags and compressed streams.
"""

from __future__ import annotations

import gzip
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from synthmed.errors import SynthmedError
from synthmed.prepare.readers import ReadOptions, probe_image, read_image

# 40 fixed examples per kind keep the suite fast and repeatable; SYNTHMED_FUZZ_EXAMPLES=2000 runs a random,
# longer search (what was run before these tests landed).
_LONG = int(os.environ.get("SYNTHMED_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 40, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def _dicom() -> bytes:
    from tests.prepare.helpers import write_dicom

    with tempfile.TemporaryDirectory() as tmp:
        return write_dicom(Path(tmp) / "x.dcm", np.arange(16, dtype=np.uint16).reshape(4, 4)).read_bytes()


def _nifti() -> bytes:
    from tests.prepare.helpers import write_nifti

    with tempfile.TemporaryDirectory() as tmp:
        return write_nifti(Path(tmp) / "x.nii", np.arange(48, dtype=np.float32).reshape(4, 4, 3)).read_bytes()


def _npz() -> bytes:
    buf = io.BytesIO()
    arrays = {f"{s}_{k}": (np.zeros((2, 4, 4), np.uint8) if k == "images" else np.array([[0], [1]], np.uint8))
              for s in ("train", "val", "test") for k in ("images", "labels")}
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


SEEDS = {".png": _png(), ".jpg": _jpeg(), ".dcm": _dicom(), ".nii": _nifti(), ".nii.gz": gzip.compress(_nifti()),
         ".npz": _npz(),
         ".csv": b"path,label,patient_id,split,mask\na.png,x,p1,train,\nb.png,y,p2,test,b_mask.png\n",
         ".yaml": b"name: t\ndata: {folder: imgs, resolution: 32, split_ratios: [0.7, 0.15, 0.15]}\n"
                  b"gan: {kimg: 1}\nclassify: {seeds: [0], ratios: [0, 50]}\n"}


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """The seed with a few bytes overwritten, inserted or deleted, or cut short; sometimes pure random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=600))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(("set", "insert", "delete", "truncate")))
        if op == "set":
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        else:
            del data[pos:]
    return bytes(data)


def _check(call) -> None:
    try:
        call()
    except SynthmedError as exc:
        assert "\n" not in str(exc), repr(str(exc))


def _as_file(data: bytes, suffix: str):
    tmp = tempfile.TemporaryDirectory()
    path = Path(tmp.name) / f"input{suffix}"
    path.write_bytes(data)
    return tmp, path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".dcm", ".nii", ".nii.gz"])
def test_image_readers_raise_only_one_line_errors(suffix) -> None:
    opts = ReadOptions(max_pixels=4096 * 4096)

    @FUZZ
    @given(data=mutated(SEEDS[suffix]))
    def check(data: bytes) -> None:
        tmp, path = _as_file(data, suffix)
        with tmp:
            _check(lambda: probe_image(path, opts))
            _check(lambda: read_image(path, opts))

    check()


def test_npz_reader_raises_only_one_line_errors() -> None:
    from synthmed.prepare.medmnist_source import read_medmnist

    @FUZZ
    @given(data=mutated(SEEDS[".npz"]))
    def check(data: bytes) -> None:
        tmp, path = _as_file(data, ".npz")
        with tmp:
            _check(lambda: read_medmnist(path, "breastmnist"))

    check()


def test_csv_reader_raises_only_one_line_errors() -> None:
    from synthmed.prepare.file_sources import fingerprint, read_csv_source

    @FUZZ
    @given(data=mutated(SEEDS[".csv"]))
    def check(data: bytes) -> None:
        tmp, path = _as_file(data, ".csv")
        with tmp:
            _check(lambda: fingerprint(read_csv_source(path)))

    check()


def test_config_loader_raises_only_one_line_errors() -> None:
    from synthmed.pipeline.config import load_config

    @FUZZ
    @given(data=mutated(SEEDS[".yaml"]))
    def check(data: bytes) -> None:
        tmp, path = _as_file(data, ".yaml")
        with tmp:
            _check(lambda: load_config(path))

    check()


def test_the_seeds_themselves_are_valid(tmp_path) -> None:
    """The mutations start from files the readers accept, so they test corruption, not an invalid start."""
    for suffix in (".png", ".jpg", ".dcm", ".nii", ".nii.gz"):
        path = tmp_path / f"s{suffix}"
        path.write_bytes(SEEDS[suffix])
        assert read_image(path, ReadOptions())
