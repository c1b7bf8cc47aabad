"""Fixtures of the prepare tests (file writers live in helpers.py)."""

from __future__ import annotations

import pytest

from tests.prepare.helpers import run_cli


@pytest.fixture
def cli(capsys):
    """``cli([...]) -> (exit code, stdout, stderr)`` for ``synthmed ...``."""
    return lambda args: run_cli([str(a) for a in args], capsys)
