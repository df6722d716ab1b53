"""The papermill pipeline: outputs, --only, -p, failure path and determinism.

Notebook executions are expensive (a kernel start each), so these tests share the session's full
run (``pipeline_run``) and add two: ``--only 02 -p SPY_SIZE 20`` (checks --only, -p and determinism)
and a three-cell notebook that raises.
"""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from conftest import NOTEBOOKS_DIR, run_pipeline
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from cfutils.present import pipeline

pytestmark = pytest.mark.notebook

COMMITTED = [p.stem for p in pipeline.discover_notebooks(NOTEBOOKS_DIR)]
#: The notebooks this environment can run; the others (07 without pyspark) are skipped with a reason.
RUNNABLE = [p.stem for p in pipeline.discover_notebooks(NOTEBOOKS_DIR) if not pipeline.missing_requirements(p)]


# ---------------------------------------------------------------- pure helpers (no kernel)


def _write_notebook(path, *sources, parameters=""):
    """A minimal notebook: markdown, the shared parameters (+ ``parameters``), then ``sources``."""
    cells = [new_markdown_cell("A notebook written by a test.")]
    shared = 'DATA = "sample"\nSEED = 0\nOUTPUT_DIR = "outputs"\nSPLIT = "global_time"\n'
    cells.append(new_code_cell(shared + parameters, metadata={"tags": ["parameters"]}))
    cells += [new_code_cell(source) for source in sources]
    nbformat.write(
        new_notebook(
            cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        ),
        path,
    )


def _wait_until_finished(notebook_name):
    """Notebook source that waits until papermill has written ``notebook_name``'s final notebook in
    OUTPUT_DIR (its end time is set after that kernel has shut down, failed or not), then 2 s more,
    so that the pipeline has seen it end. Gives up after 120 s."""
    return (
        "import json, pathlib, time\n"
        f"done = pathlib.Path(OUTPUT_DIR) / {notebook_name!r}\n"
        "def finished():\n"
        "    try:\n"
        "        return json.loads(done.read_text())['metadata']['papermill']['end_time'] is not None\n"
        "    except (OSError, ValueError, KeyError):\n"
        "        return False\n"
        "for _ in range(1200):\n"
        "    if finished():\n"
        "        break\n"
        "    time.sleep(0.1)\n"
        "time.sleep(2)\n"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("20", 20),
        ("0.5", 0.5),
        ("true", True),
        ("[1, 2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ("None", None),
        ("(1, 2)", (1, 2)),
        ("cosine", "cosine"),
        ("data/raw", "data/raw"),
        ("", ""),
    ],
)
def test_parse_value_reads_json_then_python_literals_else_a_string(text, value):
    assert pipeline.parse_value(text) == value


