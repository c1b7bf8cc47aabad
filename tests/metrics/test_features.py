"""Domain feature extractor: a user's TorchScript extractor loads; the CNN is cached by data hash."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from synthmed.errors import BadInputError
from synthmed.metrics.features import DomainCNNConfig, domain_cnn_for, extract, load_user_extractor
from tests.metrics.conftest import RandomFeatures


def test_user_torchscript_extractor(tmp_path: Path) -> None:
    path = tmp_path / "extractor.pt"
    torch.jit.script(RandomFeatures(dim=5)).save(str(path))
    model, ident = load_user_extractor(path)
    assert extract(model, torch.zeros(3, 1, 16, 16)).shape == (3, 5)
    assert ident.startswith("user-")
    with pytest.raises(BadInputError):
        load_user_extractor(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(BadInputError):
        load_user_extractor(tmp_path / "junk.pt")


def test_domain_cnn_cached_by_content(toy_dataset, tmp_path: Path) -> None:
    ds = toy_dataset(counts={"train": [8, 8]}, resolution=16)
    cfg = DomainCNNConfig(epochs=1)
    first, key1 = domain_cnn_for(ds, tmp_path, cfg, progress=False)
    again, key2 = domain_cnn_for(ds, tmp_path, cfg, progress=False)
    # trained once, through classify's loop: the cache holds one train-classifier model folder
    folders = list((tmp_path / "domain_cnn").iterdir())
    assert key1 == key2 and len(folders) == 1 and (folders[0] / "model.pt").is_file()
    assert (folders[0] / "train_log.jsonl").is_file()
    x, _ = ds.load_tensor("train")
    assert torch.equal(torch.from_numpy(extract(first, x)), torch.from_numpy(extract(again, x)))
