"""Domain features: the embedding of a small CNN trained to classify the *real* training images.

Inception features describe ImageNet photographs; a classifier trained on the task's own images
describes what matters for the diagnosis, and needs no download. synthmed trains this CNN itself
(a few epochs on CPU), caches it by the training split's content hash, and uses its 64-d
penultimate layer for FID/KID/PRDC/memorization and its softmax for ``synthmed filter``.
``--features PATH`` replaces it with the user's own extractor (a TorchScript file or a pickled
``nn.Module`` mapping (N, C, H, W) images in [-1, 1] to (N, D) features).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synthmed.dataset import PreparedDataset
from synthmed.errors import BadInputError
from synthmed.utils.atomic import torch_save
from synthmed.utils.hashing import sha256_json


@dataclass(frozen=True)
class DomainCNNConfig:
    width: int = 16
    dim: int = 64
    epochs: int = 20
    batch: int = 64
    lr: float = 2e-3
    seed: int = 0


class DomainCNN(nn.Module):
    """Four conv blocks, global average pooling, a ``dim``-d embedding and a linear class head."""

    def __init__(self, channels: int, num_classes: int, width: int = 16, dim: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for c_out in (width, 2 * width, 4 * width, 4 * width):
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c_in = c_out
        self.body = nn.Sequential(*layers[:-1], nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.embed = nn.Linear(c_in, dim)
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.2), nn.Linear(dim, num_classes))
        self.num_features = dim

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class FeatureModule(nn.Module):
    """Wraps a model so that ``forward`` returns its features (for torchmetrics' ``feature=``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.num_features = getattr(model, "num_features", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Only our CNN's ``features`` is the embedding; a user's module (a VGG has a ``features`` block too)
        # is called as is.
        return self.model.features(x) if isinstance(self.model, DomainCNN) else self.model(x)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts of up to 1/16 of the side (reflect padding)."""
    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    pad = max(1, x.shape[-1] // 16)
    padded = nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy, dx = (int(v) for v in torch.randint(0, 2 * pad + 1, (2,), generator=gen))
    return padded[:, :, dy:dy + x.shape[-2], dx:dx + x.shape[-1]]


def train_domain_cnn(images: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     cfg: DomainCNNConfig = DomainCNNConfig(), progress: bool = True) -> DomainCNN:
    """Train the CNN with class-weighted cross-entropy (the classes are often imbalanced)."""
    from tqdm import tqdm

    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = DomainCNN(images.shape[1], num_classes, cfg.width, cfg.dim)
    counts = torch.bincount(labels, minlength=num_classes).clamp(min=1).float()
    loss_fn = nn.CrossEntropyLoss(weight=counts.sum() / (num_classes * counts))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
    model.train()
    for _ in tqdm(range(cfg.epochs), desc="domain CNN", unit="epoch", disable=not progress):
        order = torch.randperm(images.shape[0], generator=gen)
        for start in range(0, len(order), cfg.batch):
            idx = order[start:start + cfg.batch]
            if len(idx) < 2:
                continue  # BatchNorm needs two samples
            loss = loss_fn(model(_augment(images[idx], gen)), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    return model.eval()


def domain_cnn_for(ds: PreparedDataset, cache_dir: Path | None, cfg: DomainCNNConfig = DomainCNNConfig(),
                   progress: bool = True) -> tuple[DomainCNN, str]:
    """The domain CNN for ``ds``'s train split: loaded from the cache or trained and cached.

    Returns the model and its identity (a hash of the training data and config) for feature caches.
    """
    split = "train" if ds.entries("train") else ds.split_names[0]
    key = sha256_json({"data": ds.split_hash(split), "cfg": asdict(cfg), "v": 1})[:32]
    path = cache_dir / "domain_cnn" / f"{key}.pt" if cache_dir is not None else None
    model = DomainCNN(ds.channels, ds.num_classes, cfg.width, cfg.dim)
    if path is not None and path.is_file():
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return model.eval(), f"domain-cnn-{key}"
        except (OSError, RuntimeError):
            pass  # corrupt or stale: retrain
    images, labels = ds.load_tensor(split)
    model = train_domain_cnn(images, labels, ds.num_classes, cfg, progress)
    if path is not None:
        torch_save(model.state_dict(), path)
    return model, f"domain-cnn-{key}"


def load_user_extractor(path: str | Path) -> tuple[nn.Module, str]:
    """A user's feature extractor: TorchScript, or a pickled ``nn.Module`` (trusted file)."""
    from synthmed.utils.hashing import sha256_file

    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "feature extractor file not found")
    try:
        model = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError):
        try:
            model = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # any unpickling failure means an unusable file
            raise BadInputError(path, f"cannot load a torch model ({exc})") from None
    if not isinstance(model, nn.Module):
        raise BadInputError(path, f"expected a saved nn.Module, got {type(model).__name__}")
    return model.eval(), f"user-{sha256_file(path)[:32]}"


@torch.no_grad()
def extract(model: nn.Module, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    """(N, D) float64 features of (N, C, H, W) images in [-1, 1] (the embedding for a ``DomainCNN``)."""
    module = FeatureModule(model).eval()
    out = [module(images[i:i + batch]).reshape(min(batch, images.shape[0] - i), -1) for i in
           range(0, images.shape[0], batch)]
    if not out:
        return np.zeros((0, getattr(model, "num_features", 0) or 0))
    return torch.cat(out).double().numpy()


@torch.no_grad()
def predict_proba(model: nn.Module, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    """(N, K) softmax probabilities from a classifier that returns logits."""
    model.eval()
    out = [torch.softmax(model(images[i:i + batch]), dim=1) for i in range(0, images.shape[0], batch)]
    return torch.cat(out).double().numpy()
