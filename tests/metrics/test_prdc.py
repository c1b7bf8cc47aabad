"""Precision/recall/density/coverage and the realism score: hand-computed answers and torch-fidelity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthmed.metrics.prdc import prdc, realism_scores


def test_prdc_hand_computed_1d() -> None:
    # k=1. Real radii: 0->1, 1->1, 2->1, 3->1, 10->7. Fake 0.5 lies in the balls of 0 and 1; fake 20 in none.
    real = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    fake = np.array([[0.5], [20.0]])
    got = prdc(real, fake, k=1)
    assert got["precision"] == pytest.approx(0.5)
    assert got["density"] == pytest.approx(2 / (1 * 2))
    # real 0 and 1 have a fake within their radius; 2, 3 and 10 do not
    assert got["coverage"] == pytest.approx(2 / 5)
    # fake radii are both 19.5: every real point lies in the ball of fake 0.5
    assert got["recall"] == pytest.approx(1.0)


def test_precision_recall_agree_with_torch_fidelity() -> None:
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(150, 6)), rng.normal(0.4, 1.3, size=(120, 6))
    ours = prdc(real, fake, k=3)
    # torch-fidelity's convention: features_1 = generated, features_2 = real
    precision, recall = calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real), 3)
    assert ours["precision"] == pytest.approx(precision, abs=1e-6)  # torch-fidelity returns float32 means
    assert ours["recall"] == pytest.approx(recall, abs=1e-6)


def test_realism_inside_and_far_outside() -> None:
    rng = np.random.default_rng(1)
    real = rng.normal(size=(200, 4))
    scores = realism_scores(real, np.array([[0.0, 0.0, 0.0, 0.0], [30.0, 30.0, 30.0, 30.0]]), k=3)
    assert scores[0] > 1.0 > scores[1]
