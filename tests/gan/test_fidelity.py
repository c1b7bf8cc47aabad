"""The in-training domain FID hook: computed every N kimg, logged per tick, chooses best.pt."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthmed.gan.checkpoint import load_checkpoint
from synthmed.gan.fidelity import domain_fid_hook
from synthmed.gan.train import read_stats, train_gan
from synthmed.metrics.frechet import frechet_from_features
from tests.gan.helpers import tiny_config


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """One feature cache for the module: the domain CNN of the toy set is trained once."""
    return tmp_path_factory.mktemp("cache")


def test_domain_fid_every_n_kimg_picks_best(toy32, tmp_path, monkeypatch, cache_dir) -> None:
    monkeypatch.setenv("SYNTHMED_CACHE", str(cache_dir))
    cfg = tiny_config(toy32.root, tmp_path / "runs", "dcgan", kimg=0.048, metric_every_kimg=0.016,
                      tick_kimg=0.016, snapshot_kimg=0.016, keep_last=5)
    run = train_gan(cfg, metric_fn=domain_fid_hook(cfg))
    fids = [s["fid_domain"] for s in read_stats(run)]
    assert len(fids) == 3 and all(np.isfinite(f) and f >= 0 for f in fids)
    best, _ = load_checkpoint(run, prefer="best")
    assert best["best"]["value"] == min(fids)
    assert best["nimg"] == 16 * (1 + fids.index(min(fids)))


def test_domain_fid_of_the_real_images_themselves_is_zero(toy32, tmp_path, monkeypatch, cache_dir) -> None:
    """A 'generator' that returns the real images in order scores FID 0 against them."""
    monkeypatch.setenv("SYNTHMED_CACHE", str(cache_dir))
    real, labels = toy32.load_tensor("train")
    perm = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
    real, labels = real[perm], labels[perm]  # the order the hook samples its real set in (seed 0)

    class Replay(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(()))
            self.i = 0

        def forward(self, z, lab):
            out = real[self.i:self.i + len(lab)]
            self.i += len(lab)
            return out + self.w

    metric = domain_fid_hook(tiny_config(toy32.root, tmp_path, "dcgan"))
    value = metric(Replay(), {"dataset": str(toy32.root), "z_dim": 4})["fid_domain"]
    assert abs(value) < 1e-6
    assert frechet_from_features(np.eye(3), np.eye(3)) < 1e-9
