"""Training runs end to end on tiny data: run folder contents, exact resume, conditioning, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch

from synthmed.gan.checkpoint import load_checkpoint, load_generator
from synthmed.gan.train import ema_beta, read_stats, train_gan
from tests.gan.helpers import tiny_config, write_brightness_dataset


@pytest.mark.parametrize(("arch", "channels", "aug"), [("dcgan", 1, "ada"), ("wgan-gp", 3, "diffaug"),
                                                       ("stylegan2", 1, "diffaug")])
def test_each_arch_trains_and_writes_its_run_folder(toy_dataset, tmp_path, arch, channels, aug) -> None:
    ds = toy_dataset(counts={"train": [12, 8]}, resolution=32, channels=channels)
    kimg = 0.128 if arch == "stylegan2" else 0.256  # a few hundred images (StyleGAN2 is slow on CPU)
    run = train_gan(tiny_config(ds.root, tmp_path / "runs", arch, aug=aug, kimg=kimg, snapshot_kimg=kimg / 2,
                                tick_kimg=0.064, ada_kimg=1.0, ada_interval=1))
    assert run.parent == tmp_path / "runs" and run.name == f"00000-{arch}-toy32"
    options = json.loads((run / "options.json").read_text())
    assert options["arch"] == arch and options["resolution"] == 32 and options["seed"] == 0
    stats = read_stats(run)
    assert stats[-1]["kimg"] >= kimg
    for key in ("kimg", "loss_G", "loss_D", "ada_p", "img_per_sec"):
        assert all(isinstance(s[key], float | int) for s in stats), key
    assert all(-1 <= s["d_grad_cos"] <= 1 for s in stats)
    assert all(torch.isfinite(torch.tensor([s["loss_G"], s["loss_D"]])).all() for s in stats)
    if aug == "ada":
        assert stats[-1]["ada_p"] > 0  # D overfits 20 images at once: p must have risen
    grids = sorted((run / "grids").glob("grid-*.png"))
    assert len(grids) >= 2 and (run / "grids" / "reals.png").is_file()
    from PIL import Image

    with Image.open(grids[-1]) as im:  # one row per class, 8 columns of 32 px plus 2 px gaps
        assert im.size == (8 * 34 + 2, 2 * 34 + 2)
    ckpts = run / "checkpoints"
    assert (ckpts / "last.pt").is_file() and (ckpts / "best.pt").is_file()
    assert "best.pt is the last" not in (run / "log.txt").read_text()  # no metric asked: nothing to warn
    assert list((run / "tensorboard").iterdir())
    ck, _ = load_checkpoint(run)
    assert ck["nimg"] >= kimg * 1000 and len(ck["rng"]) == 1
    G, meta = load_generator(run)
    assert meta["classes"] == ["class0", "class1"] and meta["train_counts"] == {"class0": 12, "class1": 8}
    assert (meta["resolution"], meta["channels"], meta["arch"]) == (32, channels, arch)
    assert len(meta["checkpoint_sha256"]) == 64
    x = G(torch.randn(3, meta["z_dim"]), torch.tensor([0, 1, 1]))
    assert x.shape == (3, channels, 32, 32)


# A WGAN-GP critic's scores on reals need not be mostly positive in a few steps; ada_target -1 makes p rise at
# every update, so the resumed ADA state is exercised whatever the critic does.
@pytest.mark.parametrize(("arch", "aug", "extra"), [("dcgan", "ada", {}), ("wgan-gp", "diffaug", {}),
                                                    ("wgan-gp", "ada", {"ada_target": -1.0}), ("stylegan2", "ada", {}),
                                                    ("dcgan", "ada", {"ada_ops": "bgc", "ada_target": -1.0})])
def test_resume_is_exact(toy32, tmp_path, arch, aug, extra) -> None:
    """N steps straight == N/2 steps, resume, N/2 steps: identical weights, EMA, ADA state."""
    n = 0.064 if arch == "stylegan2" else 0.128  # images; StyleGAN2 is the slow one on CPU
    own = {"stylegan2": {"r1_interval": 2}, "wgan-gp": {"n_critic": 2}}.get(arch, {})  # the family's options
    kw = {"aug": aug, "ada_interval": 1, "ada_kimg": 0.1, "tick_kimg": 0.016, "snapshot_kimg": 1.0, **own, **extra}
    straight = train_gan(tiny_config(toy32.root, tmp_path / "a", arch, kimg=n, **kw))
    half = train_gan(tiny_config(toy32.root, tmp_path / "b", arch, kimg=n / 2, **kw))
    resumed = train_gan(tiny_config(None, tmp_path / "ignored", arch, resume=str(half), kimg=n))
    assert resumed == half and not (tmp_path / "ignored").exists()
    a, _ = load_checkpoint(straight)
    b, _ = load_checkpoint(resumed)
    assert a["nimg"] == b["nimg"] == round(n * 1000)
    for part in ("G", "D", "G_ema") + (("ada",) if aug == "ada" else ()):
        for name, tensor in a[part].items():
            assert torch.equal(tensor, b[part][name]), f"{part}.{name} differs after resume"
    if aug == "ada":
        assert a["ada_p"] > 0
    # the resumed run's stats continue where the first half stopped, without duplicates
    kimgs = [s["kimg"] for s in read_stats(resumed)]
    assert kimgs == sorted(set(kimgs)) and kimgs[-1] == n


def test_conditional_sampling_yields_the_requested_classes(tmp_path) -> None:
    """Classes that differ in brightness: samples asked for 'dark' are dark, for 'bright' bright."""
    ds = write_brightness_dataset(tmp_path / "bw")
    run = train_gan(tiny_config(ds.root, tmp_path / "runs", "dcgan", batch=16, kimg=1.6, lr_g=2e-3, lr_d=2e-3,
                                tick_kimg=1.0, snapshot_kimg=10.0))
    G, _ = load_generator(run)
    z = torch.randn(64, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        dark = G(z, torch.zeros(64, dtype=torch.long)).mean().item()
        bright = G(z, torch.ones(64, dtype=torch.long)).mean().item()
    # real means: -0.6 (dark) and +0.6 (bright) in [-1, 1]
    assert dark < -0.3 and bright > 0.3, (dark, bright)


def test_ctrl_c_writes_a_checkpoint_that_resumes(toy32, tmp_path) -> None:
    calls = []

    def interrupting_metric(G, meta):  # called at 0.016 kimg: stands in for a user's Ctrl-C
        calls.append(1)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return {"fid_domain": 1.0 / len(calls)}

    cfg = tiny_config(toy32.root, tmp_path / "runs", "dcgan", kimg=0.064, metric_every_kimg=0.016,
                      snapshot_kimg=1.0)
    with pytest.raises(KeyboardInterrupt):
        train_gan(cfg, metric_fn=interrupting_metric)
    run = next((tmp_path / "runs").iterdir())
    ck, _ = load_checkpoint(run, prefer="last")
    assert ck["nimg"] == 16  # stopped after the step that saw the signal
    assert "interrupted" in (run / "log.txt").read_text()
    train_gan(tiny_config(None, tmp_path / "runs", "dcgan", resume=str(run), kimg=0.064),
              metric_fn=interrupting_metric)
    ck, _ = load_checkpoint(run, prefer="last")
    assert ck["nimg"] == 64


def test_best_checkpoint_follows_the_metric(toy32, tmp_path) -> None:
    values = iter([5.0, 1.0, 3.0, 4.0])

    def metric(G, meta):
        assert not G.training and meta["arch"] == "dcgan"
        return {"fid_domain": next(values)}

    run = train_gan(tiny_config(toy32.root, tmp_path / "runs", "dcgan", kimg=0.064, metric_every_kimg=0.016,
                                snapshot_kimg=0.016, keep_last=10), metric_fn=metric)
    best, _ = load_checkpoint(run, prefer="best")
    last, _ = load_checkpoint(run, prefer="last")
    assert best["nimg"] == 32 and best["best"]["value"] == 1.0 and last["nimg"] == 64
    assert [s["fid_domain"] for s in read_stats(run)] == [5.0, 1.0, 3.0, 4.0]


def test_ema_half_life_counts_the_images_behind_each_generator_step():
    # half-life 10 kimg, no ramp-up: after 10,000 images G_ema keeps half of its old value
    assert ema_beta(32, 10.0, 1_000_000, None) ** (10_000 / 32) == pytest.approx(0.5)
    # WGAN-GP with 5 critic steps: 5 batches per G step, so 1/5 as many steps reach the same half-life
    assert ema_beta(5 * 32, 10.0, 1_000_000, None) ** (10_000 / (5 * 32)) == pytest.approx(0.5)
    # ramp-up: after 2,000 images the half-life is 0.05 * 2,000 = 100 images
    assert ema_beta(100, 10.0, 2_000, 0.05) == pytest.approx(0.5)


def test_wgan_critic_norm_new_runs_instance_old_checkpoints_layer(toy32, tmp_path) -> None:
    """New WGAN-GP runs get the per-channel critic; a checkpoint from before --critic-norm resumes as layer norm."""
    run = train_gan(tiny_config(toy32.root, tmp_path / "runs", "wgan-gp", kimg=0.032, n_critic=1))
    ck, file = load_checkpoint(run, prefer="last")
    assert ck["config"]["family"]["critic_norm"] == "instance"
    # make it look like a checkpoint from before --critic-norm, made when the family's options sat among the shared
    # ones: no critic_norm anywhere, n_critic at the top level
    family = ck["config"].pop("family")
    family.pop("critic_norm")
    ck["meta"]["net_kwargs"].pop("critic_norm")
    ck["config"].update(family, net_kwargs={}, r1_interval=16)  # every family's options were in every config
    torch.save(ck, file)
    resumed = train_gan(tiny_config(None, tmp_path / "ignored", "wgan-gp", resume=str(run), kimg=0.064))
    options = json.loads((resumed / "options.json").read_text())
    assert options["family"]["critic_norm"] == "layer" and options["family"]["n_critic"] == 1
    assert "r1_interval" not in options["family"]  # not a WGAN-GP option
    ck2, _ = load_checkpoint(resumed, prefer="last")
    assert ck2["nimg"] == 64 and ck2["config"]["family"]["critic_norm"] == "layer"


def test_a_run_that_cannot_start_leaves_no_run_folder(toy32, tmp_path) -> None:
    """A missing image stops training before the numbered run folder exists (issue 20)."""
    from synthmed.errors import SynthmedError

    next(iter(sorted((toy32.root / "images" / "train").glob("*.png")))).unlink()
    runs = tmp_path / "runs"
    with pytest.raises(SynthmedError):
        train_gan(tiny_config(toy32.root, runs, "dcgan"))
    assert not runs.exists() or list(runs.iterdir()) == []


def test_resume_removes_only_stale_temp_files_of_its_own_writes(toy32, tmp_path) -> None:
    """A kill during a checkpoint write leaves .last.pt.*.tmp; the next run of that folder removes it and says so,
    but not another program's files, nor temp files newer than its own start (another live writer)."""
    import time

    run = train_gan(tiny_config(toy32.root, tmp_path / "runs", "dcgan", kimg=0.032))
    ckpts = run / "checkpoints"
    stale = [ckpts / ".last.pt.k1ll3d_x.tmp", ckpts / ".ckpt-0000000032.pt.abc123.tmp", run / "grids" /
             ".grid-0000.032.png.q9z8.tmp", run / ".options.json.zz1.tmp"]
    kept = [ckpts / ".notes.txt.abc.tmp", ckpts / "mine.tmp", run / ".last.pt.x.tmp"]
    live = ckpts / ".best.pt.live01.tmp"
    old = time.time() - 3600
    for p in [*stale, *kept, live]:
        p.write_bytes(b"partial")
        os.utime(p, (old, old))
    os.utime(live, (time.time() + 3600,) * 2)  # still being written by another process
    train_gan(tiny_config(None, tmp_path / "ignored", "dcgan", resume=str(run), kimg=0.064))
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in [*kept, live])
    line = next(ln for ln in (run / "log.txt").read_text().splitlines() if "removed 4 temp file(s)" in ln)
    assert "checkpoints/.last.pt.k1ll3d_x.tmp" in line and "grids/.grid-0000.032.png.q9z8.tmp" in line