def test_discover_notebooks_orders_by_number_and_ignores_other_files(tmp_path):
    for name in ["10_last.ipynb", "02_b.ipynb", "01_a.ipynb", "draft.ipynb", "3_short.ipynb", "02_b.py"]:
        (tmp_path / name).write_text("{}")
    assert [p.name for p in pipeline.discover_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb", "10_last.ipynb"]


def test_select_notebooks_accepts_numbers_and_names_and_rejects_unknown(tmp_path):
    notebooks = [tmp_path / "01_a.ipynb", tmp_path / "02_b.ipynb", tmp_path / "03_c.ipynb"]
    assert pipeline.select_notebooks(notebooks, []) == notebooks
    assert pipeline.select_notebooks(notebooks, ["3", "01_a"]) == [notebooks[0], notebooks[2]]
    with pytest.raises(pipeline.PipelineError, match="--only 04: no such notebook"):
        pipeline.select_notebooks(notebooks, ["04"])


def test_dump_json_is_sorted_and_stable():
    text = pipeline.dump_json({"b": {"y": 1, "x": [1.5, None]}, "a": "é"})
    assert text == '{\n  "a": "é",\n  "b": {\n    "x": [\n      1.5,\n      null\n    ],\n    "y": 1\n  }\n}\n'


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "99"], "--only 99: no such notebook"),
        (["-p", "NOT_A_PARAMETER", "1"], "-p NOT_A_PARAMETER: no selected notebook has such a parameter"),
        (["-p", "SEED", "1"], "use --data, --seed, --output-dir or --split"),
        (["--data", "no/such/folder"], "--data no/such/folder: no such file or folder"),
        (["--jobs", "0"], "--jobs 0: must be at least 1"),
        (["--split", "given"], "--split given: --data must name a MovieLens 100K .base file"),
    ],
)
def test_usage_errors_exit_2_before_running_anything(tmp_path, capsys, argv, message):
    output_dir = tmp_path / "out"
    assert pipeline.main(["--output-dir", str(output_dir), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not output_dir.exists()


# ---------------------------------------------------------------- the session's full run


def test_full_run_executes_every_notebook_and_writes_the_artifacts(pipeline_run):
    assert pipeline_run.exit_code == 0, pipeline_run.stderr
    out = pipeline_run.output_dir
    assert sorted(p.stem for p in out.glob("*.ipynb")) == RUNNABLE
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == COMMITTED
    assert all(metrics[name] for name in COMMITTED), "every notebook records its key results or why it was skipped"
    timings = json.loads((out / "timings.json").read_text())
    assert list(timings) == RUNNABLE and all(timings[name]["notebook_wall_s"] > 0 for name in RUNNABLE)
    for name in COMMITTED:  # wall times (or the reason for a skip) are printed per notebook
        assert f"{name}.ipynb: " in pipeline_run.stdout


def test_metrics_json_matches_what_the_executed_notebooks_recorded(pipeline_run):
    metrics = json.loads((pipeline_run.output_dir / "metrics.json").read_text())
    skipped = {
        p.stem: {"skipped": pipeline.skip_reason(pipeline.missing_requirements(p))}
        for p in pipeline.discover_notebooks(NOTEBOOKS_DIR)
        if p.stem not in RUNNABLE
    }
    assert metrics == {name: skipped.get(name) or pipeline_run.records(name) for name in COMMITTED}
    volatile = json.loads((pipeline_run.output_dir / "timings.json").read_text())
    assert volatile["01_eda"]["load_seconds"] == pipeline_run.records("01_eda", volatile=True)["load_seconds"]
    assert "load_seconds" not in metrics["01_eda"]


def test_every_notebook_saves_figures_as_png(pipeline_run):
    figures = sorted((pipeline_run.output_dir / "figures").glob("*.png"))
    for name in RUNNABLE:
        assert any(f.name.startswith(name[:3]) for f in figures), f"{name} saved no figure"
    assert all(f.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for f in figures)


def test_report_has_the_summary_then_every_notebook_then_the_records(pipeline_run):
    report = (pipeline_run.output_dir / "report.html").read_text(encoding="utf-8")
    summary = report.index('<section id="summary">')
    sections = [report.index(f'<section class="notebook" id="nb-{name}">') for name in RUNNABLE]
    table = report.index('<table class="metrics">')
    assert summary < sections[0] and sections == sorted(sections) and sections[-1] < table
    head = report[summary : sections[0]]
    for expected in (
        'class="summary-results"',
        'class="summary-ranking"',
        "stack_gain",
        "best_recommender",
        "ndcg_gain_over_ease",
        "data:image/png;base64,",
    ):
        assert expected in head, expected
    assert "<td>n_ratings</td>" in report and "<td>sparsity</td>" in report
    assert report.count("data:image/png;base64,") >= len(RUNNABLE), "figures are embedded"
    assert "<script" not in report and "$$" not in report, "no CDN script, formulas typeset when written"


def test_notebooks_receive_absolute_paths(pipeline_run, tiny_data_dir):
    executed = nbformat.read(pipeline_run.output_dir / "01_eda.ipynb", as_version=4)
    injected = executed.metadata.papermill.parameters
    assert injected["DATA"] == str(tiny_data_dir.resolve())
    assert injected["OUTPUT_DIR"] == str(pipeline_run.output_dir.resolve())
    assert (injected["SEED"], injected["SPLIT"]) == (0, "global_time")


# ---------------------------------------------------------------- --only, -p and determinism in one run


@pytest.fixture(scope="module")
def only_02_run(tiny_data_dir, tmp_path_factory):
    """``--only 02 -p SPY_SIZE 20``: SPY_SIZE changes a figure and no recorded value."""
    output_dir = tmp_path_factory.mktemp("only_02")
    return run_pipeline("--only", "02", "-p", "SPY_SIZE", "20", data=tiny_data_dir, output_dir=output_dir)


def test_only_runs_the_selected_notebook(only_02_run):
    assert only_02_run.exit_code == 0, only_02_run.stderr
    assert [p.name for p in only_02_run.output_dir.glob("*.ipynb")] == ["02_sparsity_cold_start.ipynb"]
    assert list(json.loads((only_02_run.output_dir / "metrics.json").read_text())) == ["02_sparsity_cold_start"]
    assert all(f.name.startswith("02_") for f in (only_02_run.output_dir / "figures").iterdir())


def test_p_sets_a_notebook_parameter_parsed_as_a_literal(only_02_run, pipeline_run):
    executed = nbformat.read(only_02_run.output_dir / "02_sparsity_cold_start.ipynb", as_version=4)
    assert executed.metadata.papermill.parameters["SPY_SIZE"] == 20
    spy = "figures/02_matrix_spy.png"
    assert (only_02_run.output_dir / spy).read_bytes() != (pipeline_run.output_dir / spy).read_bytes()


def test_p_goes_only_to_the_notebooks_that_declare_it(tmp_path):
    _write_notebook(tmp_path / "01_a.ipynb", "x = 1")
    _write_notebook(tmp_path / "02_b.ipynb", "x = 1", parameters="K = 5")
    shared = {"DATA": "sample", "SEED": 0, "OUTPUT_DIR": "/out", "SPLIT": "random"}
    plan = pipeline.plan([tmp_path / "01_a.ipynb", tmp_path / "02_b.ipynb"], shared, {"K": 7})
    assert list(plan.values()) == [shared, shared | {"K": 7}]


def test_two_runs_with_the_same_seed_give_identical_metrics(pipeline_run, only_02_run):
    # Two independent executions of 02 (in the full run, and alone): it holds the seeded random
    # split and sampling. Both files come from the same serialiser, so serialising the 02 part of
    # the full run alone and comparing it with the --only run's file is a byte comparison.
    full = json.loads((pipeline_run.output_dir / "metrics.json").read_text())
    alone = (only_02_run.output_dir / "metrics.json").read_bytes()
    assert pipeline.dump_json({"02_sparsity_cold_start": full["02_sparsity_cold_start"]}).encode() == alone


# ---------------------------------------------------------------- failure path


def test_a_failing_notebook_exits_1_names_notebook_and_cell_and_keeps_the_partial_run(tiny_data_dir, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _write_notebook(notebooks / "01_boom.ipynb", "x = 1", 'raise ValueError("boom")', "y = 2")
    _write_notebook(notebooks / "02_never.ipynb", "z = 3")
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    (output_dir / "metrics.json").write_text("{}")  # a stale result of an earlier run

    run = run_pipeline(data=tiny_data_dir, output_dir=output_dir, notebooks_dir=notebooks)

    assert run.exit_code == 1
    assert "01_boom.ipynb failed in cell 4 (In [4]): ValueError: boom" in run.stderr
    assert 'raise ValueError("boom")' in run.stderr
    partial = nbformat.read(output_dir / "01_boom.ipynb", as_version=4)
    code = [c for c in partial.cells if c.cell_type == "code"]
    assert any(o.get("ename") == "ValueError" for c in code for o in c.outputs)
    assert code[-1].source == "y = 2" and code[-1].execution_count is None, "cells after the error do not run"
    assert not (output_dir / "02_never.ipynb").exists(), "the pipeline stops at the first failure"
    assert not (output_dir / "metrics.json").exists(), "no stale metrics.json survives a failed run"


def test_notebooks_run_at_once_in_their_own_processes_and_are_recorded_in_order(tiny_data_dir, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    # 01 finishes last: it waits for 03 (a fixed pause failed on a loaded machine, where 03's
    # kernel took longer to start than the pause).
    for number, wait in (("01", _wait_until_finished("03_pid.ipynb")), ("02", ""), ("03", "")):
        _write_notebook(
            notebooks / f"{number}_pid.ipynb",
            f"import os, time\nfrom cfutils.present.record import record\n{wait}record('pid', os.getpid())",
        )

    run = run_pipeline("--jobs", "2", data=tiny_data_dir, output_dir=tmp_path / "out", notebooks_dir=notebooks)

    assert run.exit_code == 0, run.stderr
    metrics = json.loads((run.output_dir / "metrics.json").read_text())
    assert list(metrics) == ["01_pid", "02_pid", "03_pid"] and len({m["pid"] for m in metrics.values()}) == 3
    lines = [line.split(":")[0] for line in run.stdout.splitlines() if ".ipynb: " in line]
    assert lines == ["02_pid.ipynb", "03_pid.ipynb", "01_pid.ipynb"], "each is reported when it ends"


def test_a_failure_among_notebooks_run_at_once_stops_those_not_started(tiny_data_dir, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _write_notebook(notebooks / "01_boom.ipynb", 'raise ValueError("boom")')
    # 02 holds the second worker until 01 has failed.
    _write_notebook(notebooks / "02_slow.ipynb", "import time\n" + _wait_until_finished("01_boom.ipynb"))
    _write_notebook(notebooks / "03_never.ipynb", "z = 3")

    run = run_pipeline("--jobs", "2", data=tiny_data_dir, output_dir=tmp_path / "out", notebooks_dir=notebooks)

    assert run.exit_code == 1 and "01_boom.ipynb failed in cell 3" in run.stderr
    assert not (run.output_dir / "03_never.ipynb").exists(), "a notebook not yet started is not run"
    assert not (run.output_dir / "metrics.json").exists()


def test_the_embedded_data_runs_two_notebooks_at_once_a_users_file_one(tiny_data_dir):
    assert pipeline.default_notebooks_at_once(str(tiny_data_dir)) == 1
    assert pipeline.default_notebooks_at_once("sample") == min(2, len(os.sched_getaffinity(0)))


def test_a_notebook_whose_requirement_is_missing_is_skipped_with_a_one_line_reason(tiny_data_dir, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _write_notebook(notebooks / "01_needs.ipynb", "x = 1")
    needing = nbformat.read(notebooks / "01_needs.ipynb", as_version=4)
    needing.metadata["cfutils"] = {"requires": ["json", "cfutils_no_such_package"]}
    nbformat.write(needing, notebooks / "01_needs.ipynb")
    assert pipeline.missing_requirements(notebooks / "01_needs.ipynb") == ["cfutils_no_such_package"]

    run = run_pipeline(data=tiny_data_dir, output_dir=tmp_path / "out", notebooks_dir=notebooks)

    assert run.exit_code == 0, run.stderr
    reason = pipeline.skip_reason(["cfutils_no_such_package"])
    assert f"01_needs.ipynb: {reason}\n" in run.stdout and "\n" not in reason
    assert json.loads((run.output_dir / "metrics.json").read_text()) == {"01_needs": {"skipped": reason}}
    assert not (run.output_dir / "01_needs.ipynb").exists()
