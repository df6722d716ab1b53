"""Executed notebooks read cleanly whatever the environment: figures inline even with
``MPLBACKEND=Agg`` (headless servers, CI), no ``PosixPath(...)`` printed, no frozen progress bars."""

from __future__ import annotations

import json

import nbformat
import pytest
from conftest import run_pipeline

from cfutils.core.progress import ENVIRONMENT_VARIABLE, batch_environment, interactive, progress_bar
from cfutils.present.plotting import FigurePath, save_figure

pytestmark = pytest.mark.notebook

NOTEBOOKS = ("02_sparsity_cold_start", "05_model_comparison")
#: Text a progress bar leaves in a saved output: "desc:   0%|   | 0/5 [00:00<?, ?it/s]".
PROGRESS_MARKS = ("%|", "it/s]", "?B/s]")


@pytest.fixture(scope="module")
def agg_run(tiny_data_dir, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MPLBACKEND", "Agg")
        run = run_pipeline(
            "--only", "02", "--only", "05", data=tiny_data_dir, output_dir=tmp_path_factory.mktemp("agg_run")
        )
    assert run.exit_code == 0, run.stderr
    return run


def _outputs(run, name):
    notebook = nbformat.read(run.output_dir / f"{name}.ipynb", as_version=4)
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_saved_figure_is_inline_under_the_agg_backend(agg_run, name):
    images = [o for o in _outputs(agg_run, name) if "image/png" in o.get("data", {})]
    saved = list((agg_run.output_dir / "figures").glob(f"{name[:2]}_*.png"))
    assert saved and len(images) >= len(saved), f"{len(images)} inline images for {len(saved)} saved figures"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_path_repr_progress_bar_or_widget_is_left_in_the_outputs(agg_run, name):
    for output in _outputs(agg_run, name):
        data = output.get("data", {})
        text = output.get("text", "") + json.dumps(data.get("text/plain", ""))
        assert "PosixPath(" not in text
        assert not any(mark in text for mark in PROGRESS_MARKS), text[:200]
        assert "application/vnd.jupyter.widget-view+json" not in data


def test_figure_path_is_a_path_that_displays_nothing(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    path = save_figure(fig, "00_line", tmp_path)
    plt.close(fig)
    assert isinstance(path, FigurePath) and path == tmp_path / "figures" / "00_line.png" and path.is_file()
    assert path._ipython_display_() is None


def test_progress_bars_are_off_in_a_batch_environment_only(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    assert interactive() and not progress_bar(range(3)).disable
    assert progress_bar(range(3), disable=True).disable
    with batch_environment():
        assert not interactive() and progress_bar(range(3)).disable
    assert interactive()


def test_notebook_06s_explorer_is_a_static_table_of_its_default_selection_under_the_pipeline(pipeline_run):
    heavy = pipeline_run.records("06_recommendations")["example_users"]["heavy"]["user_id"]
    outputs = _outputs(pipeline_run, "06_recommendations")
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
    explorer = [o["data"]["text/html"] for o in outputs if "What if user" in o.get("data", {}).get("text/html", "")]
    assert len(explorer) == 1 and f"the top 10 of user {heavy}</h4>" in explorer[0]
    assert f"What if user {heavy} rated" in explorer[0] and explorer[0].count("<table") == 2
