"""Debian's chromium (Playwright) answers five images with the keyboard; the admin page then counts them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from synthmed.reader_study import db
from synthmed.reader_study.app import create_app

from .conftest import live_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"
KEYS = ["r", "s", "r", "s", "s"]

pytestmark = pytest.mark.browser


def _launch(playwright):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])


def test_reader_answers_with_keyboard_and_admin_sees_counts(make_study) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    made = make_study(n_real=4, n_synthetic=4)
    token = made.invite("dr-browser")
    study = made.open()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with live_server(create_app(study)) as base, sync_api.sync_playwright() as pw:
            browser = _launch(pw)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(f"{base}/read#token={token}")
            page.wait_for_selector("body[data-state=ready]")
            assert page.inner_text("#progress") == "1 / 8"
            for k, key in enumerate(KEYS):
                if k == 1:
                    page.keyboard.press("4")  # an optional confidence before one answer
                page.keyboard.press(key.upper() if k % 2 else key)
                sync_api.expect(page.locator("#progress")).to_have_text(f"{k + 2} / 8")
                page.wait_for_selector("body[data-state=ready]")
            assert page.locator("#image").evaluate("img => img.naturalWidth") == 16
            page.screenshot(path=str(ARTIFACTS / "reader_study_reader.png"))

            # Reload: the reader resumes at image 6.
            page.reload()
            page.wait_for_selector("body[data-state=ready]")
            assert page.inner_text("#progress") == "6 / 8"

            admin = browser.new_page(viewport={"width": 1200, "height": 900})
            admin.goto(f"{base}/admin#token={made.admin_token}")
            admin.wait_for_selector("body[data-state=ready]")
            assert "5 / 8" in admin.inner_text("#progress-table")
            decisions = admin.inner_text("#decision-table")
            admin.screenshot(path=str(ARTIFACTS / "reader_study_admin.png"), full_page=True)

            denied = browser.new_page()
            denied.goto(f"{base}/admin#token={token}")  # a reader's token on the admin page
            denied.wait_for_selector("body[data-state=error]")
            browser.close()
    finally:
        with study.engine.connect() as conn:
            rows = conn.execute(select(db.answers_table.c.answer, db.answers_table.c.confidence,
                                       db.images_table.c.truth)
                                .join(db.images_table, db.images_table.c.id == db.answers_table.c.image_id)).all()
        study.close()
    assert sorted(r.answer for r in rows) == sorted("real" if k == "r" else "synthetic" for k in KEYS)
    assert [r.confidence for r in rows].count(4) == 1
    # The admin table shows exactly the database's counts: judged real / synthetic per image set.
    judged = {(t, a): sum(1 for r in rows if (r.truth, r.answer) == (t, a))
              for t in ("real", "synthetic") for a in ("real", "synthetic")}
    cells = re.findall(r"(\d+)/(\d+) \(", decisions)
    # Row order: real row (real images, synthetic images), then synthetic row.
    shown = [int(k) for k, _ in cells]
    assert shown == [judged["real", "real"], judged["synthetic", "real"],
                     judged["real", "synthetic"], judged["synthetic", "synthetic"]]
    assert sum(shown) == 5
