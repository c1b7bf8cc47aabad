"""train-gan from the command line: dry run, one-line errors on bad input, nothing overwritten."""

from __future__ import annotations

import json

import pytest
import torch

from synthmed.cli import main
from synthmed.utils.hashing import sha256_file

TINY = ["--width", "8", "--z-dim", "16", "--batch", "8", "--kimg", "0.032", "--tick-kimg", "0.016",
        "--snapshot-kimg", "1", "--no-progress"]


def _ok(argv: list[str]) -> None:
    """Run the CLI; standalone click exits with status 0 on success."""
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code


def _fails_with_one_line(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_dry_run_prints_options_and_creates_nothing(toy32, tmp_path, capsys) -> None:
    runs = tmp_path / "runs"
    _ok(["train-gan", "--data", str(toy32.root), "--arch", "stylegan2", "--out", str(runs), "--dry-run",
          "--aug", "ada"])
    plan = json.loads(capsys.readouterr().out)
    assert plan["run_dir"] == str(runs / "00000-stylegan2-toy32")
    assert plan["options"]["resolution"] == 32 and plan["options"]["z_dim"] == 512 and plan["options"]["kimg"] == 10
    assert plan["train_counts"] == {"class0": 12, "class1": 8}
    assert not runs.exists()


def test_cli_trains_and_resumes(toy32, tmp_path, capsys) -> None:
    runs = tmp_path / "runs"
    _ok(["train-gan", "--data", str(toy32.root), "--arch", "dcgan", "--out", str(runs), *TINY])
    run = runs / "00000-dcgan-toy32"
    assert capsys.readouterr().out.strip().endswith(str(run))
    _ok(["train-gan", "--resume", str(run), "--kimg", "0.064", "--no-progress"])
    stats = [json.loads(ln) for ln in (run / "stats.jsonl").read_text().splitlines()]
    assert [s["kimg"] for s in stats] == [0.016, 0.032, 0.048, 0.064]
    assert json.loads((run / "options.json").read_text())["resumed_at_kimg"] == 0.032


def test_unprepared_folder(tmp_path, capsys) -> None:
    (tmp_path / "raw").mkdir()
    err = _fails_with_one_line(["train-gan", "--data", str(tmp_path / "raw"), "--arch", "dcgan",
                                "--out", str(tmp_path / "runs"), *TINY], capsys)
    assert "dataset.json" in err and str(tmp_path / "raw") in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("arch", "resolution"), [("dcgan", "48"), ("stylegan2", "512")])
def test_resolution_the_arch_cannot_make(toy32, tmp_path, capsys, arch, resolution) -> None:
    err = _fails_with_one_line(["train-gan", "--data", str(toy32.root), "--arch", arch, "--resolution", resolution,
                                "--out", str(tmp_path / "runs"), *TINY], capsys)
    assert resolution in err
    assert not (tmp_path / "runs").exists()


def test_resume_class_mismatch_and_corrupted_checkpoint(toy32, toy_dataset, tmp_path, capsys) -> None:
    runs = tmp_path / "runs"
    _ok(["train-gan", "--data", str(toy32.root), "--arch", "dcgan", "--out", str(runs), *TINY])
    run = runs / "00000-dcgan-toy32"
    last = run / "checkpoints" / "last.pt"
    before = sha256_file(last)
    three = toy_dataset(counts={"train": [4, 4, 4]}, name="three")
    err = _fails_with_one_line(["train-gan", "--resume", str(run), "--data", str(three.root), "--kimg", "0.064"],
                               capsys)
    assert "class count mismatch" in err and "2 classes" in err
    assert sha256_file(last) == before
    last.write_bytes(b"not a checkpoint" * 10)
    err = _fails_with_one_line(["train-gan", "--resume", str(run), "--kimg", "0.064"], capsys)
    assert str(last) in err and "corrupted" in err
    assert last.read_bytes() == b"not a checkpoint" * 10
    stats_before = (run / "stats.jsonl").read_text()
    err = _fails_with_one_line(["train-gan", "--resume", str(run), "--arch", "wgan-gp"], capsys)
    assert (run / "stats.jsonl").read_text() == stats_before


def test_resume_keeps_the_fidelity_metric_of_the_run(toy32, tmp_path, monkeypatch) -> None:
    # --metric-every-kimg given only to the first command: the resumed run must still measure and keep best.pt
    import synthmed.gan.commands as commands

    values = iter([3.0, 1.0, 2.0, 5.0])
    monkeypatch.setattr(commands, "_default_metric_fn", lambda cfg: lambda G, meta: {"fid_domain": next(values)})
    runs = tmp_path / "runs"
    _ok(["train-gan", "--data", str(toy32.root), "--arch", "dcgan", "--out", str(runs), *TINY,
         "--metric-every-kimg", "0.016"])
    run = runs / "00000-dcgan-toy32"
    _ok(["train-gan", "--resume", str(run), "--kimg", "0.064", "--no-progress"])
    stats = [json.loads(ln) for ln in (run / "stats.jsonl").read_text().splitlines()]
    assert [s.get("fid_domain") for s in stats] == [3.0, 1.0, 2.0, 5.0]
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    assert best["nimg"] == 32 and best["best"]["value"] == 1.0


