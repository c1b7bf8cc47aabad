"""Property tests (Hypothesis): ``dataset.json`` with drawn entries and structure.

A small real dataset is written once; each example replaces its manifest's splits with drawn entries (paths
inside, climbing out, absolute, through symlinks that lead out or stay in, odd text; labels of any JSON type;
masks; extra keys) and sometimes breaks the structure around them. Whatever the manifest says, opening it,
reading every image and mask and verifying the content hash either work or raise a one-line
``SynthmedError``, and no read ever returns the pixels of the file outside the dataset.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from synthmed.dataset import SPLITS, PreparedDataset
from synthmed.errors import SynthmedError

_LONG = int(os.environ.get("SYNTHMED_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 100, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SECRET = 173  # the outside image's only pixel value; no dataset image has it

# Text a manifest may hold: fine as text (some lead out through symlinks, one loops), or refused as text.
TEXT_OK = st.sampled_from([
    "images/train/000000.png", "images/train/000001.png", "images/train/000000_mask.png", "images/link-out.png",
    "images/link-in.png", "images/linked-dir/secret.png", "images/loop.png", "images/missing.png", "images", ".",
    "./images/train/000000.png", "images//train/000001.png", "dataset.json", "images/train/000000.png "])
TEXT_BAD = st.one_of(
    st.sampled_from(["../secret.png", "images/../../secret.png", "images/train/../../../secret.png",
                     "/etc/hostname", "SECRET_ABSOLUTE", "C:/secret.png", "\\\\server\\share\\x.png",
                     "images\\..\\..\\secret.png", "", " ", "images/train/000000.png\0"]),
    st.text(max_size=12), st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2))
PATHS = st.integers(0, 3).flatmap(lambda r: TEXT_BAD if r == 0 else TEXT_OK)
LABELS = st.one_of(st.sampled_from([0, 1, 2, -1]), st.integers(), st.booleans(), st.none(), st.floats(),
                   st.text(max_size=3), st.lists(st.integers(), max_size=2))


def _mostly(good: st.SearchStrategy, bad: st.SearchStrategy, one_in: int) -> st.SearchStrategy:
    """``good``, and one draw in ``one_in`` ``bad``: most manifests open, so their reads get tested."""
    return st.integers(0, one_in - 1).flatmap(lambda r: bad if r == 0 else good)


@st.composite
def entries(draw) -> object:
    if draw(st.integers(0, 29)) == 0:  # not an entry at all
        return draw(st.one_of(st.none(), st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2)))
    entry: dict = {}
    if draw(st.integers(0, 19)):
        entry["path"] = draw(PATHS)
    if draw(st.integers(0, 19)):
        entry["label"] = draw(_mostly(st.sampled_from([0, 1]), LABELS, 8))
    if draw(st.integers(0, 2)) == 0:
        entry["mask"] = draw(PATHS)
    if draw(st.integers(0, 4)) == 0:
        entry[draw(st.text(max_size=6))] = draw(st.one_of(st.integers(), st.text(max_size=4)))
    return entry


@st.composite
def splits(draw) -> object:
    if draw(st.integers(0, 29)) == 0:  # the structure itself broken
        return draw(st.one_of(st.none(), st.lists(st.integers(), max_size=2), st.text(max_size=4)))
    names = draw(st.lists(_mostly(st.sampled_from(SPLITS), st.sampled_from(["valid", ""]), 15), min_size=1,
                          max_size=3, unique=True))
    return {n: draw(_mostly(st.lists(entries(), min_size=1, max_size=3), st.one_of(st.none(), st.integers()), 15))
            for n in names}


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> tuple[Path, Path]:
    """A dataset with images and a mask, a secret image beside it, and links that lead out and stay in."""
    root = tmp_path_factory.mktemp("fuzz")
    ds = root / "ds"
    (ds / "images" / "train").mkdir(parents=True)
    for i in range(2):
        Image.fromarray(np.full((8, 8), 10 + i, np.uint8)).save(ds / "images" / "train" / f"{i:06d}.png")
    Image.fromarray(np.full((8, 8), 255, np.uint8)).save(ds / "images" / "train" / "000000_mask.png")
    secret = root / "secret.png"
    Image.fromarray(np.full((8, 8), SECRET, np.uint8)).save(secret)
    (ds / "images" / "link-out.png").symlink_to(secret)
    (ds / "images" / "link-in.png").symlink_to(ds / "images" / "train" / "000001.png")
    (ds / "images" / "linked-dir").symlink_to(root, target_is_directory=True)
    (ds / "images" / "loop.png").symlink_to(ds / "images" / "loop.png")
    return ds, secret


def _one_line(call) -> object:
    try:
        return call()
    except SynthmedError as exc:
        assert "\n" not in str(exc), repr(str(exc))
        return None


def test_drawn_manifests_open_read_and_verify_or_fail_in_one_line(layout) -> None:
    ds_root, secret = layout
    manifest = ds_root / "dataset.json"
    base = {"format": "synthmed-prepared-dataset", "version": 1, "classes": ["a", "b"], "resolution": 8,
            "channels": 1, "bit_depth": 8, "content_hash": "0" * 64}

    @FUZZ
    @given(drawn=splits())
    def check(drawn: object) -> None:
        text = json.dumps({**base, "splits": drawn}).replace("SECRET_ABSOLUTE", str(secret).replace("\\", "/"))
        manifest.write_text(text)
        ds = _one_line(lambda: PreparedDataset.open(ds_root))
        if ds is None:
            return
        for split in SPLITS:
            for entry in ds.entries(split):
                image = _one_line(lambda e=entry: ds.load_image(e))
                assert image is None or (image != SECRET).all(), f"read {entry} from outside the dataset"
                mask = _one_line(lambda e=entry: ds.load_mask(e))
                if mask is not None:  # a mask read must come from inside too (its pixels would be all True)
                    assert os.path.realpath(ds.mask_path(entry)).startswith(os.path.realpath(ds_root) + os.sep)
        _one_line(ds.verify_content)

    check()


def test_the_secret_is_readable_when_named_inside(layout, tmp_path) -> None:
    """The property is not vacuous: a manifest that copies the secret inside reads its pixels."""
    ds_root, secret = layout
    copy = tmp_path / "copy"
    shutil.copytree(ds_root, copy, symlinks=True)
    shutil.copy(secret, copy / "images" / "inside-secret.png")
    (copy / "dataset.json").write_text(json.dumps({
        "classes": ["a", "b"], "resolution": 8, "channels": 1, "content_hash": "0",
        "splits": {"train": [{"path": "images/inside-secret.png", "label": 0}]}}))
    ds = PreparedDataset.open(copy)
    assert (ds.load_images("train") == SECRET).all()


def test_mutated_manifest_bytes_open_or_fail_in_one_line(layout, tmp_path) -> None:
    """The same promise for dataset.json bytes cut, overwritten or extended (a half-copied or edited file)."""
    from tests.prepare.test_fuzz import mutated

    ds_root, _ = layout
    copy = tmp_path / "bytes"
    shutil.copytree(ds_root, copy, symlinks=True)
    seed = json.dumps({"format": "synthmed-prepared-dataset", "version": 1, "classes": ["a", "b"], "resolution": 8,
                       "channels": 1, "bit_depth": 8, "content_hash": "0" * 64,
                       "splits": {"train": [{"path": "images/train/000000.png", "label": 0,
                                             "mask": "images/train/000000_mask.png"},
                                            {"path": "images/train/000001.png", "label": 1}]}}).encode()

    @FUZZ
    @given(data=mutated(seed))
    def check(data: bytes) -> None:
        (copy / "dataset.json").write_bytes(data)
        ds = _one_line(lambda: PreparedDataset.open(copy))
        if ds is not None:
            for split in ds.split_names:
                _one_line(lambda s=split: ds.load_images(s))
            _one_line(ds.verify_content)

    check()
