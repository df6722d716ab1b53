"""The run report in a real browser (``make test-browser``): Debian's chromium driven by Playwright.

The report of a small run (notebooks 02 and 05 on the tiny data: formulas, a model comparison,
figures) is opened from disk with the network cut off, as on a machine without internet.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import WIDTH, launch, requires_browser, watch_console
from conftest import run_pipeline

pytestmark = [pytest.mark.notebook, requires_browser]


@pytest.fixture(scope="module")
def report(tiny_data_dir, tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("browser_run")
    run = run_pipeline("--only", "02", "--only", "05", data=tiny_data_dir, output_dir=output_dir)
    assert run.exit_code == 0, run.stderr
    return output_dir / "report.html"


@pytest.fixture(scope="module")
def page(report):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        context = browser.new_context(viewport={"width": WIDTH, "height": 900}, offline=True)
        page = context.new_page()
        page.failed_requests, page.console_errors = [], watch_console(page)
        page.on("requestfailed", lambda request: page.failed_requests.append(request.url))
        page.goto(report.as_uri(), wait_until="load")
        yield page
        browser.close()


def test_the_report_loads_offline_without_failed_requests_or_console_errors(page):
    assert page.failed_requests == []
    assert page.console_errors == []


def test_the_summary_comes_first_with_real_tables_and_loaded_figures(page):
    first = page.evaluate("document.body.firstElementChild.id")
    assert first == "summary"
    summary = page.locator("#summary")
    models = summary.locator("table.summary-results tbody tr")
    assert models.count() >= 3
    assert "test_rmse" in summary.locator("table.summary-results thead").inner_text()
    assert "stack_gain" in summary.locator("table.key-numbers").inner_text()
    images = summary.locator("img")
    assert images.count() >= 1
    widths = images.evaluate_all("images => images.map(image => image.complete ? image.naturalWidth : 0)")
    assert all(width > 0 for width in widths), widths
    every_width = page.locator("img").evaluate_all("images => images.map(image => image.naturalWidth)")
    assert len(every_width) > len(widths) and min(every_width) > 0, "the notebooks' own figures load too"


def test_every_notebook_links_back_to_the_summary(page):
    for section in page.locator("section.notebook").all():
        assert section.locator('a[href="#summary"]').count() >= 1


def test_formulas_are_typeset_and_no_raw_tex_is_left(page):
    formulas = page.locator("math")
    assert formulas.count() >= 10
    box = formulas.first.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    text = page.locator("body").inner_text()
    for raw in ("$$", "\\(", "\\frac", "\\sum", "\\hat"):
        assert raw not in text, f"raw TeX {raw!r} left visible"


def test_no_horizontal_overflow_at_1280_px_and_a_screenshot(page, tmp_path):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at {WIDTH} px"
    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot of the report's first screen: {screenshot}")
