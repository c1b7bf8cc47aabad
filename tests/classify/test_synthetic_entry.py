"""How synthetic images enter training: their loss weight, label smoothing and the pretrain schedule."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from synthmed.classify import experiment
from synthmed.classify import train as train_module
from synthmed.classify.loss import make_loss, weighted_cross_entropy
from synthmed.classify.options import TrainConfig
from synthmed.classify.spec import parse_train_spec, resolve
from synthmed.classify.train import plan_phases, pretrain_epochs, train_classifier
from synthmed.errors import SynthmedError

# Two real images (labels 0, 1) then two synthetic ones (1, 0).
LOGITS = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 3.0]])
LABELS = torch.tensor([0, 1, 1, 0])
SYNTHETIC = torch.tensor([False, False, True, True])


def test_synthetic_weight_by_hand_and_against_torch() -> None:
    # Per-image cross-entropy -log softmax(z)_y, for two classes log(1 + exp(z_other - z_y)):
    losses = [math.log(1 + math.exp(-2)), math.log(1 + math.exp(-1)), math.log(2), math.log(1 + math.exp(3))]
    by_hand = (losses[0] + losses[1] + 0.5 * losses[2] + 0.5 * losses[3]) / (1 + 1 + 0.5 + 0.5)
    loss = make_loss(synthetic_weight=0.5)(LOGITS, LABELS, SYNTHETIC)
    assert loss.item() == pytest.approx(by_hand, rel=1e-6)
    # Weight 0.5 against weight 1 is each real image counted twice: torch's mean over the doubled batch.
    doubled = torch.tensor([0, 0, 1, 1, 2, 3])
    assert loss.item() == pytest.approx(F.cross_entropy(LOGITS[doubled], LABELS[doubled]).item(), rel=1e-6)
    # With class weights too: torch's class-weighted mean (divided by the summed weights) over the doubled batch.
    class_weight = torch.tensor([0.75, 1.5])
    both = make_loss(class_weight, synthetic_weight=0.5)(LOGITS, LABELS, SYNTHETIC)
    reference = F.cross_entropy(LOGITS[doubled], LABELS[doubled], weight=class_weight)
    assert both.item() == pytest.approx(reference.item(), rel=1e-6)


def test_defaults_are_torchs_own_loss() -> None:
    class_weight = torch.tensor([0.75, 1.5])
    for weight in (None, class_weight):
        reference = F.cross_entropy(LOGITS, LABELS, weight=weight)
        assert torch.equal(make_loss(weight)(LOGITS, LABELS, SYNTHETIC), reference)  # the very same call
        # The weighted form at weight 1 and no smoothing is the same number.
        assert weighted_cross_entropy(LOGITS, LABELS, SYNTHETIC, weight, 1.0, 0.0).item() == \
            pytest.approx(reference.item(), rel=1e-6)


def test_smoothing_touches_only_synthetic_targets() -> None:
    eps = 0.2
    logits = LOGITS.clone().requires_grad_(True)
    smoothed = weighted_cross_entropy(logits, LABELS, SYNTHETIC, None, 1.0, eps)
    real = F.cross_entropy(LOGITS[:2], LABELS[:2], reduction="none")
    synthetic = F.cross_entropy(LOGITS[2:], LABELS[2:], reduction="none", label_smoothing=eps)
    assert smoothed.item() == pytest.approx(torch.cat([real, synthetic]).mean().item(), rel=1e-6)
    # The real images' gradient is the one without smoothing; the synthetic images' is not.
    (grad,) = torch.autograd.grad(smoothed, logits)
    plain = LOGITS.clone().requires_grad_(True)
    (plain_grad,) = torch.autograd.grad(weighted_cross_entropy(plain, LABELS, SYNTHETIC, None, 1.0, 0.0), plain)
    assert torch.allclose(grad[:2], plain_grad[:2]) and not torch.allclose(grad[2:], plain_grad[2:])
    # A batch of synthetic images only: torch's label_smoothing.
    everything = weighted_cross_entropy(LOGITS, LABELS, torch.ones(4, dtype=torch.bool), None, 1.0, eps)
    assert everything.item() == pytest.approx(F.cross_entropy(LOGITS, LABELS, label_smoothing=eps).item(), rel=1e-6)


@pytest.fixture
def sets(toy_dataset):
    real = toy_dataset({"train": [24, 12], "val": [8, 4]}, resolution=16, name="real")
    syn = toy_dataset({"train": [30, 30]}, resolution=16, seed=3, name="syn")
    return real, syn


def _weights(model_dir) -> dict[str, torch.Tensor]:
    return torch.load(model_dir / "model.pt", weights_only=True)["state_dict"]


def _same(a, b) -> bool:
    sa, sb = _weights(a), _weights(b)
    return all(torch.equal(sa[k], sb[k]) for k in sa) and \
        (a / "val_predictions.csv").read_bytes() == (b / "val_predictions.csv").read_bytes()


def test_defaults_leave_training_unchanged_and_single_sources_ignore_the_options(sets, tmp_path) -> None:
    real, syn = sets
    opts = dict(arch="cnn", epochs=2, batch_size=16, seed=3, patience=0, progress=False)
    mixed = f"real={real.root},synthetic={syn.root},ratio=50"
    plain = train_classifier(mixed, str(real.root), tmp_path / "plain", **opts)
    given = train_classifier(mixed, str(real.root), tmp_path / "given", synthetic_weight=1.0, synthetic_smoothing=0.0,
                             synthetic_schedule="mixed", **opts)
    assert _same(plain, given)
    options = json.loads((given / "config.json").read_text())["options"]
    assert (options["synthetic_weight"], options["synthetic_smoothing"], options["synthetic_schedule"]) == \
        (1.0, 0.0, "mixed")
    weighted = train_classifier(mixed, str(real.root), tmp_path / "weighted", synthetic_weight=0.5, **opts)
    assert not _same(plain, weighted)  # the option does act on a mixed set
    changed = dict(synthetic_weight=0.5, synthetic_smoothing=0.1, synthetic_schedule="pretrain")
    only_syn = f"real={real.root},synthetic={syn.root},source=synthetic"
    for name, spec in (("real", f"real={real.root}"), ("syn", only_syn)):
        a = train_classifier(spec, str(real.root), tmp_path / f"{name}-a", **opts)
        b = train_classifier(spec, str(real.root), tmp_path / f"{name}-b", **opts, **changed)
        assert _same(a, b), name


def test_pretrain_epochs_split_by_the_parts_sizes() -> None:
    assert pretrain_epochs(30, 546, 546) == 15  # ratio 100
    assert pretrain_epochs(30, 546, 137) == 6  # ratio 25: 30 * 137 / 683 = 6.02
    assert pretrain_epochs(4, 36, 2) == 1 and pretrain_epochs(4, 2, 36) == 3  # each phase at least one epoch
    with pytest.raises(SynthmedError, match="at least 2 epochs"):
        pretrain_epochs(1, 10, 10)


def test_pretrain_schedule_sees_synthetic_then_real_in_the_mixed_runs_steps(sets, tmp_path, monkeypatch) -> None:
    real, syn = sets
    spec = f"real={real.root},synthetic={syn.root},ratio=50"  # 36 real + 18 synthetic: 54 images, 4 steps a pass
    opts = dict(arch="cnn", epochs=3, batch_size=16, seed=1, patience=0, progress=False)
    comp = resolve(parse_train_spec(spec), 1)
    cfg = TrainConfig(train=spec, val=str(real.root), synthetic_schedule="pretrain",
                      **{k: v for k, v in opts.items() if k != "progress"})
    pre, fine = plan_phases(cfg, comp, None)
    assert [(ds.root, i) for ds, _, i in pre.data.items] == [(syn.root, int(i)) for i in comp.synthetic_indices]
    assert [(ds.root, i) for ds, _, i in fine.data.items] == [(real.root, int(i)) for i in comp.real_indices]
    assert (pre.epochs, fine.epochs, pre.validate, fine.validate) == (1, 2, False, True)  # 3 * 18 / 54 = 1

    seen: list[torch.Tensor] = []  # the synthetic flags of every batch, step by step
    original = train_module._train_steps

    def spy(model, batches, n_steps, loss_fn, opt, device):
        def recorded():
            for batch in batches:
                seen.append(batch[2])
                yield batch
        return original(model, recorded(), n_steps, loss_fn, opt, device)

    monkeypatch.setattr(train_module, "_train_steps", spy)
    mixed = train_classifier(spec, str(real.root), tmp_path / "mixed", **opts)
    mixed_flags, seen[:] = list(seen), []
    pretrained = train_classifier(spec, str(real.root), tmp_path / "pre", synthetic_schedule="pretrain", **opts)
    config, mixed_config = (json.loads((d / "config.json").read_text()) for d in (pretrained, mixed))
    assert mixed_config["phase_steps"] == {"train": 12} and config["phase_steps"] == {"pretrain": 4, "finetune": 8}
    assert config["steps"] == mixed_config["steps"] == len(seen) == len(mixed_flags) == 12
    assert all(flags.all() for flags in seen[:4]) and not any(flags.any() for flags in seen[4:])
    assert any(flags.any() and not flags.all() for flags in mixed_flags)  # mixed batches hold both
    log = [json.loads(line) for line in (pretrained / "train_log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log] == ["pretrain", "finetune", "finetune"]
    assert "val_auc" not in log[0] and all("val_auc" in r for r in log[1:])  # validated only while fine-tuning
    assert config["best_epoch"] in (2, 3) and log[0]["best_epoch"] == 0


def test_pretrain_with_patience_stops_only_while_fine_tuning(sets, tmp_path) -> None:
    real, syn = sets
    spec = f"real={real.root},synthetic={syn.root},ratio=100"  # 36 + 36: 2 of 4 epochs pre-train
    out = train_classifier(spec, str(real.root), tmp_path / "m", arch="cnn", epochs=4, batch_size=16, seed=0,
                           patience=1, lr=1e-2, synthetic_schedule="pretrain", progress=False)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log[:3]] == ["pretrain", "pretrain", "finetune"]  # patience 1 did not stop epoch 2
    assert log[2]["best_epoch"] == 3


def test_grid_identity_includes_the_options(toy_dataset, tmp_path) -> None:
    real = toy_dataset({"train": [12, 8], "val": [4, 4], "test": [4, 4]}, resolution=8)
    opts = dict(sources=["real"], ratios=[0], seeds=[1], epochs=1, batch_size=8, progress=False, echo=lambda _: None)
    out = tmp_path / "exp"
    experiment.run_experiment(str(real.root), None, out, **opts)
    recorded = json.loads((out / "experiment.json").read_text())["config"]
    assert not any(k.startswith("synthetic_") for k in recorded)  # defaults: an older grid's record, unchanged
    # Defaults given explicitly: the same grid, resumed.
    rows = experiment.run_experiment(str(real.root), None, out, synthetic_weight=1.0, synthetic_smoothing=0.0,
                                     synthetic_schedule="mixed", **opts)
    assert len(rows) == 1
    with pytest.raises(SynthmedError, match=r"other options \(synthetic_weight\)"):
        experiment.run_experiment(str(real.root), None, out, synthetic_weight=0.5, **opts)
    rows = experiment.run_experiment(str(real.root), None, tmp_path / "weighted", synthetic_weight=0.5,
                                     synthetic_schedule="pretrain", **opts)
    recorded = json.loads((tmp_path / "weighted" / "experiment.json").read_text())["config"]
    assert (recorded["synthetic_weight"], recorded["synthetic_schedule"]) == (0.5, "pretrain")
    model = json.loads((tmp_path / "weighted" / rows[0]["model_dir"] / "config.json").read_text())
    assert model["options"]["synthetic_weight"] == 0.5


def test_weighted_loss_runs_with_class_weights_and_sampler(sets, tmp_path) -> None:
    real, syn = sets
    spec = f"real={real.root},synthetic={syn.root},ratio=50"
    for balance in ("weights", "sampler"):
        out = train_classifier(spec, str(real.root), tmp_path / balance, arch="cnn", epochs=1, batch_size=16,
                               balance=balance, synthetic_weight=0.5, synthetic_smoothing=0.1, progress=False)
        assert np.isfinite(json.loads((out / "train_log.jsonl").read_text())["train_loss"])


def test_a_phase_of_one_image_is_refused_not_waited_on(toy_dataset, tmp_path) -> None:
    real = toy_dataset({"train": [12, 8], "val": [4, 4]}, resolution=8, name="real")
    syn = toy_dataset({"train": [1, 0]}, resolution=8, seed=3, name="syn")
    spec = f"real={real.root},synthetic={syn.root},ratio=5"  # 5 % of 20: one synthetic image
    with pytest.raises(SynthmedError, match="set of 1 image"):
        train_classifier(spec, str(real.root), tmp_path / "m", arch="cnn", epochs=2, batch_size=8,
                         synthetic_schedule="pretrain", progress=False)
    assert not (tmp_path / "m").exists()