@pytest.mark.parametrize(("arch", "norm"), [("dcgan", "instance"), ("wgan-gp", "batch")])
def test_critic_norm_option_is_checked(toy32, tmp_path, capsys, arch, norm) -> None:
    err = _fails_with_one_line(["train-gan", "--data", str(toy32.root), "--arch", arch, "--critic-norm", norm,
                                "--out", str(tmp_path / "runs"), "--dry-run"], capsys)
    assert "--critic-norm" in err and (arch in err or "'instance', 'layer' or 'none'" in err)


@pytest.mark.parametrize(("arch", "upsample"), [("stylegan2", "resize"), ("wgan-gp", "bilinear")])
def test_upsample_option_is_checked(toy32, tmp_path, capsys, arch, upsample) -> None:
    err = _fails_with_one_line(["train-gan", "--data", str(toy32.root), "--arch", arch, "--upsample", upsample,
                                "--out", str(tmp_path / "runs"), "--dry-run"], capsys)
    assert "--upsample" in err and (arch in err or "'transposed' or 'resize'" in err)


@pytest.mark.parametrize(("arch", "aug", "given", "resolved"),
                         [("wgan-gp", "ada", None, 0.001), ("wgan-gp", "diffaug", None, 0.0),
                          ("wgan-gp", "diffaug", "0.01", 0.01), ("dcgan", "ada", None, None)])
def test_drift_default_follows_ada(toy32, tmp_path, capsys, arch, aug, given, resolved) -> None:
    # ADA reads the sign of the critic's scores on reals; a Wasserstein critic needs the drift term for that
    argv = ["train-gan", "--data", str(toy32.root), "--arch", arch, "--aug", aug, "--out", str(tmp_path), "--dry-run"]
    _ok(argv + (["--drift", given] if given else []))
    assert json.loads(capsys.readouterr().out)["options"]["family"].get("drift") == resolved


def test_drift_is_refused_where_it_has_no_meaning(toy32, tmp_path, capsys) -> None:
    err = _fails_with_one_line(["train-gan", "--data", str(toy32.root), "--arch", "dcgan", "--drift", "0.001",
                                "--out", str(tmp_path), "--dry-run"], capsys)
    assert "--drift" in err and "dcgan" in err


@pytest.mark.parametrize(("arch", "given", "resolved"),
                         [("dcgan", None, [0.5, 0.999]), ("wgan-gp", None, [0.0, 0.9]),
                          ("stylegan2", None, [0.0, 0.99]), ("wgan-gp", "0.5,0.9", [0.5, 0.9])])
def test_adam_betas_default_to_the_papers(toy32, tmp_path, capsys, arch, given, resolved) -> None:
    argv = ["train-gan", "--data", str(toy32.root), "--arch", arch, "--out", str(tmp_path), "--dry-run"]
    _ok(argv + (["--betas", given] if given else []))
    assert json.loads(capsys.readouterr().out)["options"]["betas"] == resolved


@pytest.mark.parametrize("betas", ["0.5", "0.5,x", "0.5,1.0", "-0.1,0.9"])
def test_bad_betas_fail_in_one_line(toy32, tmp_path, capsys, betas) -> None:
    err = _fails_with_one_line(["train-gan", "--data", str(toy32.root), "--arch", "wgan-gp", "--betas", betas,
                                "--out", str(tmp_path), "--dry-run"], capsys)
    assert "--betas" in err


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--width", "0", "--width: must be auto or a whole number >= 1, got '0'"),
    ("--batch", "1", "--batch: must be auto or a whole number >= 2, got '1'"),
    ("--arch", "dcgn", "--arch: Input should be 'dcgan', 'wgan-gp', 'stylegan2'"),
    ("--aug", "adaa", "--aug: Input should be 'none', 'diffaug' or 'ada'"),
    ("--r1-interval", "4", "--r1-interval is an option of stylegan2; --arch dcgan has no such option"),
    ("--n-critic", "2", "--n-critic is an option of wgan-gp, bagan-gp; --arch dcgan has no such option"),
    ("--kimg", "-1", "--kimg: Input should be greater than 0"),
])
def test_bad_option_values_fail_before_anything_is_made(toy32, tmp_path, capsys, option, value, message) -> None:
    argv = ["train-gan", "--data", str(toy32.root), "--arch", "dcgan", "--out", str(tmp_path / "runs"), option, value]
    err = _fails_with_one_line(argv, capsys)
    assert message in err and not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("arch", "option", "value", "message"), [
    ("stylegan2", "--r1-interval", "0", "--r1-interval: Input should be greater than or equal to 1"),
    ("wgan-gp", "--n-critic", "0", "--n-critic: Input should be greater than or equal to 1"),
    ("bagan-gp", "--ae-kimg", "-1", "--ae-kimg: Input should be greater than or equal to 0"),
    ("wgan-gp", "--critic-norm", "batch", "--critic-norm: Input should be 'instance', 'layer' or 'none'"),
])
def test_family_options_are_checked_by_their_declaration(toy32, tmp_path, capsys, arch, option, value,
                                                         message) -> None:
    argv = ["train-gan", "--data", str(toy32.root), "--arch", arch, "--out", str(tmp_path / "runs"), option, value]
    err = _fails_with_one_line(argv, capsys)
    assert message in err and not (tmp_path / "runs").exists()


