"""Classifier networks: a small CNN, or any timm backbone, with a linear or batchnorm + LeakyReLU head.

Grayscale images go in through ``in_chans=1`` (timm sums the pretrained RGB filters of the first
convolution) or, with ``channel_mode="repeat"``, as three copies of the gray channel.

Tiny images (side <= 64): a ResNet from scratch gets a 3x3 stride-1 first convolution and no max-pool,
as for CIFAR-sized inputs; the ImageNet stem would shrink a 28 px image to 7 px before the first block.
A pretrained ResNet keeps its stem (its filters are 7x7), and any network that cannot take the images
at their size can be fed upsampled ones (``input_size``).

ImageNet weights come from, in order: a file given as ``pretrained=PATH``; the Hugging Face hub cache
(``HF_HUB_CACHE``, ``HF_HOME/hub``, ``~/.cache/huggingface/hub``); the torch hub cache
(``TORCH_HOME/hub/checkpoints``); a download when the hub is reachable. Without any of them a
``MissingWeightsError`` names the files looked for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from synthmed.errors import BadInputError, MissingWeightsError, SynthmedError
from synthmed.utils.device import pick_device  # noqa: F401 (the one device choice, used from here)
from synthmed.utils.network import host_resolves
from synthmed.utils.torchfile import load_weights

HEADS = ("linear", "bn-leakyrelu")
SMALL_STEM_MAX_SIDE = 64


class SmallCNN(nn.Module):
    """Three conv-BN-LeakyReLU-pool blocks (32, 64, 128 channels) and global pooling: fast on CPU."""

    def __init__(self, in_chans: int, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        chans = in_chans
        for out in (width, width * 2, width * 4):
            layers += [nn.Conv2d(chans, out, 3, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.LeakyReLU(0.01, inplace=True), nn.MaxPool2d(2)]
            chans = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features = chans

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class Classifier(nn.Module):
    """Backbone (image -> feature vector) and head (features -> class logits)."""

    def __init__(self, backbone: nn.Module, head: nn.Module, in_chans: int, input_size: int | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.in_chans = in_chans
        self.input_size = input_size

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's feature vector (the metrics' domain features come from here)."""
        if x.shape[1] == 1 and self.in_chans == 3:
            x = x.expand(-1, 3, -1, -1)
        if self.input_size and x.shape[-1] != self.input_size:
            x = nn.functional.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear",
                                          align_corners=False)
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def make_head(num_features: int, num_classes: int, head: str, hidden: int = 256) -> nn.Module:
    """``linear``, or ``bn-leakyrelu``: Linear-BatchNorm-LeakyReLU-Dropout-Linear (the head of Stebbins et al.
    2024; ReLU died)."""
    if head == "linear":
        return nn.Linear(num_features, num_classes)
    if head == "bn-leakyrelu":
        return nn.Sequential(nn.Linear(num_features, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.01),
                             nn.Dropout(0.3), nn.Linear(hidden, num_classes))
    raise SynthmedError(f"--head must be one of {', '.join(HEADS)}, got '{head}'")


def build_model(arch: str, in_chans: int, num_classes: int, pretrained: str = "none", head: str = "linear",
                resolution: int | None = None, input_size: int | None = None,
                channel_mode: str = "native", small_stem: bool | None = None) -> Classifier:
    """Build a classifier; ``pretrained`` is ``none``, ``imagenet`` or a weights file.

    ``small_stem``: None chooses (from scratch and images of 64 px or less); a saved model passes its choice.
    """
    if channel_mode not in ("native", "repeat"):
        raise SynthmedError(f"channel mode must be native or repeat, got '{channel_mode}'")
    net_chans = 3 if channel_mode == "repeat" else in_chans
    if arch == "cnn":
        backbone: nn.Module = SmallCNN(net_chans)
        if pretrained == "imagenet":
            raise SynthmedError("the small 'cnn' has no ImageNet weights; use a timm arch or --pretrained PATH")
        if pretrained not in ("none", ""):
            _load_backbone_file(backbone, Path(pretrained))
    else:
        backbone = _timm_backbone(arch, net_chans, pretrained)
        side = input_size or resolution
        if small_stem is None:
            small_stem = pretrained in ("none", "") and side is not None and side <= SMALL_STEM_MAX_SIDE
        if small_stem:
            _small_stem(backbone, net_chans)
    model = Classifier(backbone, make_head(int(backbone.num_features), num_classes, head), net_chans, input_size)
    if resolution is not None:
        _check_forward(model, arch, in_chans, resolution)
    return model


def _timm_backbone(arch: str, in_chans: int, pretrained: str) -> nn.Module:
    # lazy: timm (and torchvision's models) take seconds to import; the small 'cnn' (the pipeline's default and
    # the metrics' domain CNN) needs neither
    import timm

    if not timm.is_model(arch):
        raise SynthmedError(f"unknown architecture '{arch}' (use 'cnn' or a timm name, e.g. resnet18, resnet50)")
    kwargs: dict[str, Any] = {"in_chans": in_chans, "num_classes": 0}
    if pretrained in ("none", ""):
        return _from_scratch(timm, arch, kwargs)
    if pretrained == "imagenet":
        weights = find_imagenet_weights(arch)
        if weights is None:
            if not _hub_reachable():
                raise MissingWeightsError(_missing_message(arch))
            try:  # online: the usual timm download into the hub cache
                return timm.create_model(arch, pretrained=True, **kwargs)
            except Exception as exc:
                raise MissingWeightsError(f"{_missing_message(arch)}; download failed: {exc}") from None
    else:
        weights = Path(pretrained)
        if not weights.is_file():
            raise BadInputError(weights, "pretrained weights file not found")
    try:
        return timm.create_model(arch, pretrained=True, pretrained_cfg_overlay={"file": str(weights)}, **kwargs)
    except (RuntimeError, KeyError, ValueError, OSError) as exc:
        raise BadInputError(weights, f"cannot load as {arch} weights ({str(exc).splitlines()[0]})") from None


