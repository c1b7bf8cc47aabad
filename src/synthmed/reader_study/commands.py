"""CLI verbs: ``synthmed reader-study create | invite | serve | results``."""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path

import typer

from synthmed.errors import SynthmedError

sub = typer.Typer(help="Visual Turing test: readers judge real vs synthetic images in a browser.",
                  no_args_is_help=True)

DB_OPTION_HELP = ("SQLAlchemy database URL, e.g. postgresql+psycopg://user@host/db "
                  "(default: STUDY/study.db, SQLite). Also read from $SYNTHMED_READER_STUDY_DB.")
DB_ENV = "SYNTHMED_READER_STUDY_DB"


@sub.command()
def create(
    real: str = typer.Option(..., "--real", help="Real prepared dataset, DIR[:split] (default split: test)."),
    synthetic: str = typer.Option(..., "--synthetic", help="Synthetic prepared dataset, DIR[:split] "
                                  "(default split: train)."),
    n_real: int = typer.Option(..., "--n-real", help="Number of real images (per class with --per-class)."),
    n_synthetic: int = typer.Option(..., "--n-synthetic", help="Number of synthetic images (per class with "
                                    "--per-class)."),
    out: Path = typer.Option(..., "--out", help="Study folder to create."),
    per_class: bool = typer.Option(False, "--per-class", help="Draw the counts from every class."),
    seed: int = typer.Option(0, "--seed", help="Seed for the image sample and the readers' orders."),
    resize_synthetic: bool = typer.Option(False, "--resize-synthetic", help="Resize synthetic images to the real "
                                          "size (Lanczos) instead of refusing a size mismatch."),
    database_url: str | None = typer.Option(None, "--database-url", envvar=DB_ENV, help=DB_OPTION_HELP),
    base_url: str = typer.Option("http://127.0.0.1:8000", "--base-url", help="Server address for the printed link."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing study folder."),
    outline: bool = typer.Option(False, "--outline", help="Draw every image's lesion outline (its mask's "
                                 "border) on it, real and synthetic alike; both sets need masks."),
) -> None:
    """Make a study: sampled real + synthetic images, re-encoded identically, under random ids."""
    from synthmed.reader_study.create import create_study

    made = create_study(real, synthetic, n_real, n_synthetic, out, per_class=per_class, seed=seed,
                        resize_synthetic=resize_synthetic, database_url=database_url, overwrite=overwrite,
                        outline=outline)
    counts = made.meta["counts"]
    typer.echo(f"study {made.out}: {counts['real'] + counts['synthetic']} images "
               f"({counts['real']} real, {counts['synthetic']} synthetic), seed {seed}")
    typer.echo("Admin link (shown once; the token is stored only as a hash):")
    typer.echo(f"  {base_url.rstrip('/')}/admin#token={made.admin_token}")
    typer.echo(f"Next: synthmed reader-study invite {made.out} --reader NAME")


@sub.command()
def invite(
    study: Path = typer.Argument(..., help="Study folder."),
    reader: str = typer.Option(..., "--reader", help="Reader name (unique in the study)."),
    new_token: bool = typer.Option(False, "--new-token", help="Give an existing reader a new link "
                                   "(their answers stay; the old link stops working)."),
    database_url: str | None = typer.Option(None, "--database-url", envvar=DB_ENV, help=DB_OPTION_HELP),
    base_url: str = typer.Option("http://127.0.0.1:8000", "--base-url", help="Server address for the link."),
) -> None:
    """Add a reader and print their personal link (with a secret token)."""
    from synthmed.reader_study import db
    from synthmed.reader_study.study import Study

    name = reader.strip()
    if not name or len(name) > 128 or any(not ch.isprintable() for ch in name):
        raise SynthmedError("--reader must be 1-128 printable characters")
    st = Study.open(study, database_url)
    try:
        token = db.add_reader(st.engine, name, replace_token=new_token)
    finally:
        st.close()
    typer.echo(f"{base_url.rstrip('/')}/read#token={token}")


@sub.command()
def serve(
    study: Path = typer.Argument(..., help="Study folder."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (default: this machine only)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    database_url: str | None = typer.Option(None, "--database-url", envvar=DB_ENV, help=DB_OPTION_HELP),
) -> None:
    """Serve the reader and admin pages (FastAPI on uvicorn)."""
    import uvicorn

    from synthmed.reader_study.app import create_app
    from synthmed.reader_study.study import Study

    if not 0 < port < 65536:
        raise SynthmedError(f"--port must be 1-65535, got {port}")
    st = Study.open(study, database_url)
    _preload_statistics()
    if not _is_loopback(host):
        print(f"warning: binding {host}: other machines can reach this study; use HTTPS in front of it",
              file=sys.stderr)
    typer.echo(f"serving {study} ({st.total} images) on http://{host}:{port}  (Ctrl+C to stop)")
    try:
        uvicorn.run(create_app(st), host=host, port=port, log_level="info", server_header=False)
    finally:
        st.close()


@sub.command()
def results(
    study: Path = typer.Argument(..., help="Study folder."),
    csv_path: Path | None = typer.Option(None, "--csv", help="Write the per-reader (and per-class) table as CSV."),
    answers_csv_path: Path | None = typer.Option(None, "--answers-csv", help="Write every answer with its truth."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    database_url: str | None = typer.Option(None, "--database-url", envvar=DB_ENV, help=DB_OPTION_HELP),
) -> None:
    """Per-reader decision table, accuracy vs 50 %, sensitivity, specificity, F1, kappa."""
    from synthmed.reader_study.results import answers_csv, compute_results, render_text, results_csv
    from synthmed.reader_study.study import Study
    from synthmed.utils.atomic import write_text

    st = Study.open(study, database_url)
    try:
        rows, readers = st.answer_rows(), st.readers()
    finally:
        st.close()
    res = compute_results(rows, readers, st.meta)
    typer.echo(json.dumps(res, indent=2) if as_json else render_text(res), nl=False)
    if csv_path:
        write_text(csv_path, results_csv(res))
        typer.echo(f"\nwrote {csv_path}")
    if answers_csv_path:
        write_text(answers_csv_path, answers_csv(rows))
        typer.echo(f"wrote {answers_csv_path}")


def _preload_statistics() -> None:
    """Import SciPy, scikit-learn and statsmodels now, so the first admin request is not slow."""
    import scipy.stats  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import statsmodels.stats.inter_rater  # noqa: F401


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    app.add_typer(sub, name="reader-study")
