"""Hostile movie titles are inert in the report, in a real browser (``make test-browser``, issue 31).

The tiny data's most-rated movies are renamed with :data:`hostile.HOSTILE_TITLES` (``<script>``,
``onerror``, ``&``, quotes, ``$``; the ``hostile_data_dir`` fixture of conftest.py); notebooks 01 and
03 run on it through the pipeline, and
Chromium opens the report offline. Each payload would set ``window.pwned``: it must stay unset, and
the titles must show as text. JupyterLab's part is in test_lab_browser.py.
"""

from __future__ import annotations

import pytest
from browser import WIDTH, launch, requires_browser
from conftest import run_pipeline
from hostile import HOSTILE_TITLES

pytestmark = [pytest.mark.notebook, requires_browser]


@pytest.fixture(scope="module")
def report(hostile_data_dir, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("hostile_run")
    run = run_pipeline("--only", "01", "--only", "03", data=hostile_data_dir, output_dir=output_dir)
    assert run.exit_code == 0, run.stderr
    return output_dir / "report.html"


def test_no_payload_runs_and_the_titles_show_as_text_in_the_report(report):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_context(viewport={"width": WIDTH, "height": 900}, offline=True).new_page()
        page.goto(report.as_uri(), wait_until="load")
        page.wait_for_timeout(1000)  # an onerror fires after the failed image load
        assert page.evaluate("typeof window.pwned") == "undefined"
        text = page.locator("body").inner_text()
        browser.close()
    shown = [title for title in HOSTILE_TITLES if title in text]
    assert shown, "the hostile titles appear in the report, as text"
    assert "<script>window.pwned = 1</script>" in text
