"""One feature store: an extractor's outputs for a whole dataset split, computed once and cached.

The key is (dataset content hash, split, extractor identity), so ``synthmed metrics`` and ``synthmed
filter`` (and the pipeline's stages, run by run) read the same arrays: the filter never extracts what the
metrics stage already has. The outputs of one forward pass (features and, for a classifier, class
probabilities) are stored together. ``memo`` caches other per-split results the same way (the
memorization audit).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from synthmed.dataset import PreparedDataset
from synthmed.metrics import features as feat_mod
from synthmed.metrics.cache import FeatureCache

STORE_VERSION = 2


class FeatureStore:
    """Extractor outputs per (dataset, split), in memory for this process and on disk under ``cache_dir``."""

    def __init__(self, cache_dir: str | Path | None) -> None:
        self.cache = FeatureCache(cache_dir)
        self._memory: dict[str, dict[str, np.ndarray]] = {}

    @property
    def root(self) -> Path | None:
        return self.cache.root

    def outputs(self, ds: PreparedDataset, split: str, extractor: feat_mod.Extractor) -> dict[str, np.ndarray]:
        """``features`` and/or ``probs`` of every image of ``ds:split`` (in the split's order)."""
        key = {"data": ds.split_hash(split), "split": split, "extractor": extractor.id, "v": STORE_VERSION}

        def compute() -> dict[str, np.ndarray]:
            images, _ = ds.load_tensor(split)
            return feat_mod.extractor_outputs(extractor, images)

        return self.memo("outputs", key, compute, n=len(ds.entries(split)))

    def features(self, ds: PreparedDataset, split: str, extractor: feat_mod.Extractor) -> np.ndarray:
        return self.outputs(ds, split, extractor)["features"]

    def probs(self, ds: PreparedDataset, split: str, extractor: feat_mod.Extractor) -> np.ndarray:
        return self.outputs(ds, split, extractor)["probs"]

    def memo(self, kind: str, key: dict, compute: Callable[[], dict[str, np.ndarray]],
             n: int | None = None) -> dict[str, np.ndarray]:
        """Arrays cached under ``kind``/``key``; ``n``: every array's first dimension (a mismatch recomputes)."""
        mem_key = f"{kind}:{self.cache.key_text(key)}"
        if mem_key in self._memory:
            return self._memory[mem_key]
        arrays = self.cache.load_arrays(kind, key)
        if arrays is None or (n is not None and any(len(a) != n for a in arrays.values())):
            arrays = compute()
            self.cache.save_arrays(kind, key, arrays)
        self._memory[mem_key] = arrays
        return arrays
