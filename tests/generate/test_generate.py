"""generate: exact per-class counts, a valid prepared dataset, provenance, reproducibility, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthmed.cli import main
from synthmed.dataset import PreparedDataset
from synthmed.errors import SynthmedError
from synthmed.gan.checkpoint import load_checkpoint
from synthmed.generate.generate import class_targets, generate_dataset

CLASSES = ["class0", "class1", "class2"]
REAL = {"class0": 12, "class1": 5, "class2": 3}


def test_class_targets_hand_computed() -> None:
    assert class_targets(CLASSES, REAL, per_class=4) == [4, 4, 4]
    assert class_targets(CLASSES, REAL, balance_to=10) == [0, 5, 7]
    # 10 in proportions 12:5:3 = 6, 2.5, 1.5 -> floors 6, 2, 1 (9); the largest remainder (class1, then
    # class2 tie broken by order) takes the last one -> 6, 3, 1.
    assert class_targets(CLASSES, REAL, total=10) == [6, 3, 1]
    assert sum(class_targets(CLASSES, REAL, total=997)) == 997
    with pytest.raises(SynthmedError, match="exactly one"):
        class_targets(CLASSES, REAL, per_class=1, total=3)
    with pytest.raises(SynthmedError, match="exactly one"):
        class_targets(CLASSES, REAL)


@pytest.mark.parametrize(("kwargs", "expected"), [({"per_class": 7}, [7, 7, 7]),
                                                  ({"balance_to": 9}, [0, 4, 6]),
                                                  ({"total": 10}, [6, 3, 1])])
def test_exact_counts_and_a_valid_prepared_dataset(run28, tmp_path, kwargs, expected) -> None:
    out = tmp_path / "synth"
    meta = generate_dataset(run28, out, seed=3, batch=4, trunc=0.8, progress=False, **kwargs)
    ds = PreparedDataset.open(out)
    assert ds.split_names == ["train"]
    assert ds.classes == CLASSES
    assert [ds.class_counts("train")[c] for c in CLASSES] == expected
    assert meta["counts"]["train"] == ds.class_counts("train")
    # resolution of the real data (28), not the model's (32): real and synthetic sets mix directly
    assert (ds.resolution, ds.channels, ds.bit_depth) == (28, 1, 8)
    images = ds.load_images("train")
    assert images.shape == (sum(expected), 28, 28, 1) and images.dtype == np.uint8
    x, y = ds.load_tensor("train")
    assert x.min() >= -1 and x.max() <= 1 and y.tolist() == ds.labels("train").tolist()
    entry = ds.entries("train")[0]
    for key in ("checkpoint_sha256", "seed", "image_seed", "truncation", "class_name"):
        assert key in entry
    assert entry["truncation"] == 0.8 and entry["seed"] == 3
    assert CLASSES[entry["label"]] == entry["class_name"]
    assert ds.meta["source"]["checkpoint_sha256"] == entry["checkpoint_sha256"]
    assert len({e["image_seed"] for e in ds.entries("train")}) == sum(expected)


def test_same_seed_same_images_other_seed_other_images(run28, tmp_path) -> None:
    a = generate_dataset(run28, tmp_path / "a", per_class=3, seed=1, progress=False)
    b = generate_dataset(run28, tmp_path / "b", per_class=3, seed=1, batch=2, progress=False)
    c = generate_dataset(run28, tmp_path / "c", per_class=3, seed=2, progress=False)
    assert a["content_hash"] == b["content_hash"]  # batch size does not change any image
    assert a["content_hash"] != c["content_hash"]


def test_streams_in_batches(run28, tmp_path, monkeypatch) -> None:
    from synthmed.generate import generate as generate_module

    sizes: list[int] = []
    real_loader = generate_module.load_generator

    def spying_loader(path, device="cpu"):
        G, meta = real_loader(path, device)
        G.register_forward_hook(lambda mod, args, out: sizes.append(out.shape[0]))
        return G, meta

    monkeypatch.setattr(generate_module, "load_generator", spying_loader)
    generate_dataset(run28, tmp_path / "s", total=23, batch=5, progress=False)
    assert sizes == [5, 5, 5, 5, 3]


def test_unconditional_model_cannot_make_classes(uncond_run, tmp_path) -> None:
    with pytest.raises(SynthmedError, match="unconditional"):
        generate_dataset(uncond_run, tmp_path / "u", per_class=2, progress=False)
    assert not (tmp_path / "u").exists()


def test_cli(run28, tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--checkpoint", str(run28), "--balance-to", "8", "--seed", "5", "--resolution", "32",
              "--out", str(out), "--no-progress"])
    assert exc.value.code in (0, None)
    ds = PreparedDataset.open(out)
    assert ds.resolution == 32 and ds.class_counts("train") == {"class0": 0, "class1": 3, "class2": 5}
    assert "class2" in capsys.readouterr().out
    # existing output is not overwritten; a missing checkpoint is one line
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--checkpoint", str(tmp_path / "nope"), "--per-class", "1", "--out", str(out)])
    assert exc.value.code == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        main(["generate", "--checkpoint", str(run28), "--per-class", "1", "--out", str(out)])
    assert exc.value.code == 1 and "exists" in capsys.readouterr().err
    assert PreparedDataset.open(out).class_counts("train")["class2"] == 5


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"trunc": 0.0}, "--trunc must be in (0, 2]"), ({"trunc": 3.0}, "--trunc must be in (0, 2]"),
    ({"resolution": 0}, "--resolution must be between 8 and 4096, got 0"),
    ({"resolution": 100_000}, "--resolution must be between 8 and 4096"), ({"batch": 0}, "--batch must be at least 1"),
])
def test_numeric_options_are_checked_before_anything_loads(tmp_path, kwargs, message) -> None:
    with pytest.raises(SynthmedError) as info:
        generate_dataset(tmp_path / "no-such-run", tmp_path / "out", per_class=2, **kwargs)
    assert message in str(info.value) and not (tmp_path / "out").exists()


def _one_line_failure(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 1 and len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(("extra", "message"), [
    (["--per-class", "0"], "--per-class: Input should be greater than or equal to 1"),
    (["--total", "0"], "--total: Input should be greater than or equal to 1"),
    (["--per-class", "2", "--resolution", "33"], "--resolution 33: above the model's 32 px"),
])
def test_cli_refuses_empty_or_upsampled_sets(run28, tmp_path, capsys, extra, message) -> None:
    err = _one_line_failure(["generate", "--checkpoint", str(run28), "--out", str(tmp_path / "o"), "--no-progress",
                             *extra], capsys)
    assert message in err and not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1", "gpu"])
def test_cli_device_without_cuda_is_one_line(run28, tmp_path, capsys, device) -> None:
    err = _one_line_failure(["generate", "--checkpoint", str(run28), "--per-class", "1", "--device", device,
                             "--out", str(tmp_path / "o")], capsys)
    assert f"--device {device}:" in err and not (tmp_path / "o").exists()


def test_checkpoint_whose_weights_do_not_match_its_record(run28, tmp_path, capsys) -> None:
    """A checkpoint whose meta says one width and whose weights are another: one line naming the file."""
    ck, _ = load_checkpoint(run28)
    for change in ({"net_kwargs": {**ck["meta"]["net_kwargs"], "width": 16}}, {"resolution": 64}):
        bad = tmp_path / f"bad-{len(list(tmp_path.iterdir()))}.pt"
        torch.save({**ck, "meta": {**ck["meta"], **change}}, bad)
        err = _one_line_failure(["generate", "--checkpoint", str(bad), "--per-class", "1",
                                 "--out", str(tmp_path / "o")], capsys)
        assert str(bad) in err and "the weights do not match the network it records" in err
        assert not (tmp_path / "o").exists()
