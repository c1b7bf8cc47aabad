"""On-disk feature cache, keyed by dataset content hash and extractor identity (atomic writes)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from synthmed.utils.atomic import atomic_path
from synthmed.utils.hashing import sha256_json


def default_cache_dir() -> Path:
    """``$SYNTHMED_CACHE``, else ``~/.cache/synthmed``."""
    env = os.environ.get("SYNTHMED_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "synthmed"


class FeatureCache:
    """Arrays saved as ``<dir>/<kind>/<key>.npy``; ``None`` disables caching."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root) if root is not None else None

    @staticmethod
    def key_text(key_parts: dict) -> str:
        return sha256_json(key_parts)[:32]

    def path(self, kind: str, key_parts: dict, suffix: str = ".npy") -> Path | None:
        if self.root is None:
            return None
        return self.root / kind / f"{self.key_text(key_parts)}{suffix}"

    def load(self, kind: str, key_parts: dict) -> np.ndarray | None:
        path = self.path(kind, key_parts)
        if path is None or not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None  # a corrupt cache entry is recomputed, never trusted

    def save(self, kind: str, key_parts: dict, array: np.ndarray) -> None:
        path = self.path(kind, key_parts)
        if path is None:
            return
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, array, allow_pickle=False)

    def load_arrays(self, kind: str, key_parts: dict) -> dict[str, np.ndarray] | None:
        """Several named arrays saved together (``.npz``); None when absent or unreadable."""
        path = self.path(kind, key_parts, ".npz")
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}
        except (OSError, ValueError, KeyError):
            return None

    def save_arrays(self, kind: str, key_parts: dict, arrays: dict[str, np.ndarray]) -> None:
        path = self.path(kind, key_parts, ".npz")
        if path is None:
            return
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
