"""A hand-made run folder (every stage's output, no training) shared by the report tests."""

from __future__ import annotations

import pytest

from synthmed.report.build import ReportSources


@pytest.fixture(scope="session")
def fake_run(tmp_path_factory: pytest.TempPathFactory) -> ReportSources:
    from tests.report.fake_run import make_fake_run

    return make_fake_run(tmp_path_factory.mktemp("fake_run"))


@pytest.fixture(scope="session")
def fake_report(fake_run: ReportSources, tmp_path_factory: pytest.TempPathFactory):
    """(results dict, report folder) of the fake run."""
    from synthmed.report.build import build_report

    out = tmp_path_factory.mktemp("fake_report")
    return build_report(fake_run, out), out
