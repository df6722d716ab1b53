"""What the browser tests share (``make test-browser``): Debian's chromium, driven by Playwright.

The tests are skipped unless ``CFUTILS_BROWSER_TESTS=1``, which ``make test-browser`` sets after
installing chromium and Playwright, so ``make test`` needs neither.
"""

from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDTH = 1280

requires_browser = pytest.mark.skipif(
    os.environ.get("CFUTILS_BROWSER_TESTS") != "1", reason="browser tests: run make test-browser"
)


def launch(playwright):
    """Chromium at :data:`CHROMIUM`; Playwright's own browser download is never used."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def watch_console(page) -> list[str]:
    """The page's console errors and uncaught exceptions, collected as they come."""
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors
