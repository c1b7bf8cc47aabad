"""Torch files are read without running code from them: a booby-trapped pickle is refused in one line."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from synthmed import cli
from synthmed.classify.models import load_model
from synthmed.errors import BadInputError
from synthmed.gan.checkpoint import load_checkpoint
from synthmed.metrics.features import load_classifier, load_user_extractor
from synthmed.utils.torchfile import load_weights


class _Trap:
    """Unpickling this creates a marker file: proof that loading ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture
def trap(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "ran-code"
    file = tmp_path / "model.pt"
    torch.save({"meta": _Trap(marker), "state_dict": {}, "format": _Trap(marker)}, file)
    return file, marker


@pytest.mark.parametrize("loader", [
    lambda f: load_weights(f, "weights file"),
    lambda f: load_checkpoint(f),
    lambda f: load_model(f.parent),
    lambda f: load_user_extractor(f),
    lambda f: load_classifier(f, ["a", "b"]),
])
def test_pickled_code_refused_without_running_or_warning(trap, loader) -> None:
    file, marker = trap
    with warnings.catch_warnings(record=True) as caught, pytest.raises(BadInputError) as exc:
        warnings.simplefilter("always")
        loader(file)
    assert not marker.exists()
    assert "refused (loading them could run code)" in str(exc.value) and str(file) in str(exc.value)
    assert "\n" not in str(exc.value) and caught == []


def test_pickled_module_extractor_refused_with_the_way_out(tmp_path: Path) -> None:
    file = tmp_path / "extractor.pt"
    torch.save(torch.nn.Linear(2, 2), file)
    with pytest.raises(BadInputError, match=r"refused .*torch\.jit\.script\(model\)\.save"):
        load_user_extractor(file)
    torch.save({"w": torch.zeros(2)}, file)
    with pytest.raises(BadInputError, match="holds weights but no network"):
        load_user_extractor(file)


def test_cli_prints_only_our_line(trap, tmp_path: Path, capsys) -> None:
    file, marker = trap
    with pytest.raises(SystemExit) as exc:
        cli.main(["generate", "--checkpoint", str(file), "--out", str(tmp_path / "out"), "--per-class", "1"])
    err = capsys.readouterr().err
    assert exc.value.code == 1 and not marker.exists()
    assert err.count("\n") == 1 and "refused" in err and "Warning" not in err, err


def test_broken_bytes_are_called_corrupted_not_code(tmp_path: Path) -> None:
    file = tmp_path / "last.pt"
    file.write_bytes(b"not a checkpoint" * 10)
    with pytest.raises(BadInputError, match="corrupted or not a torch file"):
        load_weights(file, "checkpoint")
