"""The balanced sampler, the lazy image set and the one compatibility check of two datasets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthmed.classify.data import ImageSet, balanced_sampler
from synthmed.dataset import check_alike
from synthmed.errors import SynthmedError


def test_balanced_sampler_draws_every_class_equally_often() -> None:
    labels = np.array([0] * 90 + [1] * 10 + [2] * 20)
    sampler = balanced_sampler(labels, torch.Generator().manual_seed(0))
    # Each image's weight is 1 / (its class count): every class holds the same total weight.
    weights = sampler.weights.numpy()
    assert [weights[labels == k].sum() for k in range(3)] == pytest.approx([1.0, 1.0, 1.0])
    assert len(sampler) == labels.size and sampler.replacement
    draws = np.concatenate([labels[list(sampler)] for _ in range(25)])  # 3000 draws
    # Each class 1/3 of the draws (binomial sd 0.009); the unbalanced set would give 0.75 / 0.08 / 0.17.
    assert np.bincount(draws, minlength=3) / draws.size == pytest.approx([1 / 3] * 3, abs=0.04)


def test_balanced_sampler_is_reproducible() -> None:
    labels = np.array([0] * 30 + [1] * 5)
    first = list(balanced_sampler(labels, torch.Generator().manual_seed(3)))
    again = list(balanced_sampler(labels, torch.Generator().manual_seed(3)))
    other = list(balanced_sampler(labels, torch.Generator().manual_seed(4)))
    assert first == again and first != other


class _CountingList(list):
    """A split's entry list that counts how often it is walked whole."""

    walks = 0

    def __iter__(self):
        _CountingList.walks += 1
        return super().__iter__()


def test_lazy_image_set_reads_an_item_without_walking_the_split(toy_dataset) -> None:
    """Reading N items lazily must not copy or scan the split's entry list per item (was O(N^2) per epoch)."""
    ds = toy_dataset({"train": [30, 30]}, resolution=8)
    lazy = ImageSet([(ds, "train", np.arange(60))], in_memory_limit=0)
    assert lazy.images is None
    ds.meta["splits"]["train"] = _CountingList(ds.meta["splits"]["train"])
    _CountingList.walks = 0
    items = [lazy[i] for i in range(len(lazy))]
    assert _CountingList.walks == 0
    eager = ImageSet([(ds, "train", np.arange(60))])
    assert all(torch.equal(x, eager[i][0]) and y == eager[i][1] and not syn for i, (x, y, syn) in enumerate(items))


def test_check_alike_names_both_sets(toy_dataset) -> None:
    real = toy_dataset({"train": [4, 4]}, resolution=8, name="real")
    check_alike(toy_dataset({"train": [2, 2]}, resolution=8, name="same"), real)
    with pytest.raises(SynthmedError, match=r"small.*16px x1 channel\(s\), the real set's 8px x1"):
        check_alike(toy_dataset({"train": [2, 2]}, resolution=16, name="small"), real)
    with pytest.raises(SynthmedError, match=r"three: classes .* differ from the real set's"):
        check_alike(toy_dataset({"train": [2, 2, 2]}, resolution=8, name="three"), real)
