"""CLI verb ``report``: rebuild the HTML report and results.json of a finished (or partial) run folder."""

from __future__ import annotations

from pathlib import Path

import typer


def report(
    run_dir: Path = typer.Argument(..., help="A run folder made by 'synthmed run' (it has run.json)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for report.html and results.json "
                                    "(default: the run folder)."),
) -> None:
    """Write report.html (self-contained, opens offline) and results.json from a run folder's stages."""
    from synthmed.errors import SynthmedError
    from synthmed.report.build import build_report, sources_from_run

    if not (run_dir / "run.json").is_file():
        raise SynthmedError(f"{run_dir}: no run.json (not a run folder made by 'synthmed run')")
    out = out or run_dir
    build_report(sources_from_run(run_dir), out)
    typer.echo(f"report: {out / 'report.html'}")


def register(app: typer.Typer) -> None:
    app.command()(report)
