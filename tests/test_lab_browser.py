"""Notebook 06's list explorer in a real JupyterLab (``make test-browser``).

The test starts JupyterLab on localhost with a token (``--allow-root`` when run as root, as in CI)
and the project's ``jupyter_lab_config.py``, on a copy of notebook 06 whose parameters point at
the tiny data. Chromium runs every cell, picks another user and types a title, and the rendered
list must change each time. Every request of the page that would leave localhost is blocked and
recorded: there must be none; the server's own news feed and PyPI extension manager are off.
The server is shut down at the end.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import papermill
import pytest
from browser import WIDTH, launch, requires_browser, watch_console
from conftest import NOTEBOOKS_DIR, REPO_ROOT
from hostile import HOSTILE_TITLES

from cfutils.data.dataset import load_dataset

pytestmark = [pytest.mark.notebook, requires_browser]

TOKEN = "cfutils-browser-test"
#: Notebook 06 on the tiny data, with one value per grid so that running every cell takes seconds.
SMALL = {
    "EASE_LAMBDA_GRID": [300.0],
    "BLEND_WEIGHT_GRID": [1.0],
    "POPULARITY_WEIGHT_GRID": [1.0],
    "N_FACTORS": 8,
    "N_CANDIDATES": 30,
    "INTERACTIVE": True,
}
RUN_ALL_SECONDS = 600
SERVER_START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_server(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_SECONDS} s:\n{log.read_text()}")


def stop_server(url: str, process: subprocess.Popen) -> None:
    """Ask the server to shut down (kernels included); terminate, then kill, only if it does not."""
    try:
        urllib.request.urlopen(urllib.request.Request(f"{url}/api/shutdown?token={TOKEN}", method="POST"), timeout=10)
        process.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serve_lab(data_dir: Path, root: Path):
    """(url, notebook name, server log) of a JupyterLab serving a copy of notebook 06 set to ``data_dir``."""
    notebook = "06_explore.ipynb"
    papermill.execute_notebook(
        NOTEBOOKS_DIR / "06_recommendations.ipynb",
        root / notebook,
        prepare_only=True,
        parameters={"DATA": str(data_dir), "OUTPUT_DIR": str(root / "outputs"), **SMALL},
    )
    for plugin, values in (
        ("notebook-extension/tracker", '{"windowingMode": "none"}'),  # every cell in the page
        ("apputils-extension/notification", '{"fetchNews": "false"}'),
    ):  # no news prompt over the widgets
        settings = root / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(values)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    home = {
        name: str(root / name.lower())
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")
    }
    command = [
        str(Path(sys.executable).with_name("jupyter")),
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        f"--config={REPO_ROOT / 'jupyter_lab_config.py'}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.workspaces_dir={root / 'workspaces'}",
        f"--LabApp.user_settings_dir={root / 'settings'}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = root / "jupyterlab.log"
    with log.open("w") as sink:
        process = subprocess.Popen(command, cwd=root, env={**os.environ, **home}, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for_server(url, process, log)
        yield url, notebook, log
    finally:
        stop_server(url, process)


@pytest.fixture(scope="module")
def lab(tiny_data_dir, tmp_path_factory):
    with serve_lab(tiny_data_dir, tmp_path_factory.mktemp("lab")) as served:
        yield served


@pytest.fixture(scope="module")
def hostile_lab(hostile_data_dir, tmp_path_factory):
    with serve_lab(hostile_data_dir, tmp_path_factory.mktemp("hostile_lab")) as served:
        yield served


def explorer_view(page):
    return page.locator(".widget-html-content").filter(has_text="the top")


def text_of(locator) -> str:
    """Rendered text with the non-breaking spaces that ipywidgets puts in labels made plain."""
    return locator.inner_text().replace("\xa0", " ")


def wait_for_change(page, before: str, seconds: float = 60) -> str:
    """The explorer view's text once it differs from ``before``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = text_of(explorer_view(page))
        if text != before:
            return text
        page.wait_for_timeout(250)
    pytest.fail(f"the explorer's view did not change within {seconds} s:\n{before[:500]}")


