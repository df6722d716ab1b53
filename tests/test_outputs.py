"""One run per output folder, and final files that are whole or absent (issue 31, items 2 and 3)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import run_pipeline
from nbformat.v4 import new_code_cell, new_notebook

from cfutils.present import pipeline
from cfutils.present.outputs import OutputError, OutputInUseError, output_lock, write_files

ROOT = Path(__file__).resolve().parents[1]
#: A second process that holds the lock of the folder named by its argument for a minute.
HOLD_THE_LOCK = (
    "import sys, time\nfrom pathlib import Path\nfrom cfutils.present.outputs import output_lock\n"
    "with output_lock(Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(60)\n"
)


def _notebook(path: Path, source: str) -> None:
    shared = 'DATA = "sample"\nSEED = 0\nOUTPUT_DIR = "outputs"\nSPLIT = "global_time"\n'
    cells = [new_code_cell(shared, metadata={"tags": ["parameters"]}), new_code_cell(source)]
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(new_notebook(cells=cells, metadata=kernel), path)


def test_a_second_lock_on_the_same_folder_is_refused_and_freed_after(tmp_path):
    with output_lock(tmp_path / "out"):
        with pytest.raises(OutputInUseError, match="another run is writing to"):
            with output_lock(tmp_path / "out"):
                pass
    with output_lock(tmp_path / "out"):  # released: a later run may start
        pass


def test_a_run_into_a_folder_another_process_is_writing_to_exits_2(tmp_path, capsys):
    output_dir = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(output_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        (output_dir / "metrics.json").write_text("the other run's")
        assert pipeline.main(["--output-dir", str(output_dir), "--only", "02", "--no-progress"]) == 2
        assert (
            capsys.readouterr().err.strip()
            == f"error: another run is writing to {output_dir} (lock {output_dir / '.cfutils.lock'})"
        )
        assert (output_dir / "metrics.json").read_text() == "the other run's", "the refused run removed nothing"
    finally:
        holder.kill()
        holder.wait()


def test_files_are_renamed_into_place_together(tmp_path):
    write_files({tmp_path / "a.json": "A", tmp_path / "b.html": "B"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.html"]
    assert (tmp_path / "b.html").read_text() == "B"


def test_a_disk_full_write_leaves_the_old_files_and_no_temporary_one_and_names_the_file(tmp_path, monkeypatch):
    (tmp_path / "report.html").write_text("old report")
    real_fdopen = os.fdopen

    def full_disk(handle, *args, **kwargs):
        file = real_fdopen(handle, *args, **kwargs)
        if "report" in os.readlink(f"/proc/self/fd/{handle}"):
            file.write = lambda text: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device"))
        return file

    monkeypatch.setattr(os, "fdopen", full_disk)
    with pytest.raises(OutputError) as raised:
        write_files({tmp_path / "metrics.json": "{}", tmp_path / "report.html": "new report"})
    assert str(raised.value) == f"cannot write {tmp_path / 'report.html'}: No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"], "no temporary file, no half of the set"
    assert (tmp_path / "report.html").read_text() == "old report"


@pytest.mark.parametrize("flag", ["--output-dir", "--data"])
def test_an_empty_output_dir_or_data_is_refused_with_exit_2(tmp_path, capsys, flag, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["--output-dir", str(tmp_path / "out"), flag, ""]
    assert pipeline.main(argv) == 2
    assert f"error: {flag} is empty" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [], "nothing written into the current folder"


@pytest.mark.parametrize("inherited", [signal.SIG_DFL, signal.SIG_IGN])
def test_workers_end_on_ctrl_c_unless_the_run_ignores_it(inherited):
    code = "import signal; from cfutils.present.pipeline import quiet_interrupt; quiet_interrupt(); "
    code += "print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    previous = signal.signal(signal.SIGINT, inherited)  # what the worker's interpreter starts with
    try:
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.stdout.strip() == str(inherited is signal.SIG_IGN), result.stderr


@pytest.mark.notebook
def test_ctrl_c_prints_one_line_and_exits_130(tiny_data_dir, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _notebook(notebooks / "01_sleep.ipynb", "import time\nprint('sleeping', flush=True)\ntime.sleep(120)")
    output_dir = tmp_path / "out"
    command = [sys.executable, "-m", "cfutils", "--data", str(tiny_data_dir), "--output-dir", str(output_dir)]
    command += ["--notebooks-dir", str(notebooks), "--no-progress"]
    # A terminal's foreground job starts with Ctrl-C at its default. A child inherits an *ignored* SIGINT, and
    # something earlier in a full test session can leave this process ignoring it (the run then never sees the
    # interrupt, and the test failed only in full runs), so the child starts from the default.
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        run = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 90
    while not (output_dir / ".01_sleep.partial.ipynb").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the kernel is in the sleeping cell
    os.killpg(run.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    assert stderr.strip().splitlines() == [
        f"interrupted: the run into {output_dir} stopped; its outputs are incomplete"
    ], stderr
    assert not list(output_dir.glob(".*.partial.ipynb"))


def test_the_executed_notebook_appears_only_when_complete(tiny_data_dir, tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _notebook(
        notebooks / "01_look.ipynb", "import pathlib\nprint(sorted(p.name for p in pathlib.Path(OUTPUT_DIR).iterdir()))"
    )
    run = run_pipeline(data=tiny_data_dir, output_dir=tmp_path / "out", notebooks_dir=notebooks)
    assert run.exit_code == 0, run.stderr
    printed = nbformat.read(tmp_path / "out" / "01_look.ipynb", as_version=4).cells[-1].outputs[0].text
    assert "01_look.ipynb" not in printed and ".01_look.partial.ipynb" in printed, printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "01", "-p", "TOP_MOVIES", "-5"], "-p TOP_MOVIES -5: 01_eda takes a number from 1 to inf"),
        (["--only", "01", "-p", "TEST_SIZE", "1.5"], "-p TEST_SIZE 1.5: 01_eda takes a number from 0.01 to 0.99"),
        (["--only", "03", "-p", "N_SIMILAR", '"ten"'], "-p N_SIMILAR 'ten': 03_similarity takes a number from 1"),
    ],
)
def test_p_values_outside_a_declared_range_exit_2_before_anything_runs(tmp_path, capsys, argv, message):
    output_dir = tmp_path / "out"
    assert pipeline.main(["--output-dir", str(output_dir), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not output_dir.exists()


def test_p_values_inside_the_range_pass():
    notebook = next(p for p in pipeline.discover_notebooks(pipeline.DEFAULT_NOTEBOOKS_DIR) if p.stem == "01_eda")
    pipeline.check_ranges(notebook, {"TOP_MOVIES": 1, "TEST_SIZE": 0.5})
