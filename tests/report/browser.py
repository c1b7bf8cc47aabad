"""Open a report in headless Chromium (Debian's chromium, via playwright) and look at what rendered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "_artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("chromium not installed (Debian package 'chromium'; .ci/run installs it)")
    return path


def render(html: Path, screenshot_name: str) -> dict:
    """Section ids, every image's natural width and the page height; saves a full-page screenshot."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(html.resolve().as_uri(), wait_until="load")
            info = page.evaluate("""() => ({
                sections: Array.from(document.querySelectorAll("section")).map(s => ({
                    id: s.id, height: s.getBoundingClientRect().height, text: s.innerText.length})),
                images: Array.from(document.images).map(i => ({alt: i.alt, width: i.naturalWidth,
                                                                complete: i.complete})),
                missing: Array.from(document.querySelectorAll(".missing")).map(e => e.innerText),
            })""")
            page.screenshot(path=str(ARTIFACTS / screenshot_name), full_page=True)
        finally:
            browser.close()
    return info