def run_all_cells(playwright, url: str, notebook: str, log: Path, tmp_path: Path):
    """(browser, page, requests that tried to leave localhost, console errors) once JupyterLab has run
    every cell of ``notebook`` and the list explorer shows."""
    browser = launch(playwright)
    context = browser.new_context(viewport={"width": WIDTH, "height": 1000})
    outside: list[str] = []
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlparse(route.request.url).hostname == "127.0.0.1"
            else (outside.append(route.request.url), route.abort())
        ),
    )
    page = context.new_page()
    console_errors = watch_console(page)
    page.goto(f"{url}/lab/tree/{notebook}?token={TOKEN}")
    page.wait_for_function(
        "window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session",
        timeout=120_000,
    )
    config = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent)")
    assert config["news"] == {"disabled": True} and "Extension Manager is 'readonly'" in log.read_text(), (
        "jupyter_lab_config.py: no news feed, no PyPI extension manager"
    )
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    try:
        explorer_view(page).filter(has_text="What if user").wait_for(timeout=RUN_ALL_SECONDS * 1000)
    except Exception:
        errors = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).all_inner_texts()
        page.screenshot(path=str(tmp_path / "lab.png"), full_page=True)
        pytest.fail(
            f"no explorer after {RUN_ALL_SECONDS} s; cell errors: {errors[-3:]}; see {tmp_path / 'lab.png'}, {log}"
        )
    return browser, page, outside, console_errors


def test_the_list_explorer_answers_a_pick_and_a_title_in_jupyterlab(lab, tiny_data_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    url, notebook, log = lab
    dataset = load_dataset(str(tiny_data_dir), cache=False)
    titles = dataset.titles
    with sync_playwright() as playwright:
        browser, page, outside, console_errors = run_all_cells(playwright, url, notebook, log, tmp_path)
        heavy = text_of(explorer_view(page))

        users = page.locator(".widget-dropdown").filter(has=page.locator("label", has_text="user")).locator("select")
        light_label = users.locator("option").nth(1).inner_text().replace("\xa0", " ")
        assert light_label.startswith("light: user ")
        users.select_option(index=1)
        light = wait_for_change(page, heavy)
        light_user = light_label.split()[2]
        assert f"the top 10 of user {light_user}" in light and f"What if user {light_user} rated" in light

        counts = dataset.ratings["movie_id"].value_counts()
        text = next(
            word for word in str(titles.at[counts.idxmax(), "title"]).split() if len(word) >= 4 and word.isalpha()
        )
        page.locator(".widget-text").filter(has=page.locator("label", has_text="title")).locator("input").fill(text)
        typed = wait_for_change(page, light)
        heading = next(line for line in typed.splitlines() if line.startswith("What if user"))
        rated = heading.removeprefix(f"What if user {light_user} rated ").rsplit(" ", 1)[0]
        assert text.lower() in rated.lower(), heading
        assert typed.split(heading)[1] != light.split("What if user")[1].split("\n", 1)[1], "the what-if list changed"
        page.screenshot(path=str(tmp_path / "lab_explorer.png"))
        print(f"screenshot of the list explorer in JupyterLab: {tmp_path / 'lab_explorer.png'}")
        browser.close()
    assert outside == [], f"JupyterLab tried to reach the network: {outside}"
    print(f"console errors: {console_errors}")


def test_hostile_titles_stay_text_in_jupyterlab(hostile_lab, tmp_path):
    """Issue 31: notebook 06 on data whose most-rated movies carry script, handlers and markup in their
    titles, every cell run in JupyterLab: no payload runs (``window.pwned`` stays unset) and the titles
    show as text in the outputs and the explorer."""
    from playwright.sync_api import sync_playwright

    url, notebook, log = hostile_lab
    with sync_playwright() as playwright:
        browser, page, outside, _ = run_all_cells(playwright, url, notebook, log, tmp_path)
        page.wait_for_timeout(1000)  # an onerror fires after the failed image load
        pwned = page.evaluate("typeof window.pwned")
        text = page.locator(".jp-Notebook").inner_text()
        browser.close()
    assert pwned == "undefined"
    shown = [title for title in HOSTILE_TITLES if title in text]
    assert "<script>window.pwned = 1</script>" in shown, "the hostile titles appear in the outputs, as text"
    assert outside == [], f"JupyterLab tried to reach the network: {outside}"
