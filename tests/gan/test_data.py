"""Batch order: a function of (seed, step); ranks split the global batch; every epoch sees every image once."""

from __future__ import annotations

import torch

from synthmed.gan.data import batch_indices, load_train_images


def test_ranks_split_the_global_batch() -> None:
    for step in range(7):
        whole = batch_indices(10, 4, step, seed=3)
        parts = [batch_indices(10, 4, step, seed=3, rank=r, world_size=2) for r in range(2)]
        assert torch.equal(torch.cat(parts), whole)


def test_each_epoch_is_a_permutation_and_order_depends_on_seed() -> None:
    stream = torch.cat([batch_indices(10, 5, s, seed=0) for s in range(6)])  # 3 epochs of 10
    for e in range(3):
        assert sorted(stream[e * 10:(e + 1) * 10].tolist()) == list(range(10))
    assert not torch.equal(stream[:10], stream[10:20])
    assert not torch.equal(stream, torch.cat([batch_indices(10, 5, s, seed=1) for s in range(6)]))
    # a batch that straddles two epochs (batch 4 over 10 images: step 2 = images 8..11)
    assert torch.equal(batch_indices(10, 4, 2, seed=0), stream[8:12])


def test_28_pixel_data_is_resized_to_32(toy_dataset) -> None:
    ds = toy_dataset(counts={"train": [3, 2]}, resolution=28)
    data = load_train_images(ds, 32)
    assert data.images.shape == (5, 1, 32, 32) and data.images.dtype == torch.uint8
    assert data.labels.tolist() == ds.labels("train").tolist()
    same = load_train_images(ds, 28)
    assert torch.equal(same.images[:, 0], torch.from_numpy(ds.load_images("train")[:, :, :, 0]))
