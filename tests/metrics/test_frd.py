"""FRD: our cached-feature pipeline equals frd-score's own compute_frd; degradations score worse in order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthmed.metrics.radiomics import extract_radiomics, frd_from_features
from tests.conftest import make_class_image
from tests.metrics.conftest import add_noise, blur, write_images


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    rng = np.random.default_rng(0)
    labels = np.arange(10) % 2  # radiomics costs ~0.1 s per image: keep the sets tiny
    base = np.stack([make_class_image(int(k), 24, 1, rng) for k in labels])
    variants = {"real": base, "blur1": blur(base, 0.7), "blur2": blur(base, 2.0), "noise1": add_noise(base, 8),
                "noise2": add_noise(base, 40)}
    root = tmp_path_factory.mktemp("frd")
    out = {}
    for name, imgs in variants.items():
        ds = write_images(root / name, imgs, labels, ["disk", "square"])
        out[name] = [ds.image_path(e) for e in ds.entries("train")]
    return out


@pytest.fixture(scope="module")
def feats(sets) -> dict[str, np.ndarray]:
    return {name: extract_radiomics(paths, workers=1, progress=False) for name, paths in sets.items()}


def test_matches_frd_score_compute_frd(sets, feats) -> None:
    from frd_score.frd import compute_frd

    reference = compute_frd([[str(p) for p in sets["real"]], [str(p) for p in sets["noise1"]]], frd_version="v1",
                            num_workers=1)
    ours, n_features = frd_from_features(feats["real"], feats["noise1"])
    assert ours == pytest.approx(float(reference), rel=1e-4)
    assert n_features > 50


def test_degradations_score_worse_in_order(feats) -> None:
    frd = {name: frd_from_features(feats["real"], f)[0] for name, f in feats.items() if name != "real"}
    assert frd["blur1"] < frd["blur2"]
    assert frd["noise1"] < frd["noise2"]
    assert frd_from_features(feats["real"], feats["real"])[0] == float("-inf")  # d² = 0: log gives -inf
