"""Feature extractors: the domain CNN (a classifier trained on the *real* training images), a user's model.

Inception features describe ImageNet photographs; a classifier trained on the task's own images
describes what matters for the diagnosis, and needs no download. synthmed trains this CNN itself
with classify's training loop (``synthmed.classify.train``: the small ``cnn`` arch, traditional
augmentation, class-weighted loss, 20 epochs, cosine schedule; train split only), caches the model folder
by the training split's content hash, and uses its backbone features for FID/KID/PRDC/realism and
its softmax for ``synthmed filter``. ``--features PATH`` replaces it with the user's own extractor (a
TorchScript file mapping (N, C, H, W) images in [-1, 1] to (N, D) features; a pickled ``nn.Module`` is
refused, since unpickling it could run any code).

Every network here is wrapped in an :class:`Extractor`: an identity string (what feature caches are
keyed by) and one ``outputs`` call that gives features and, for a classifier, class probabilities from
the same forward pass.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from synthmed.classify.models import MODEL_FILE, Classifier, load_model
from synthmed.classify.train import train_classifier
from synthmed.dataset import DatasetWriter, PreparedDataset
from synthmed.errors import BadInputError, SynthmedError
from synthmed.utils.hashing import sha256_file, sha256_json
from synthmed.utils.torchfile import load_torchscript, load_weights


@dataclass(frozen=True)
class DomainCNNConfig:
    """classify's options for the domain CNN (the old hand-written loop's: 20 epochs, batch 64, lr 2e-3)."""

    arch: str = "cnn"
    epochs: int = 20
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    augment: str = "traditional"
    seed: int = 0


@dataclass(frozen=True, eq=False)
class Extractor:
    """A network and what its forward pass gives.

    ``kind``: ``classifier`` (a classify ``Classifier``: ``features`` is the backbone's vector, the head
    gives logits), ``features`` (a module returning features), ``logits`` (a module returning class logits).
    """

    id: str
    model: nn.Module
    kind: Literal["classifier", "features", "logits"]

    @property
    def has_probs(self) -> bool:
        return self.kind != "features"

    @property
    def has_features(self) -> bool:
        return self.kind != "logits"


@torch.no_grad()
def extractor_outputs(extractor: Extractor, images: torch.Tensor, batch: int = 256) -> dict[str, np.ndarray]:
    """``features`` (N, D) and/or ``probs`` (N, K) of (N, C, H, W) images in [-1, 1], float64, one pass."""
    model = extractor.model.eval()
    feats, probs = [], []
    for i in range(0, images.shape[0], batch):
        x = images[i:i + batch]
        if extractor.kind == "classifier":
            f = model.features(x)
            feats.append(f.reshape(len(x), -1))
            probs.append(torch.softmax(model.head(f), dim=1))
        elif extractor.kind == "features":
            feats.append(model(x).reshape(len(x), -1))
        else:
            probs.append(torch.softmax(model(x), dim=1))
    out: dict[str, np.ndarray] = {}
    if extractor.has_features:
        out["features"] = torch.cat(feats).double().numpy() if feats else np.zeros((0, 0))
    if extractor.has_probs:
        out["probs"] = torch.cat(probs).double().numpy() if probs else np.zeros((0, 0))
    return out


def extract(model: nn.Module | Extractor, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    """(N, D) float64 features (a classify ``Classifier``: its backbone's; any other module: its output)."""
    ex = model if isinstance(model, Extractor) else as_extractor(model, "model")
    return extractor_outputs(ex, images, batch)["features"]


def as_extractor(model: nn.Module, ident: str) -> Extractor:
    return Extractor(ident, model, "classifier" if isinstance(model, Classifier) else "features")


# -- the domain CNN ----------------------------------------------------------------------------------------
def _train_options(cfg: DomainCNNConfig) -> dict:
    return {"arch": cfg.arch, "epochs": cfg.epochs, "batch_size": cfg.batch, "lr": cfg.lr,
            "weight_decay": cfg.weight_decay, "augment": cfg.augment, "lr_schedule": "cosine", "patience": 0,
            "balance": "weights", "seed": cfg.seed, "device": "cpu"}


def domain_cnn_for(ds: PreparedDataset, cache_dir: Path | None, cfg: DomainCNNConfig = DomainCNNConfig(),
                   progress: bool = True) -> tuple[nn.Module, str]:
    """The domain CNN for ``ds``'s train split: loaded from the cache or trained (classify's loop) and cached.

    It learns from the train split only and picks its epoch on the train split too: no validation or test
    image reaches the metrics' reference or the filter's classifier. Returns the model (a classify
    ``Classifier``, eval mode, CPU) and its identity for feature caches.
    """
    train = "train" if ds.entries("train") else ds.split_names[0]
    key = sha256_json({"data": ds.split_hash(train), "cfg": asdict(cfg), "v": 2})[:32]
    ident = f"domain-cnn-{key}"
    folder = Path(cache_dir) / "domain_cnn" / key if cache_dir is not None else None
    if folder is not None and folder.is_dir():
        try:
            return load_model(folder)[0], ident
        except (BadInputError, RuntimeError, KeyError):
            pass  # corrupt or stale: retrain
    with tempfile.TemporaryDirectory() as tmp:
        out = folder if folder is not None else Path(tmp) / "domain_cnn"
        spec = f"{ds.root}:{train}"
        train_classifier(spec, spec, out, overwrite=True, progress=progress, **_train_options(cfg))
        return load_model(out)[0], ident


def train_domain_cnn(images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     cfg: DomainCNNConfig = DomainCNNConfig(), progress: bool = True) -> nn.Module:
    """The domain CNN for in-memory images ((N, C, H, W) in [-1, 1], 8-bit content), through classify's loop.

    The images go to a temporary prepared dataset (8-bit PNGs: lossless for 8-bit images) so that the
    training is exactly ``domain_cnn_for``'s.
    """
    pixels = ((images.permute(0, 2, 3, 1).numpy() + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)
    with tempfile.TemporaryDirectory(prefix="synthmed-domain-cnn-") as tmp:
        with DatasetWriter(Path(tmp) / "data", [str(k) for k in range(num_classes)], images.shape[-1],
                           images.shape[1]) as w:
            for x, y in zip(pixels, labels.tolist(), strict=True):
                w.add(x[:, :, 0] if x.shape[2] == 1 else x, int(y), "train")
            w.finish(source={"type": "in-memory crops"}, preprocessing={})
        model, _ = domain_cnn_for(PreparedDataset.open(Path(tmp) / "data"), None, cfg, progress)
    return model


def domain_extractor(ds: PreparedDataset, cache_dir: Path | None, cfg: DomainCNNConfig = DomainCNNConfig(),
                     progress: bool = True) -> Extractor:
    model, ident = domain_cnn_for(ds, cache_dir, cfg, progress)
    return Extractor(ident, model, "classifier")


# -- a user's networks -------------------------------------------------------------------------------------
def load_user_extractor(path: str | Path) -> tuple[nn.Module, str]:
    """A user's feature extractor, saved as TorchScript (``torch.jit.script(model).save(PATH)``).

    A pickled ``nn.Module`` is refused: unpickling a file can run any code, and TorchScript loads without it.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "feature extractor file not found")
    model = load_torchscript(path)
    if model is None:
        hint = "save the extractor as TorchScript: torch.jit.script(model).save(PATH)"
        try:
            load_weights(path, "feature extractor")  # only to say why: pickled code, or not a torch file
        except BadInputError as exc:
            raise BadInputError(path, f"{exc.problem}; {hint}") from None
        raise BadInputError(path, f"holds weights but no network; {hint}")
    return model.eval(), f"user-{sha256_file(path)[:32]}"


def user_features(path: str | Path) -> Extractor:
    model, ident = load_user_extractor(path)
    return Extractor(ident, model, "features")


def load_classifier(path: str | Path, classes: list[str]) -> Extractor:
    """A classifier: a ``synthmed train-classifier`` model folder, or a saved nn.Module returning logits."""
    path = Path(path)
    model_file = path / MODEL_FILE if path.is_dir() else path
    if path.is_dir() or path.suffix == ".pt":
        try:
            model, meta = load_model(path)
        except BadInputError:
            if path.is_dir():
                raise
        else:
            if list(meta.get("classes", classes)) != list(classes):
                raise SynthmedError(f"{path}: classifier classes {meta['classes']} differ from {classes}")
            return Extractor(f"classifier-{sha256_file(model_file)[:32]}", model, "classifier")
    model, ident = load_user_extractor(path)
    return Extractor(ident, model, "logits")
