"""CLI verbs of the main job: ``init`` (write a commented config) and ``run`` (every stage, cached)."""

from __future__ import annotations

from pathlib import Path

import typer

PROFILE_HELP = "cpu (small, fits 15 min on 2 cores) or gpu (StyleGAN2-ADA at 128x128)."


def init(
    dataset: str = typer.Option("breastmnist", "--dataset", help="MedMNIST dataset name."),
    profile: str = typer.Option("cpu", "--profile", help=PROFILE_HELP),
) -> None:
    """Print a commented experiment config (redirect it: synthmed init > experiment.yaml)."""
    from synthmed.pipeline.config import build_config, to_commented_yaml
    from synthmed.prepare.medmnist_source import medmnist_info

    medmnist_info(dataset.lower())  # an unknown name fails here, not after the config is edited
    cfg = build_config({"name": f"{dataset.lower()}-{profile}", "data": {"medmnist": dataset.lower()}}, profile,
                       source="init")
    typer.echo(to_commented_yaml(cfg), nl=False)


def run(
    config: Path | None = typer.Argument(None, help="Experiment config (YAML from 'synthmed init'); "
                                                    "none: the profile's defaults on BreastMNIST."),
    profile: str | None = typer.Option(None, "--profile", help=PROFILE_HELP + " Overrides the config's."),
    data_root: Path | None = typer.Option(None, "--data-root", help="Folder with the MedMNIST .npz files "
                                          "(default: the config's, then $SYNTHMED_DATA_ROOT)."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default: runs/<name>)."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu or cuda[:N] (overrides the config)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and plan; run nothing."),
) -> None:
    """Run the main job: prepare, GAN, generate, metrics, filter, classifier grid, statistics, report."""
    from synthmed.pipeline.config import load_config
    from synthmed.pipeline.main import dry_run_text, run_pipeline

    cfg = load_config(config, profile, **{"data.root": str(data_root) if data_root else None, "device": device})
    out = out or Path("runs") / cfg.name
    if dry_run:
        typer.echo(dry_run_text(cfg, out))
        return
    run_pipeline(cfg, out, echo=typer.echo)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(run)
