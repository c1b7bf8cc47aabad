"""Outputs written atomically (temporary sibling, then rename) get the modes the user's umask asks for."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from tests.conftest import write_toy_dataset

from synthmed.utils.atomic import atomic_dir, current_umask, write_text
from synthmed.utils.torchfile import torch_save


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def test_current_umask_reads_without_changing(umask) -> None:
    assert current_umask() == umask == os.umask(umask)


def test_files_and_folders_follow_the_umask(tmp_path: Path, umask: int) -> None:
    write_text(tmp_path / "report.html", "<html></html>")
    torch_save({"w": torch.zeros(1)}, tmp_path / "ckpt" / "last.pt")
    with atomic_dir(tmp_path / "folder") as tmp:
        (tmp / "inside.txt").write_text("x")
    assert _mode(tmp_path / "report.html") == _mode(tmp_path / "ckpt" / "last.pt") == 0o666 & ~umask
    assert _mode(tmp_path / "folder") == 0o777 & ~umask


def test_prepared_dataset_is_readable_by_the_group(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        ds = write_toy_dataset(tmp_path / "data", {"train": [2, 2]}, resolution=8)
    finally:
        os.umask(old)
    assert _mode(ds.root) == 0o755 and _mode(ds.root / "dataset.json") == 0o644
    assert all(_mode(p) == (0o755 if p.is_dir() else 0o644) for p in ds.root.rglob("*"))
