"""CLI verb ``report``: rebuild the HTML report and results.json of a finished (or partial) run folder."""

from __future__ import annotations

from pathlib import Path

import typer

from synthmed.errors import SynthmedError


def report(
    run_dir: Path = typer.Argument(..., help="A run folder made by 'synthmed run' (it has run.json)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for report.html and results.json "
                                    "(default: the run folder)."),
) -> None:
    """Write report.html (self-contained, opens offline) and results.json from a run folder's stages."""
    from synthmed.pipeline.runner import RunRecord
    from synthmed.report.build import HTML, build_report, failed_line, sources_from_run

    if not RunRecord.exists(run_dir):
        raise SynthmedError(f"{run_dir}: no {RunRecord.FILE} (not a run folder made by 'synthmed run')")
    out = out or run_dir
    results = build_report(sources_from_run(run_dir), out)
    if results["failed"]:  # e.g. a truncated stage file: the page says it too, but the exit status must
        raise SynthmedError(f"{failed_line(results)}; every other section is in {out / HTML}")
    typer.echo(f"report: {out / HTML}")


def register(app: typer.Typer) -> None:
    app.command()(report)
