"""The ``synthmed`` command: one verb per workflow stage.

Each stage keeps its commands in ``synthmed/<stage>/commands.py`` with a ``register(app)``
function; this file only wires them together and turns ``SynthmedError`` into a one-line
message (the traceback only with ``--debug``). Heavy imports (torch, radiomics) live inside
the command functions, so ``synthmed --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from synthmed.errors import SynthmedError

# Stage command modules, in workflow order. Each defines ``register(app: typer.Typer)``.
COMMAND_MODULES = [
    "synthmed.prepare.commands",
    "synthmed.gan.commands",
    "synthmed.generate.commands",
    "synthmed.stats.commands",
    "synthmed.pipeline.commands",
    "synthmed.report.commands",
    "synthmed.reader_study.commands",
    "synthmed.metrics.commands",
    "synthmed.filter.commands",
    "synthmed.classify.commands",
    "synthmed.lesion.commands",
]

app = typer.Typer(
    name="synthmed",
    help="Synthetic medical images with GANs, validated against real data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
) -> None:
    _state["debug"] = debug


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only a stage module that is absent altogether is passed over (tests/core/test_cli.py
            # fails on it); a missing dependency inside a stage module still raises.
            if exc.name != name:
                raise
            continue
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> None:
    """Console entry point: usage errors are click's; our errors become one line on stderr."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        # standalone mode: click prints usage errors itself and exits with status 2.
        app(args=argv, prog_name="synthmed")
    except SynthmedError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
