"""User-facing errors.

Anything a user can cause (bad input file, wrong option, missing weights) raises
``SynthmedError``; the CLI prints its message as one line and exits with status 1.
Programming errors keep their traceback.
"""

from __future__ import annotations

from pathlib import Path


class SynthmedError(Exception):
    """An error caused by input or options, shown to the user as one line."""


class BadInputError(SynthmedError):
    """A specific input file is unusable; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        # A file name with a line break (legal on Linux) must not break the one-line message: quoted, escaped.
        shown = self.path if self.path.isprintable() else repr(self.path)
        super().__init__(f"{shown}: {problem}")


class MissingWeightsError(SynthmedError):
    """Pretrained weights were looked for and not found (we never crash the whole run for this)."""
