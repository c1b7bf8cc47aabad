"""CLI verbs of the generator stage: ``train-generator`` and its older name ``train-gan`` (the same command: every
family, GANs and diffusion models)."""

from __future__ import annotations

import inspect
import json
import os

import typer


def _run(values: dict, upsample: str | None, critic_norm: str | None, dry_run: bool) -> None:
    """Train a (class-conditional) generator (GAN or diffusion model) on a prepared dataset; one numbered run folder
    per run."""
    from synthmed.gan.options import TrainConfig
    from synthmed.gan.train import peek_run_dir, plan_run
    from synthmed.gan.train import train_gan as run
    from synthmed.utils.options import validate

    net = {k: v for k, v in (("upsample", upsample), ("critic_norm", critic_norm)) if v}
    cfg = validate(TrainConfig, {**values, "net_kwargs": net})
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


def _extra_options() -> list[inspect.Parameter]:
    """Options that are not TrainConfig fields: network options of one family, and --dry-run."""
    def opt(name: str, default, *decls: str, help: str, annotation=str | None) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                 default=typer.Option(default, *decls, help=help))

    return [
        opt("upsample", None, "--upsample", help="DCGAN/WGAN-GP generator: transposed (4x4 stride-2, default) or "
            "resize (nearest + 3x3 conv, no checkerboard)."),
        opt("critic_norm", None, "--critic-norm", help="WGAN-GP/BAGAN-GP critic normalisation: instance "
            "(default; per channel and sample), layer (the paper's) or none."),
        opt("dry_run", False, "--dry-run", help="Print the resolved options and run folder; create nothing.",
            annotation=bool),
    ]


def train_gan_command():
    """``train-gan``: one option per TrainConfig field (synthmed.gan.options), declared there once."""
    from synthmed.gan.options import TrainConfig
    from synthmed.utils.options import cli_command

    return cli_command(TrainConfig, _run, extra=_extra_options(), name="train_gan",
                       doc="Train a (class-conditional) generator, a GAN or a diffusion model (--arch ddpm), on a "
                       "prepared dataset; one numbered run folder per run.")


def _default_metric_fn(cfg):
    """The metrics stage's cheap domain FID against the train split, when it provides one."""
    try:
        from synthmed.gan.fidelity import domain_fid_hook
    except ImportError:
        return None
    return domain_fid_hook(cfg)


def register(app: typer.Typer) -> None:
    app.command("train-generator")(train_gan_command())
    app.command("train-gan")(train_gan_command())
