"""CLI verbs of the main job: ``init`` (write a commented config) and ``run`` (every stage, cached)."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from synthmed.errors import SynthmedError

PROFILE_HELP = ("cpu (small, fits 15 min on 2 cores), quality (DCGAN-ADA at 64x64 on a CPU, aimed at 90 min) or gpu "
                "(StyleGAN2-ADA at 128x128).")


def init(
    dataset: str = typer.Option("breastmnist", "--dataset", help="MedMNIST dataset name."),
    folder: Path | None = typer.Option(None, "--folder", help="Your images instead: one subfolder per class."),
    csv_file: Path | None = typer.Option(None, "--csv", help="Your images instead: a CSV of path,label"
                                         "[,patient_id][,split][,mask]."),
    profile: str = typer.Option("cpu", "--profile", help=PROFILE_HELP),
) -> None:
    """Print a commented experiment config (redirect it: synthmed init > experiment.yaml)."""
    from synthmed.pipeline.config import build_config, to_commented_yaml
    from synthmed.prepare.medmnist_source import medmnist_info

    if folder is not None and csv_file is not None:
        raise SynthmedError("choose one source for init: --folder DIR or --csv FILE (or --dataset NAME)")
    if folder is not None or csv_file is not None:
        path = (folder or csv_file).absolute()  # type: ignore[union-attr]
        if folder is not None and not path.is_dir():
            raise SynthmedError(f"{folder}: not a folder")
        if csv_file is not None and not path.is_file():
            raise SynthmedError(f"{csv_file}: CSV file not found")
        stem = path.name if folder is not None else (path.parent.name if path.stem == "labels" else path.stem)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "mydata"
        data = {"folder" if folder is not None else "csv": str(path)}
    else:
        medmnist_info(dataset.lower())  # an unknown name fails here, not after the config is edited
        name, data = dataset.lower(), {"medmnist": dataset.lower()}
    cfg = build_config({"name": f"{name}-{profile}", "data": data}, profile, source="init")
    # Only the profile and the source are set: every other key stays the profile's, also under --profile.
    chosen = {"profile", *(f"data.{k}" for k in data)}
    if cfg.name != build_config({"data": data}, profile).name:  # the name the source gives, unless it has none
        chosen.add("name")
    typer.echo(to_commented_yaml(cfg, chosen), nl=False)


def run(
    config: Path | None = typer.Argument(None, help="Experiment config (YAML from 'synthmed init'); "
                                                    "none: the profile's defaults on BreastMNIST."),
    profile: str | None = typer.Option(None, "--profile", help=PROFILE_HELP + " Overrides the config's."),
    data_root: Path | None = typer.Option(None, "--data-root", help="Folder with the MedMNIST .npz files "
                                          "(default: the config's, then $SYNTHMED_DATA_ROOT)."),
    out: Path | None = typer.Option(None, "--out", help="Run folder (default: runs/<name>)."),
    device: str | None = typer.Option(None, "--device", help="auto, cpu or cuda[:N] (overrides the config)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved config and plan; run nothing."),
    workers: str | None = typer.Option(None, "--workers", help="Classifier runs at once (overrides "
                                       "classify.workers): auto, N (Ray tasks) or 1 (one after another here)."),
    threads: int | None = typer.Option(None, "--threads", help="Intra-op threads per classifier run "
                                       "(overrides classify.threads)."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Run the classifier grid on this Ray "
                                           "cluster (overrides classify.ray_address)."),
) -> None:
    """Run the main job: prepare, GAN, generate, metrics, filter, classifier grid, statistics, report."""
    from synthmed.classify.engine import parse_workers
    from synthmed.pipeline.config import load_config
    from synthmed.pipeline.main import dry_run_text, run_pipeline

    grid = {"classify.workers": None if workers is None else (parse_workers(workers) or "auto"),
            "classify.threads": threads, "classify.ray_address": ray_address}
    cfg = load_config(config, profile, **{"data.root": str(data_root) if data_root else None, "device": device},
                      **grid)
    if config is not None and profile is not None:
        _say_profile_overrides(config, profile)
    out = out or Path("runs") / cfg.name
    if dry_run:
        typer.echo(dry_run_text(cfg, out))
        return
    run_pipeline(cfg, out, echo=typer.echo)


def _say_profile_overrides(config: Path, profile: str) -> None:
    """One line on stderr naming the keys the file keeps over ``--profile``: no silent mix of two profiles."""
    import yaml

    from synthmed.pipeline.config import profile_overrides

    keys = profile_overrides(yaml.safe_load(config.read_text(encoding="utf-8-sig")) or {}, profile)
    if keys:
        typer.echo(f"note: {config} sets {len(keys)} key(s) over the {profile} profile: {', '.join(keys)}; "
                   f"remove them from the file to run the {profile} profile as it is", err=True)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(run)