def _from_scratch(timm: Any, arch: str, kwargs: dict[str, Any]) -> nn.Module:
    """A timm model with random weights; residual blocks start as in torchvision (last batchnorm scale 1).

    timm zeroes the last batchnorm scale of every residual block (``zero_init_last``, Goyal et al. 2017,
    meant for large-batch ImageNet training). On BreastMNIST 28 a ResNet-18 trained from scratch reached
    test AUC 0.871 with it and 0.887 without it (seed 0, 30 epochs). Models without the option ignore it.
    """
    try:
        return timm.create_model(arch, pretrained=False, zero_init_last=False, **kwargs)
    except TypeError:  # an architecture without residual-block zero init
        return timm.create_model(arch, pretrained=False, **kwargs)


def imagenet_weight_candidates(arch: str) -> list[Path]:
    """Every local file where timm's ImageNet weights for ``arch`` may already be cached."""
    from timm.models import get_pretrained_cfg  # lazy: as in _timm_backbone

    cfg = get_pretrained_cfg(arch)
    if cfg is None:
        return []
    paths: list[Path] = []
    if cfg.hf_hub_id:
        repo = "models--" + cfg.hf_hub_id.replace("/", "--")
        for hub in _hf_caches():
            for snapshot in sorted((hub / repo / "snapshots").glob("*")):
                paths += [snapshot / "model.safetensors", snapshot / "pytorch_model.bin"]
            if not (hub / repo).exists():
                paths.append(hub / repo / "snapshots" / "<rev>" / "model.safetensors")
    if cfg.url:
        torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
        paths.append(torch_home / "hub" / "checkpoints" / cfg.url.rsplit("/", 1)[-1])
    return paths


def find_imagenet_weights(arch: str) -> Path | None:
    return next((p for p in imagenet_weight_candidates(arch) if p.is_file()), None)


def _hf_caches() -> list[Path]:
    dirs = [os.environ.get("HF_HUB_CACHE"), os.environ.get("HUGGINGFACE_HUB_CACHE")]
    if os.environ.get("HF_HOME"):
        dirs.append(str(Path(os.environ["HF_HOME"]) / "hub"))
    dirs.append(str(Path.home() / ".cache" / "huggingface" / "hub"))
    return list(dict.fromkeys(Path(d) for d in dirs if d))


def _missing_message(arch: str) -> str:
    looked = imagenet_weight_candidates(arch)
    where = " or ".join(str(p) for p in looked[:3]) or "no known source"
    return f"ImageNet weights for {arch} not found offline (expected {where}); pass --pretrained PATH or none"


def _hub_reachable() -> bool:
    """Try a download only when the hub resolves: offline, timm's retries take ~50 s before failing."""
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "True") or os.environ.get("SYNTHMED_OFFLINE"):
        return False
    return host_resolves("huggingface.co")


def _small_stem(backbone: nn.Module, in_chans: int) -> None:
    """3x3 stride-1 first convolution and no max-pool, for ResNets on images of 64 px or less."""
    conv = getattr(backbone, "conv1", None)
    if isinstance(conv, nn.Conv2d) and hasattr(backbone, "maxpool"):
        backbone.conv1 = nn.Conv2d(in_chans, conv.out_channels, 3, stride=1, padding=1, bias=False)
        backbone.maxpool = nn.Identity()


def _load_backbone_file(backbone: nn.Module, path: Path) -> None:
    state = load_weights(path, "pretrained weights file")
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise BadInputError(path, f"not a usable pretrained weights file: holds a {type(state).__name__}, "
                                  f"not a state dict")
    prefix = "backbone."
    own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)} or state
    try:
        backbone.load_state_dict(own, strict=True)
    except RuntimeError as exc:
        raise BadInputError(path, f"weights do not fit this backbone ({str(exc).splitlines()[0]})") from None


def _check_forward(model: Classifier, arch: str, in_chans: int, resolution: int) -> None:
    """Fail early, in one line, when a network cannot take images this small."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(2, in_chans, resolution, resolution))
    except RuntimeError as exc:
        raise SynthmedError(f"{arch} cannot take {resolution}px images ({str(exc).splitlines()[0][:120]}); "
                            f"use --input-size 128 or larger") from None
    finally:
        model.train(was_training)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


MODEL_FILE = "model.pt"


def load_model(model_dir: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a trained classifier (eval mode) and its metadata (classes, positive class, threshold...)."""
    path = Path(model_dir)
    path = path / MODEL_FILE if path.is_dir() else path
    if not path.is_file():
        raise BadInputError(path, f"no {MODEL_FILE} (not a model folder made by 'synthmed train-classifier')")
    ckpt = load_weights(path, "classifier checkpoint")
    if not isinstance(ckpt, dict) or "meta" not in ckpt or "state_dict" not in ckpt:
        raise BadInputError(path, "not a classifier checkpoint made by 'synthmed train-classifier'")
    meta = ckpt["meta"]
    model = build_model(meta["arch"], meta["in_chans"], meta["num_classes"], "none", meta["head"],
                        resolution=None, input_size=meta.get("input_size"),
                        channel_mode=meta.get("channel_mode", "native"), small_stem=meta.get("small_stem"))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), meta
