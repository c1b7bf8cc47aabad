"""Inception-v3 metrics (FID, KID, Inception Score) with the standard TF-ported FID weights.

The weights are the ``pt_inception-2015-12-05`` file of pytorch-fid, which torch-fidelity and
torchmetrics ship as ``weights-inception-2015-12-05-6726825d.pth``. They are looked for, in order,
at ``--inception-weights PATH``, under ``$TORCH_HOME/hub/checkpoints`` (both names), and finally
downloaded by torch-fidelity when online. When none is found, the three metrics are null with a
one-line note naming the file and the places looked; nothing else is affected.

Images are converted to uint8, grayscale is repeated to three channels, and torch-fidelity's
``FeatureExtractorInceptionV3`` resizes them to 299x299 with its TensorFlow-1-compatible bilinear
interpolation (the resize the reference FID implementation applies), so values are comparable
with published FIDs.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3, FeatureExtractorInceptionV3

from synthmed.utils.network import host_resolves

WEIGHT_NAMES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")


def torch_home() -> Path:
    env = os.environ.get("TORCH_HOME")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "torch"


class InceptionUnavailable(Exception):
    """The weights were not found (the message is the one-line note)."""


def locate_weights(explicit: str | Path | None) -> tuple[Path | None, list[str]]:
    """The weights file if found locally, and the places looked (for the message)."""
    looked: list[str] = []
    if explicit is not None:
        path = Path(explicit)
        if path.is_file():
            return path, looked
        looked.append(str(path))
    checkpoints = torch_home() / "hub" / "checkpoints"
    for name in WEIGHT_NAMES:
        candidate = checkpoints / name
        if candidate.is_file():
            return candidate, looked
    looked.append(f"{checkpoints}/{{{','.join(WEIGHT_NAMES)}}}")
    return None, looked


def _offline() -> bool:
    return os.environ.get("SYNTHMED_OFFLINE", "") not in ("", "0")


def _unreachable_host() -> str | None:
    """The weights' download host when it does not resolve, else None.

    Checked first so that an offline run does not print torch hub's "Downloading: ..." line before
    failing: the one-line note below is the whole message.
    """
    host = urlparse(URL_INCEPTION_V3).hostname or ""
    return None if host_resolves(host) else host


def _missing(looked: list[str], why: str) -> InceptionUnavailable:
    return InceptionUnavailable(f"Inception-v3 FID weights {WEIGHT_NAMES[0]} not found (looked in: "
                                f"{'; '.join(looked)}; {why}); pass --inception-weights PATH or put the file "
                                f"in $TORCH_HOME/hub/checkpoints")


def load_inception(explicit: str | Path | None = None, allow_download: bool = True):
    """torch-fidelity's InceptionV3 with the FID weights, returning 2048-d pool features and logits.

    Raises ``InceptionUnavailable`` with a one-line message when the weights cannot be had.
    """
    path, looked = locate_weights(explicit)
    if path is None and (not allow_download or _offline()):
        raise _missing(looked, "offline (SYNTHMED_OFFLINE=1)" if _offline() else "download disabled")
    if path is None and (host := _unreachable_host()):
        raise _missing(looked, f"offline: {host} does not resolve")
    try:
        return FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                           feature_extractor_weights_path=str(path) if path else None)
    except Exception as exc:  # network and unpickling errors come in many types; all mean "unavailable"
        first_line = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        if path is None:
            raise _missing(looked, f"download failed: {first_line}") from None
        raise InceptionUnavailable(f"{path}: cannot load Inception-v3 FID weights ({first_line})") from None


@torch.no_grad()
def inception_features(model, images: torch.Tensor, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(pool 2048-d features, unbiased logits) of (N, C, H, W) images in [-1, 1]."""
    pools, logits = [], []
    for start in range(0, images.shape[0], batch):
        x = ((images[start:start + batch] + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        pool, logit = model(x)
        pools.append(pool.double())
        logits.append(logit.double())
    return torch.cat(pools).numpy(), torch.cat(logits).numpy()


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """IS = exp(E_x KL(p(y|x) || p(y))), mean and std over ``splits`` consecutive chunks.

    Hand-written (a few lines on cached logits); agrees with torchmetrics' InceptionScore for one
    split (``tests/metrics/test_inception.py``).
    """
    logits = torch.as_tensor(logits, dtype=torch.float64)
    scores = []
    for chunk in logits.chunk(max(1, min(splits, logits.shape[0]))):
        log_p = torch.log_softmax(chunk, dim=1)
        p = log_p.exp()
        log_py = torch.log(p.mean(dim=0, keepdim=True))
        scores.append(torch.exp((p * (log_p - log_py)).sum(dim=1).mean()))
    values = torch.stack(scores)
    return float(values.mean()), float(values.std(unbiased=False))