def test_ada_ops_take_names_or_presets_and_reject_unknown_ones(toy32, tmp_path, capsys) -> None:
    argv = ["train-gan", "--data", str(toy32.root), "--arch", "dcgan", "--out", str(tmp_path / "runs"), "--aug", "ada"]
    _ok([*argv, "--ada-ops", "bgc,cutout", "--dry-run"])
    assert json.loads(capsys.readouterr().out)["options"]["ada_ops"] == "bgc,cutout"
    err = _fails_with_one_line([*argv, "--ada-ops", "xflip,hue"], capsys)
    assert "--ada-ops: unknown ADA op(s) hue; choose from xflip" in err and not (tmp_path / "runs").exists()


def test_every_train_config_field_is_a_train_gan_option(toy32, tmp_path, capsys) -> None:
    """Declared once: the command's options are TrainConfig's fields and the families' own options (each declared
    in its family's package), with --dry-run."""
    import typer.main

    from synthmed.cli import app
    from synthmed.gan.archs import option_fields
    from synthmed.gan.options import TrainConfig
    from synthmed.utils.options import cli_fields

    command = typer.main.get_command(app).commands["train-gan"]
    names = {p.name for p in command.params}
    assert names == set(cli_fields(TrainConfig)) | set(option_fields()) | {"dry_run"}
    assert {"n_critic", "upsample", "r1_interval", "ae_kimg"} <= set(option_fields())
    assert set(TrainConfig.model_fields) - names == {"family", "sized_for"}  # filled by resolve
    given = {"--ada-kimg": 50.0, "--r1-interval": 4, "--ema-kimg": 2.0, "--ada-target": 0.7,
             "--ada-interval": 2, "--ema-rampup": 0.1, "--diffaug-policy": "color", "--grid-cols": 4}
    argv = ["train-gan", "--data", str(toy32.root), "--arch", "stylegan2", "--out", str(tmp_path), "--dry-run"]
    _ok(argv + [str(x) for kv in given.items() for x in kv])
    options = json.loads(capsys.readouterr().out)["options"]
    options.update(options.pop("family"))
    assert {k: options[k.removeprefix("--").replace("-", "_")] for k in given} == given


def test_auto_width_is_sized_for_the_device(toy32, tmp_path, capsys) -> None:
    """StyleGAN2's paper networks on a GPU, a CPU-sized width on a CPU; DCGAN/WGAN-GP keep 64 on both, so the
    pipeline's default GAN is unchanged (issue 22)."""
    from synthmed.gan.options import TrainConfig, resolve

    sg_cpu, sg_gpu = (resolve(TrainConfig(arch="stylegan2"), 28, dev) for dev in ("cpu", "cuda"))
    assert (sg_cpu.width, sg_cpu.sized_for, sg_gpu.width, sg_gpu.sized_for) == (16, "cpu", None, "gpu")
    assert sg_cpu.batch == sg_gpu.batch == 32
    for arch in ("dcgan", "wgan-gp"):
        auto, before = resolve(TrainConfig(arch=arch, batch=32), 28, "cpu"), resolve(TrainConfig(arch=arch, batch=32,
                                                                                                 width=None), 28)
        assert auto.model_dump(exclude={"width", "sized_for"}) == before.model_dump(exclude={"width", "sized_for"})
        assert auto.width == before.width == 64
    explicit = resolve(TrainConfig(arch="stylegan2", width=32, batch=16), 28, "cpu")
    assert (explicit.width, explicit.batch, explicit.sized_for) == (32, 16, None)
    _ok(["train-gan", "--data", str(toy32.root), "--arch", "stylegan2", "--out", str(tmp_path), "--dry-run"])
    options = json.loads(capsys.readouterr().out)["options"]
    assert (options["width"], options["sized_for"]) == ((None, "gpu") if torch.cuda.is_available() else (16, "cpu"))


def test_a_long_eta_prints_one_recipe_line(toy32, tmp_path, monkeypatch) -> None:
    from synthmed.gan import train
    from tests.gan.helpers import tiny_config

    monkeypatch.setattr(train, "ETA_WARN_HOURS", 1e-7)  # any run is "long"
    run = train.train_gan(tiny_config(toy32.root, tmp_path, "stylegan2", kimg=0.032, tick_kimg=0.016, width=32))
    log = (run / "log.txt").read_text().splitlines()
    eta = [ln for ln in log if "ETA" in ln]
    assert len(eta) == 1 and "--kimg" in eta[0] and "--kimg 0.032" in eta[0]
    assert ("--width 16 (CPU-sized" in eta[0]) == (not torch.cuda.is_available())
    first = next(ln for ln in log if ln.split("] ", 1)[1].startswith("training "))
    assert "width 32" in first and "auto" not in first
