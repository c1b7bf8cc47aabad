"""Seeding, so that runs are reproducible (a GAN run's RNG state for an exact resume: ``gan.checkpoint``)."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
