"""CLI verbs of the generator stage: ``train-generator`` and its older name ``train-gan`` (the same command: every
family, GANs and diffusion models)."""

from __future__ import annotations

import inspect
import json
import os

import typer
from pydantic import create_model

from synthmed.gan.options import TrainConfig, family_option_fields
from synthmed.utils.options import cli_command, validate


def _run(values: dict, dry_run: bool) -> None:
    """Train a (class-conditional) generator (GAN or diffusion model) on a prepared dataset; one numbered run folder
    per run."""
    from synthmed.gan.train import peek_run_dir, plan_run
    from synthmed.gan.train import train_gan as run

    cfg = validate(TrainConfig, values)
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


def _dry_run_option() -> inspect.Parameter:
    return inspect.Parameter("dry_run", inspect.Parameter.KEYWORD_ONLY, annotation=bool, default=typer.Option(
        False, "--dry-run", help="Print the resolved options and run folder; create nothing."))


def train_gan_command():
    """``train-gan``: one option per TrainConfig field (synthmed.gan.options) and per option a family declares in
    its package (``--n-critic``, ...), each declared once."""
    family_flags = create_model("FamilyFlags", **family_option_fields())
    return cli_command(TrainConfig, _run, extra=[_dry_run_option()], name="train_gan", also=family_flags,
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
