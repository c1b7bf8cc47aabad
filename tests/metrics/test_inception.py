"""Inception weights lookup and the Inception Score formula (the network itself needs weights we lack)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from synthmed.metrics.inception import (
    WEIGHT_NAMES,
    InceptionUnavailable,
    inception_score,
    load_inception,
    locate_weights,
)


def test_weights_found_in_torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    target = tmp_path / "hub" / "checkpoints" / WEIGHT_NAMES[0]
    assert locate_weights(None)[0] is None
    target.parent.mkdir(parents=True)
    target.write_bytes(b"stand-in")
    assert locate_weights(None)[0] == target
    explicit = tmp_path / "mine.pth"
    explicit.write_bytes(b"x")
    assert locate_weights(explicit)[0] == explicit


def test_missing_weights_offline_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("SYNTHMED_OFFLINE", "1")
    with pytest.raises(InceptionUnavailable) as exc:
        load_inception(tmp_path / "absent.pth")
    message = str(exc.value)
    assert "\n" not in message
    assert WEIGHT_NAMES[0] in message and str(tmp_path / "absent.pth") in message
    assert str(tmp_path / "th" / "hub" / "checkpoints") in message


def test_unreachable_download_host_fails_in_one_line_without_trying(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    import socket

    def no_dns(*args, **kwargs):
        raise socket.gaierror("Name or service not known")

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.delenv("SYNTHMED_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setattr("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", no_download)
    with pytest.raises(InceptionUnavailable, match=r"offline: github\.com does not resolve") as exc:
        load_inception(None)
    assert "\n" not in str(exc.value) and "Downloading" not in capfd.readouterr().err


def test_inception_score_matches_torchmetrics_one_split() -> None:
    from torchmetrics.image.inception import InceptionScore

    logits = torch.from_numpy(np.random.default_rng(0).normal(0, 2, size=(64, 10)))

    class Logits(torch.nn.Module):  # hands torchmetrics our logits as "features"
        def forward(self, idx: torch.Tensor) -> torch.Tensor:
            return logits[idx[:, 0, 0, 0].long() % 64]  # % 64: torchmetrics probes with a random image

    tm = InceptionScore(feature=Logits(), splits=1)
    tm.update(torch.arange(64, dtype=torch.uint8)[:, None, None, None].expand(64, 3, 1, 1).contiguous())
    expected, _ = tm.compute()
    ours, _ = inception_score(logits.numpy(), splits=1)
    assert ours == pytest.approx(float(expected), rel=1e-4)
    # all images predicted as the same class with certainty: IS = 1
    assert inception_score(np.tile([[50.0, 0, 0]], (20, 1)), splits=2)[0] == pytest.approx(1.0)
