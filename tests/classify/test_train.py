"""Training, model building, pretrained weights, evaluation and the CLI verbs, on tiny toy data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from synthmed.classify import commands
from synthmed.classify.data import augmentation, class_weights
from synthmed.classify.evaluate import evaluate_model
from synthmed.classify.models import build_model, load_model
from synthmed.classify.options import parse_seeds
from synthmed.classify.results import read_predictions
from synthmed.classify.train import train_classifier
from synthmed.errors import BadInputError, MissingWeightsError


@pytest.fixture
def toy(toy_dataset):
    return toy_dataset({"train": [24, 12], "val": [8, 4], "test": [8, 6]}, resolution=16)


def test_training_is_reproducible_and_writes_the_model_folder(toy, tmp_path) -> None:
    opts = dict(arch="cnn", epochs=2, batch_size=16, seed=5, progress=False)
    a = train_classifier(str(toy.root), str(toy.root), tmp_path / "a", **opts)
    b = train_classifier(str(toy.root), str(toy.root), tmp_path / "b", **opts)
    assert {p.name for p in a.iterdir()} == {"model.pt", "config.json", "train_log.jsonl", "val_predictions.csv"}
    sa, sb = (torch.load(m / "model.pt", weights_only=True)["state_dict"] for m in (a, b))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    log = [json.loads(line) for line in (a / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2] and all(0 <= r["val_auc"] <= 1 for r in log)
    config = json.loads((a / "config.json").read_text())
    assert config["seed"] == 5 and config["training_set"]["counts"]["real"] == [24, 12]
    # Positive class: the minority class of the real training split (class1 here).
    assert config["model"]["positive_class"] == 1 and 0 <= config["model"]["threshold"] <= 1


def test_epoch_steps_budget_counts_steps_and_matches_the_pass_loop(toy, tmp_path) -> None:
    from synthmed.classify.train import batches_per_pass

    # 36 images, batch 16: 2 full batches + 4 images -> 3 steps a pass; 33 images: the last batch of 1 is dropped.
    assert (batches_per_pass(36, 16), batches_per_pass(33, 16), batches_per_pass(32, 16)) == (3, 2, 2)
    opts = dict(arch="cnn", epochs=2, batch_size=16, seed=1, progress=False)
    passes = train_classifier(str(toy.root), str(toy.root), tmp_path / "passes", **opts)
    steps = train_classifier(str(toy.root), str(toy.root), tmp_path / "steps", epoch_steps=3, **opts)
    # One "epoch" of 3 steps is one pass over these 36 images: the same weights, batch for batch.
    sa, sb = (torch.load(m / "model.pt", weights_only=True)["state_dict"] for m in (passes, steps))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    longer = train_classifier(str(toy.root), str(toy.root), tmp_path / "longer", epoch_steps=5, patience=0, **opts)
    log = [json.loads(line) for line in (longer / "train_log.jsonl").read_text().splitlines()]
    assert [r["steps"] for r in log] == [5, 10] and json.loads((longer / "config.json").read_text())["steps"] == 10
    assert json.loads((passes / "config.json").read_text())["steps"] == 6


def test_evaluate_writes_metrics_and_predictions(toy, tmp_path) -> None:
    model_dir = train_classifier(str(toy.root), str(toy.root), tmp_path / "m", arch="cnn", epochs=3,
                                 batch_size=12, seed=0, progress=False)
    result = evaluate_model(model_dir, str(toy.root), tmp_path / "eval" / "evaluation.json")
    saved = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    for key in ("auc", "accuracy", "sensitivity", "specificity", "f1", "threshold", "positive_class"):
        assert saved[key] == result[key]
    preds = read_predictions(tmp_path / "eval" / saved["predictions"])
    assert preds.label.tolist() == toy.labels("test").tolist() and preds.scores.shape == (14, 2)
    model, meta = load_model(model_dir)
    assert meta["classes"] == toy.classes
    x, _ = toy.load_tensor("test")
    with torch.no_grad():
        again = torch.softmax(model(x), 1).numpy()
    assert np.allclose(again, preds.scores, atol=1e-6)
    # The toy classes are a disk and a square: three epochs separate them.
    assert result["auc"] > 0.8


def test_balanced_sampler_and_traditional_augmentation_train(toy, tmp_path) -> None:
    out = train_classifier(f"real={toy.root},fraction=0.5", str(toy.root), tmp_path / "m", arch="cnn",
                           epochs=1, batch_size=8, balance="sampler", augment="traditional",
                           head="bn-leakyrelu", progress=False)
    assert json.loads((out / "config.json").read_text())["training_set"]["n_real"] == 18


def test_augmentation_is_seeded_and_stays_in_range() -> None:
    x = torch.linspace(-1, 1, 16 * 16).reshape(1, 16, 16)
    a, b = augmentation("traditional", 3), augmentation("traditional", 3)
    outs_a, outs_b = [a(x) for _ in range(5)], [b(x) for _ in range(5)]
    assert all(torch.equal(u, v) for u, v in zip(outs_a, outs_b, strict=True))
    assert any(not torch.equal(u, x) for u in outs_a)
    assert all(u.min() >= -1 and u.max() <= 1 and u.shape == x.shape for u in outs_a)
    assert augmentation("none", 0) is None


def test_trivialaugment_is_seeded_keeps_range_and_leaves_global_rng_alone() -> None:
    x = torch.linspace(-1, 1, 3 * 16 * 16).reshape(3, 16, 16)
    gray = x[:1]
    a, b = augmentation("trivialaugment", 3), augmentation("trivialaugment", 3)
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    outs_a, outs_b = [a(x) for _ in range(8)], [b(x) for _ in range(8)]
    assert torch.equal(torch.rand(1), before)  # its draws come from its own seed, not torch's global generator
    assert all(torch.equal(u, v) for u, v in zip(outs_a, outs_b, strict=True))
    assert sum(not torch.allclose(u, x, atol=1 / 127.5) for u in outs_a) >= 2
    assert all(u.min() >= -1 and u.max() <= 1 and u.shape == x.shape and u.dtype == torch.float32 for u in outs_a)
    assert all(augmentation("trivialaugment", 1)(gray).shape == gray.shape for _ in range(8))  # one channel too


def test_class_weights_balanced() -> None:
    # n / (K * n_k): 4 / (2 * 3) and 4 / (2 * 1); a class absent from training keeps 1.
    assert class_weights(np.array([0, 0, 0, 1]), 3).tolist() == pytest.approx([2 / 3, 2.0, 1.0])


def test_resnet_small_stem_for_tiny_images() -> None:
    small = build_model("resnet18", 1, 2, resolution=28)
    assert small.backbone.conv1.kernel_size == (3, 3) and isinstance(small.backbone.maxpool, torch.nn.Identity)
    large = build_model("resnet18", 1, 2, resolution=128)
    assert large.backbone.conv1.kernel_size == (7, 7)
    assert build_model("resnet18", 1, 3, resolution=28, head="bn-leakyrelu")(torch.zeros(2, 1, 28, 28)).shape == (2, 3)


def test_channel_repeat_and_input_size() -> None:
    model = build_model("cnn", 1, 2, channel_mode="repeat", input_size=32, resolution=16)
    assert model.backbone.features[0].in_channels == 3
    assert model(torch.zeros(2, 1, 16, 16)).shape == (2, 2)


def test_imagenet_weights_missing_offline_names_the_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match=r"resnet18.*not found offline.*hf/hub/models--timm--resnet18"):
        build_model("resnet18", 1, 2, pretrained="imagenet")


def test_imagenet_weights_found_in_the_hub_cache(tmp_path, monkeypatch) -> None:
    import timm
    from safetensors.torch import save_file

    rgb = timm.create_model("resnet18", pretrained=False, num_classes=1000)
    snapshot = tmp_path / "hf" / "hub" / "models--timm--resnet18.a1_in1k" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in rgb.state_dict().items()}, snapshot / "model.safetensors")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = build_model("resnet18", 3, 2, pretrained="imagenet", resolution=32)
    assert torch.equal(model.backbone.layer4[1].conv2.weight, rgb.layer4[1].conv2.weight)
    assert model.backbone.conv1.kernel_size == (7, 7)  # pretrained: the ImageNet stem is kept


def test_pretrained_from_a_file_adapts_to_one_channel(tmp_path) -> None:
    import timm

    rgb = timm.create_model("resnet18", pretrained=False, num_classes=1000)
    path = tmp_path / "resnet18.pth"
    torch.save(rgb.state_dict(), path)
    model = build_model("resnet18", 1, 2, pretrained=str(path), resolution=64)
    # timm sums the RGB filters of the first convolution for in_chans=1; the stem is kept (7x7).
    assert torch.allclose(model.backbone.conv1.weight, rgb.conv1.weight.sum(1, keepdim=True), atol=1e-6)
    with pytest.raises(BadInputError, match="not found"):
        build_model("resnet18", 1, 2, pretrained=str(tmp_path / "absent.pth"))


def test_cli_train_and_evaluate(toy, tmp_path) -> None:
    app = typer.Typer()
    commands.register(app)
    runner = CliRunner()
    res = runner.invoke(app, ["train-classifier", "--train", f"real={toy.root}", "--val", f"{toy.root}:val",
                              "--arch", "cnn", "--epochs", "1", "--batch-size", "16", "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert "best epoch 1" in res.output
    res = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "m"), "--test", str(toy.root),
                              "--out", str(tmp_path / "e.json")])
    assert res.exit_code == 0, res.output
    assert set(json.loads((tmp_path / "e.json").read_text())) >= {"auc", "accuracy", "sensitivity", "specificity",
                                                                  "f1", "threshold", "confusion_matrix", "roc"}


def test_parse_seeds() -> None:
    assert parse_seeds("1..3,7") == [1, 2, 3, 7]
    assert parse_seeds(["2", "1..2", 5]) == [2, 1, 5]  # a comma option's words, or YAML's list


@pytest.mark.parametrize(("patience", "epochs_run"), [(0, 4), (None, 4), (1, None)])
def test_patience_zero_or_none_never_stops_early(toy, tmp_path, patience, epochs_run) -> None:
    out = train_classifier(str(toy.root), str(toy.root), tmp_path / "m", arch="cnn", epochs=4, batch_size=16,
                           patience=patience, seed=0, lr=1e-2, progress=False)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    if epochs_run is not None:
        assert len(log) == epochs_run
    else:  # patience 1 stops one epoch after the last improvement
        last = log[-1]
        assert len(log) == 4 or last["epoch"] - last["best_epoch"] == 1


def test_negative_patience_is_refused(toy, tmp_path) -> None:
    from synthmed.errors import SynthmedError

    with pytest.raises(SynthmedError, match="patience"):
        train_classifier(str(toy.root), str(toy.root), tmp_path / "m", arch="cnn", epochs=1, patience=-1,
                         progress=False)


def test_resnet_from_scratch_starts_residual_blocks_like_torchvision() -> None:
    model = build_model("resnet18", 1, 2, resolution=28)
    blocks = [b for layer in (model.backbone.layer1, model.backbone.layer4) for b in layer]
    assert all(torch.equal(b.bn2.weight.detach(), torch.ones_like(b.bn2.weight)) for b in blocks)


def test_architecture_without_zero_init_option_still_builds() -> None:
    import timm

    from synthmed.classify.models import _from_scratch

    net = _from_scratch(timm, "vit_tiny_patch16_224", {"in_chans": 1, "num_classes": 0, "img_size": 32,
                                                       "patch_size": 8})
    assert net(torch.zeros(1, 1, 32, 32)).shape[-1] == net.num_features


def test_cosine_schedule_anneals_the_learning_rate_per_epoch(toy, tmp_path) -> None:
    out = train_classifier(str(toy.root), str(toy.root), tmp_path / "m", arch="cnn", epochs=4, batch_size=16,
                           lr=1e-2, lr_schedule="cosine", patience=0, seed=0, progress=False)
    lrs = [json.loads(line)["lr"] for line in (out / "train_log.jsonl").read_text().splitlines()]
    # CosineAnnealingLR over 4 epochs: lr * (1 + cos(pi * e / 4)) / 2 for e = 0..3.
    assert lrs == pytest.approx([1e-2 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(4)])
    constant = train_classifier(str(toy.root), str(toy.root), tmp_path / "c", arch="cnn", epochs=2, batch_size=16,
                                lr=1e-2, lr_schedule="constant", seed=0, progress=False)
    assert [json.loads(line)["lr"] for line in (constant / "train_log.jsonl").read_text().splitlines()] == [1e-2] * 2


def test_unknown_lr_schedule_is_refused(toy, tmp_path) -> None:
    from synthmed.errors import SynthmedError

    with pytest.raises(SynthmedError, match="lr-schedule"):
        train_classifier(str(toy.root), str(toy.root), tmp_path / "m", arch="cnn", epochs=1, lr_schedule="step",
                         progress=False)
    assert not (tmp_path / "m").exists()
