"""CLI verb of the GAN stage: ``train-gan``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer


def train_gan(
    data: str | None = typer.Option(None, "--data", help="Prepared dataset folder (its train split is used)."),
    arch: str | None = typer.Option(None, "--arch", help="dcgan, wgan-gp, stylegan2 or bagan-gp."),
    out: Path = typer.Option(Path("runs"), "--out", help="Parent folder of the numbered run folders."),
    kimg: float | None = typer.Option(None, "--kimg", help="Training length in thousands of real images shown to D "
                                      "(default 10; on --resume: continue up to this many)."),
    batch: int = typer.Option(32, "--batch", help="Global batch size (split over torchrun processes)."),
    resolution: int | None = typer.Option(None, "--resolution", help="32, 64, 128 or 256 (default: the data's; "
                                          "28 -> 32)."),
    aug: str = typer.Option("none", "--aug", help="D augmentation: none, diffaug or ada."),
    cond: bool = typer.Option(True, "--cond/--no-cond", help="Condition on the class label."),
    resume: Path | None = typer.Option(None, "--resume", help="Run folder (or checkpoint file) to continue."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    amp: bool = typer.Option(True, "--amp/--no-amp", help="Mixed precision on CUDA (bf16 where supported)."),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile the generator."),
    width: int | None = typer.Option(None, "--width", help="Network width (channels near the output; "
                                     "default 64, StyleGAN2: the paper's)."),
    max_width: int | None = typer.Option(None, "--max-width", help="Cap on channels per layer."),
    z_dim: int | None = typer.Option(None, "--z-dim", help="Latent size (default 128; StyleGAN2 512)."),
    lr_g: float | None = typer.Option(None, "--lr-g"),
    lr_d: float | None = typer.Option(None, "--lr-d"),
    betas: str | None = typer.Option(None, "--betas", help="Adam's beta1,beta2 for G and D (default: the "
                                     "paper's: DCGAN 0.5,0.999; WGAN-GP 0,0.9; StyleGAN2 0,0.99; BAGAN-GP 0.5,0.9)."),
    n_critic: int = typer.Option(5, "--n-critic", help="WGAN-GP critic steps per generator step."),
    drift: float | None = typer.Option(None, "--drift", help="WGAN-GP: drift penalty weight on the critic's "
                                       "real scores (ProGAN; default 0.001 with --aug ada, which reads their sign, "
                                       "else 0)."),
    upsample: str | None = typer.Option(None, "--upsample", help="DCGAN/WGAN-GP generator: transposed (4x4 "
                                        "stride-2, default) or resize (nearest + 3x3 conv, no checkerboard)."),
    critic_norm: str | None = typer.Option(None, "--critic-norm", help="WGAN-GP/BAGAN-GP critic normalisation: "
                                           "instance (default; per channel and sample), layer (the paper's) or "
                                           "none."),
    ae_kimg: float | None = typer.Option(None, "--ae-kimg", help="BAGAN-GP: kimg of the autoencoder phase at the "
                                         "start of --kimg (default 30 epochs of the train split)."),
    r1_gamma: float | None = typer.Option(None, "--r1-gamma", help="StyleGAN2 R1 weight (default 0.0002 R^2/batch)."),
    tick_kimg: float = typer.Option(1.0, "--tick-kimg", help="Stats line every this many kimg."),
    snapshot_kimg: float = typer.Option(5.0, "--snapshot-kimg", help="Grid + checkpoint every this many kimg."),
    keep_last: int = typer.Option(3, "--keep-last", help="Numbered checkpoints to keep."),
    metric_every_kimg: float | None = typer.Option(None, "--metric-every-kimg",
                                                   help="Domain FID against the train set every N kimg "
                                                        "(chooses best.pt)."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved options and run folder; "
                                 "create nothing."),
) -> None:
    """Train a (class-conditional) GAN on a prepared dataset; one numbered run folder per run."""
    from synthmed.gan.train import TrainConfig, peek_run_dir, plan_run
    from synthmed.gan.train import train_gan as run

    cfg = TrainConfig(data=data, arch=arch, out=str(out), kimg=kimg, batch=batch, resolution=resolution, aug=aug,
                      cond=cond, resume=str(resume) if resume else None, seed=seed, device=device, amp=amp,
                      compile=compile_, width=width, max_width=max_width, z_dim=z_dim, lr_g=lr_g, lr_d=lr_d,
                      betas=_parse_betas(betas), n_critic=n_critic, drift=drift, r1_gamma=r1_gamma, ae_kimg=ae_kimg,
                      tick_kimg=tick_kimg, snapshot_kimg=snapshot_kimg,
                      keep_last=keep_last, metric_every_kimg=metric_every_kimg, progress=progress,
                      net_kwargs={k: v for k, v in (("upsample", upsample), ("critic_norm", critic_norm)) if v})
    if dry_run:
        plan = plan_run(cfg)
        run_dir = plan.run_dir or peek_run_dir(plan.cfg.out, plan.run_desc)
        typer.echo(json.dumps({"run_dir": str(run_dir), "resume": plan.ckpt_file and str(plan.ckpt_file),
                               "options": plan.cfg.to_dict(), "train_counts": plan.meta["train_counts"]},
                              indent=2, default=str))
        return
    # Built whenever the metrics stage is installed, not only when --metric-every-kimg is given: a resumed
    # run inherits the option from its checkpoint and must keep choosing best.pt by the metric.
    run_dir = run(cfg, metric_fn=_default_metric_fn(cfg))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one line from rank 0
        typer.echo(str(run_dir))


def _parse_betas(text: str | None) -> list[float] | None:
    if text is None:
        return None
    from synthmed.errors import SynthmedError

    try:
        return [float(b) for b in text.split(",")]
    except ValueError:
        raise SynthmedError(f"--betas takes two numbers such as 0.5,0.9, got {text!r}") from None


def _default_metric_fn(cfg):
    """The metrics stage's cheap domain FID against the train split, when it provides one."""
    try:
        from synthmed.gan.fidelity import domain_fid_hook
    except ImportError:
        return None
    return domain_fid_hook(cfg)


def register(app: typer.Typer) -> None:
    app.command("train-gan")(train_gan)
