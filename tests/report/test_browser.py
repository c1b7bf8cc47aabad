"""The report as a person sees it: opened in headless Chromium, every section and image rendered."""

from __future__ import annotations

import pytest
from tests.report.browser import ARTIFACTS, render

from synthmed.report.build import SECTIONS

pytestmark = pytest.mark.browser


def test_report_renders_in_chromium(fake_report) -> None:
    _, out = fake_report
    info = render(out / "report.html", "report-fake.png")
    assert [s["id"] for s in info["sections"]] == SECTIONS
    assert all(s["height"] > 50 and s["text"] > 20 for s in info["sections"])
    assert len(info["images"]) == 10
    broken = [i["alt"] for i in info["images"] if not i["complete"] or i["width"] == 0]
    assert not broken, f"images that did not render: {broken}"
    assert info["missing"] == []
    assert (ARTIFACTS / "report-fake.png").stat().st_size > 50_000
