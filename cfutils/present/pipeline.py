"""Run every numbered notebook end to end with papermill, and leave a reproducible record.

Command line (``make run`` calls the same)::

    python -m cfutils [--data sample|movielens-small|PATH] [--seed 0] [--output-dir outputs]
                               [--split global_time|per_user_time|random|probe|given]
                               [-p NAME VALUE]... [--only NN]... [--notebooks-dir DIR]

It executes ``notebooks/NN_*.ipynb`` in number order, up to ``--jobs`` at once (default two on the
embedded data, one on a file of yours), each in a fresh ``python3`` kernel whose
working directory is the notebooks folder (as in JupyterLab). ``DATA`` and ``OUTPUT_DIR`` are
passed as absolute paths, so relative paths on the command line mean "relative to where you ran
the command". ``OUTPUT_DIR`` then holds::

    NN_name.ipynb     the executed notebooks (a failed one is kept, up to the failing cell)
    figures/*.png     every figure the notebooks saved
    metrics.json      {"NN_name": {record: value}} of the deterministic records; byte-identical
                      for two runs with the same parameters and SEED
    timings.json      {"NN_name": {"notebook_wall_s": ..., volatile records}}
    report.html       the summary (parameters, key numbers, headline tables and figures), then
                      every executed notebook, then every recorded value

A notebook whose metadata lists Python packages under ``cfutils.requires`` (notebook 07 needs
``pyspark``, which ``make spark`` installs) is skipped when one is missing: the run prints one line
with the reason and records it in ``metrics.json`` as ``{"skipped": reason}``.

``metrics.json``, ``timings.json`` and ``report.html`` describe the notebooks of this run only
(``--only`` runs a subset); they are written when all notebooks of the run succeeded. When a run
starts it removes them, and the executed notebooks and ``figures/NN_*.png`` of the notebooks it is
about to run, so a stale file never passes for the result of a failed run. It removes nothing else.

``--output-dir`` and ``--seed`` are checked before anything runs: a usage error exits 2.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import nbformat
import papermill
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

from cfutils.core.progress import batch_environment
from cfutils.data.dataset import EMBEDDED, GIVEN_SUFFIXES
from cfutils.data.split import SPLIT_METHODS
from cfutils.present.outputs import OutputError, OutputInUseError, output_lock, write_files
from cfutils.present.record import read_records
from cfutils.present.report import report_html

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
#: Parameters every notebook declares; set with their own flags, never with ``-p``.
SHARED_PARAMETERS = ("DATA", "SEED", "OUTPUT_DIR", "SPLIT")
#: What a batch run gives the notebooks that declare these parameters, unless ``-p`` says otherwise:
#: no one watches a progress bar or clicks a widget under papermill.
BATCH_DEFAULTS = {"PROGRESS": False, "INTERACTIVE": False}
KERNEL_NAME = "python3"
ARTIFACTS = ("metrics.json", "timings.json", "report.html")
#: Largest ``--seed``: every library the notebooks seed (numpy's RandomState, Surprise, XGBoost)
#: accepts it, and ``SEED + 1`` too.
MAX_SEED = 2**31 - 1

_NOTEBOOK_NAME = re.compile(r"(\d{2})_[^/]*\.ipynb")


class PipelineError(RuntimeError):
    """A run cannot start or did not finish; the message says which notebook and why."""


def discover_notebooks(notebooks_dir: Path) -> list[Path]:
    """The ``NN_*.ipynb`` files of ``notebooks_dir``, sorted by number then name."""
    found = [p for p in Path(notebooks_dir).glob("*.ipynb") if _NOTEBOOK_NAME.fullmatch(p.name)]
    return sorted(found, key=lambda p: (int(p.name[:2]), p.name))


def select_notebooks(notebooks: Sequence[Path], only: Sequence[str]) -> list[Path]:
    """Keep the notebooks named by ``only`` (``"1"``, ``"01"`` or the stem ``"01_eda"``); all when empty."""
    if not only:
        return list(notebooks)
    unknown = [key for key in only if not any(_matches(p, key) for p in notebooks)]
    if unknown:
        available = ", ".join(p.stem for p in notebooks) or "none"
        raise PipelineError(f"--only {' '.join(unknown)}: no such notebook (available: {available})")
    return [p for p in notebooks if any(_matches(p, key) for key in only)]


def _matches(notebook: Path, key: str) -> bool:
    return key == notebook.stem or (key.isdigit() and int(key) == int(notebook.name[:2]))


def parse_value(text: str) -> Any:
    """A ``-p`` value: JSON (``20``, ``0.5``, ``true``, ``[1, 2]``), else a Python literal (``None``,
    ``(1, 2)``), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def notebook_parameters(notebook: Path) -> set[str]:
    """Names assigned in the notebook's ``parameters`` cell (as papermill infers them)."""
    return set(papermill.inspect_notebook(str(notebook)))


def resolve_data(data: str) -> str:
    """An embedded name (``"sample"``, ``"movielens-small"``) stays; any other value is a file or
    folder, made absolute (it must exist)."""
    if data in EMBEDDED:
        return data
    path = Path(data).expanduser().resolve()
    if not path.exists():
        raise PipelineError(f"--data {data}: no such file or folder ({path})")
    return str(path)


def resolve_output_dir(output_dir: str | Path, notebooks_dir: Path) -> Path:
    """``output_dir`` made absolute, checked before anything runs: no part of it is a file, the
    nearest existing folder on its path is writable, and it is not the notebooks folder (the
    executed notebooks would replace their sources). Raises :class:`PipelineError`."""
    path = Path(output_dir).expanduser().resolve()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise PipelineError(f"--output-dir {output_dir}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PipelineError(f"--output-dir {output_dir}: cannot write into {existing}")
    if path == Path(notebooks_dir).resolve():
        raise PipelineError(
            f"--output-dir {output_dir}: is the notebooks folder; the executed notebooks would replace them"
        )
    return path


def clear_artifacts(notebooks: Sequence[Path], output_dir: Path) -> None:
    """Remove what an earlier run of ``notebooks`` left in ``output_dir``: their executed notebooks,
    their figures (``figures/NN_*.png``, NN their numbers) and :data:`ARTIFACTS`. Nothing else."""
    for name in ARTIFACTS:
        (output_dir / name).unlink(missing_ok=True)
    for notebook in notebooks:
        (output_dir / notebook.name).unlink(missing_ok=True)
        for figure in (output_dir / "figures").glob(f"{notebook.name[:2]}_*.png"):
            figure.unlink()


def missing_requirements(notebook: Path) -> list[str]:
    """The packages named in the notebook's ``cfutils.requires`` metadata that cannot be imported."""
    required = nbformat.read(notebook, as_version=4).metadata.get("cfutils", {}).get("requires", [])
    return [name for name in required if importlib.util.find_spec(name) is None]


def skip_reason(missing: Sequence[str]) -> str:
    """The one line that a skipped notebook leaves in the output and in metrics.json."""
    return f"skipped: needs {', '.join(missing)}, not installed (the notebook's first cell says how to add it)"


def execute(notebook: Path, output_dir: Path, parameters: dict[str, Any], kernel_name: str) -> float:
    """Execute one notebook into ``output_dir/<name>.ipynb``; return its wall time in seconds.

    Raises :class:`PipelineError` naming the notebook and, for an error in a cell, the cell
    (1-based position in the source notebook, and ``In [n]`` of the executed one), its first
    line and the exception. The executed notebook is kept up to the failing cell. The kernel runs
    with ``CFUTILS_PROGRESS=0``: no one watches its progress bars, which would only leave frozen
    lines in the saved outputs.
    """
    output = output_dir / notebook.name
    partial = output_dir / f".{notebook.stem}.partial.ipynb"
    start = time.perf_counter()
    try:
        with batch_environment(), _renamed_when_done(partial, output):
            papermill.execute_notebook(
                str(notebook),
                str(partial),
                parameters=parameters,
                kernel_name=kernel_name,
                cwd=str(notebook.parent),
                progress_bar=False,
                # Silence the kernel's own start-up log (a TCP-on-localhost warning per notebook);
                # errors and everything the notebook prints are unaffected.
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
    except PapermillExecutionError as error:
        raise PipelineError(_describe_cell_error(notebook, output, error)) from error
    except Exception as error:  # dead kernel, missing kernel, timeout: same report, no cell
        raise PipelineError(
            f"{notebook.name} failed: {type(error).__name__}: {error}\nPartial executed notebook (if any): {output}"
        ) from error
    return time.perf_counter() - start


@contextmanager
def _renamed_when_done(partial: Path, output: Path) -> Iterator[None]:
    """Rename ``partial`` to ``output`` when the block ends, failed or not (a failed notebook is
    kept up to its failing cell); a reader of ``output`` never sees a notebook being written."""
    try:
        yield
    finally:
        if partial.exists():
            os.replace(partial, output)


def _describe_cell_error(notebook: Path, output: Path, error: PapermillExecutionError) -> str:
    sources = [cell.source for cell in nbformat.read(notebook, as_version=4).cells]
    position = f"cell {sources.index(error.source) + 1}" if error.source in sources else "a cell"
    first_line = next((line for line in error.source.splitlines() if line.strip()), "")
    return (
        f"{notebook.name} failed in {position} (In [{error.exec_count}]): "
        f"{error.ename}: {error.evalue}\n"
        f"    {first_line}\n"
        f"Partial executed notebook kept at {output}"
    )


def dump_json(data: dict[str, Any]) -> str:
    """The stable text of metrics.json/timings.json: sorted keys, 2-space indent, UTF-8, final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def plan(notebooks: Sequence[Path], shared: dict[str, Any], extra: dict[str, Any]) -> dict[Path, dict[str, Any]]:
    """The parameters of each notebook, in run order.

    ``shared`` (DATA, SEED, OUTPUT_DIR, SPLIT) goes to every notebook; each ``extra`` (``-p``)
    parameter, and each of :data:`BATCH_DEFAULTS` that ``-p`` does not set, only to the notebooks
    whose ``parameters`` cell declares it. A ``-p`` name that no
    selected notebook declares is an error: a typo would otherwise be silently ignored.
    """
    clashing = sorted(set(extra) & set(SHARED_PARAMETERS))
    if clashing:
        raise PipelineError(f"-p {', '.join(clashing)}: use --data, --seed, --output-dir or --split instead")
    declared = {p: notebook_parameters(p) for p in notebooks}
    known = set().union(*declared.values())
    unused = sorted(set(extra) - known)
    if unused:
        others = ", ".join(sorted(known - set(SHARED_PARAMETERS))) or "none"
        raise PipelineError(
            f"-p {', '.join(unused)}: no selected notebook has such a parameter (their other parameters: {others})"
        )
    for notebook in notebooks:
        check_ranges(notebook, {k: v for k, v in extra.items() if k in declared[notebook]})
    wanted = BATCH_DEFAULTS | extra
    return {p: shared | {k: v for k, v in wanted.items() if k in declared[p]} for p in notebooks}


def check_ranges(notebook: Path, values: dict[str, Any]) -> None:
    """Check ``-p`` values against the ranges the notebook declares in its metadata,
    ``cfutils.ranges: {NAME: [lowest, highest]}`` (inclusive, ``null`` for no bound). A value out
    of its range, or not a number, raises :class:`PipelineError` naming it and the range."""
    ranges = nbformat.read(notebook, as_version=4).metadata.get("cfutils", {}).get("ranges", {})
    for name, value in values.items():
        if name not in ranges:
            continue
        low, high = ranges[name]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or (low is not None and value < low) or (high is not None and value > high):
            span = f"{'-inf' if low is None else low} to {'inf' if high is None else high}"
            raise PipelineError(f"-p {name} {value!r}: {notebook.stem} takes a number from {span}")


def default_notebooks_at_once(data: str) -> int:
    """Notebooks run at once by default: two (one per core of a small machine; never more than its
    cores) on the embedded data sets, one on a user's file, whose size can make two notebooks that
    each hold a copy of the ratings too much for the machine's memory."""
    return min(2, len(os.sched_getaffinity(0))) if data in EMBEDDED else 1


def quiet_interrupt() -> None:
    """In a worker process: Ctrl-C ends it at once and silently (the main process prints the one
    line), instead of each worker printing its own traceback. A run started with Ctrl-C ignored (a
    shell's background job) keeps it ignored in its workers too: otherwise they alone would die."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))


def execute_at_once(
    notebooks: Sequence[Path], parameters: dict[Path, dict[str, Any]], output_dir: Path, kernel_name: str, jobs: int
) -> Iterator[tuple[Path, float | PipelineError]]:
    """:func:`execute` ``notebooks``, up to ``jobs`` at a time in worker processes, started in order;
    yields ``(notebook, wall seconds or its PipelineError)`` as each ends. After a failure no other
    notebook is started; those already running finish."""
    queue = iter(notebooks)
    with ProcessPoolExecutor(
        max_workers=max(1, jobs), mp_context=get_context("spawn"), initializer=quiet_interrupt
    ) as pool:
        running: dict[Future, Path] = {}

        def start_next() -> None:
            notebook = next(queue, None)
            if notebook is not None:
                running[pool.submit(execute, notebook, output_dir, parameters[notebook], kernel_name)] = notebook

        for _ in range(max(1, jobs)):
            start_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                notebook, error = running.pop(future), future.exception()
                if error is not None and not isinstance(error, PipelineError):
                    raise error
                if error is None:
                    start_next()
                else:
                    queue = iter(())
                yield notebook, error if error is not None else future.result()


def run(
    parameters: dict[Path, dict[str, Any]],
    output_dir: Path,
    kernel_name: str = KERNEL_NAME,
    progress: bool = True,
    jobs: int = 1,
) -> dict[str, dict[str, Any]]:
    """Execute the notebooks of ``parameters`` (see :func:`plan`) into ``output_dir``, up to ``jobs``
    at a time (each in its own process and kernel; the notebooks are independent, each reads the
    data itself), then write metrics.json, timings.json and report.html there, in notebook order.
    What an earlier run of the same notebooks wrote is removed first (:func:`clear_artifacts`).

    Returns the metrics, ``{notebook name: {record: value}}``. Raises :class:`PipelineError` for the
    first failing notebook in notebook order; notebooks not yet started are not run.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    clear_artifacts(list(parameters), output_dir)

    metrics: dict[str, dict[str, Any]] = {}
    timings: dict[str, dict[str, Any]] = {}
    wall_seconds: dict[str, float] = {}
    bar = tqdm(total=len(parameters), desc="notebooks", unit="nb", disable=not progress, file=sys.stdout)
    to_run = []
    for notebook in parameters:
        missing = missing_requirements(notebook)
        if missing:
            metrics[notebook.stem] = {"skipped": skip_reason(missing)}
            tqdm.write(f"{notebook.name}: {skip_reason(missing)}", file=sys.stdout)
            bar.update()
        else:
            to_run.append(notebook)
    failures = {}
    for notebook, outcome in execute_at_once(to_run, parameters, output_dir, kernel_name, jobs):
        if isinstance(outcome, PipelineError):
            failures[notebook] = outcome
            continue
        tqdm.write(f"{notebook.name}: {outcome:.1f} s", file=sys.stdout)
        bar.update()
        executed = output_dir / notebook.name
        metrics[notebook.stem] = read_records(executed)
        timings[notebook.stem] = {**read_records(executed, volatile=True), "notebook_wall_s": round(outcome, 3)}
        wall_seconds[notebook.stem] = outcome
    bar.close()
    if failures:
        raise failures[min(failures, key=to_run.index)]
    metrics = {p.stem: metrics[p.stem] for p in parameters}

    report = report_html(
        [output_dir / p.name for p in parameters if p.stem in wall_seconds],
        metrics,
        wall_seconds,
        {k: v for params in parameters.values() for k, v in params.items()},
        output_dir / "figures",
    )
    write_files(
        {
            output_dir / "metrics.json": dump_json(metrics),
            output_dir / "timings.json": dump_json(timings),
            output_dir / "report.html": report,
        }
    )
    return metrics


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cfutils",
        description="Execute the numbered notebooks with papermill; write executed notebooks, "
        "figures/, metrics.json, timings.json and report.html into the output folder.",
    )
    parser.add_argument(
        "--data",
        default="sample",
        help='"sample" (default, generated), "movielens-small" (real, embedded) or a ratings file/folder',
    )
    parser.add_argument("--seed", type=int, default=0, help=f"SEED of every notebook, 0 to {MAX_SEED} (default 0)")
    parser.add_argument("--output-dir", default="outputs", help="where results go (default outputs/)")
    parser.add_argument(
        "--split",
        choices=SPLIT_METHODS,
        default="global_time",
        help="train/test split (default global_time); given: --data names a MovieLens 100K .base file "
        "and its .test file beside it is the test set",
    )
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="another notebook parameter; VALUE is read as JSON or a Python literal, else as a string",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NN",
        help="run only this notebook (number or name); repeatable",
    )
    parser.add_argument("--notebooks-dir", type=Path, default=DEFAULT_NOTEBOOKS_DIR, help="where NN_*.ipynb are")
    parser.add_argument("--kernel", default=KERNEL_NAME, help="Jupyter kernel name (default python3)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="notebooks run at once (default: 2 on the embedded data, 1 on a file of yours)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (0 success, 1 failed notebook, 2 bad usage)."""
    args = build_parser().parse_args(argv)
    extra = {name: parse_value(value) for name, value in args.parameter}
    try:
        for flag, value in (("--output-dir", args.output_dir), ("--data", args.data)):
            if not value.strip():
                raise PipelineError(f"{flag} is empty; name a folder or file (or leave the flag out for its default)")
        output_dir = resolve_output_dir(args.output_dir, args.notebooks_dir)
        if not 0 <= args.seed <= MAX_SEED:
            raise PipelineError(f"--seed {args.seed}: must be an integer from 0 to {MAX_SEED}")
        if args.split == "given" and not str(args.data).endswith(GIVEN_SUFFIXES[0]):
            raise PipelineError(
                f"--split given: --data must name a MovieLens 100K {GIVEN_SUFFIXES[0]} file "
                f"(u1.base ... u5.base, ua.base, ub.base) with its .test file beside it, not {args.data!r}"
            )
        notebooks = select_notebooks(discover_notebooks(args.notebooks_dir), args.only)
        if not notebooks:
            raise PipelineError(f"no NN_*.ipynb notebooks in {args.notebooks_dir}")
        shared = {
            "DATA": resolve_data(args.data),
            "SEED": args.seed,
            "OUTPUT_DIR": str(output_dir),
            "SPLIT": args.split,
        }
        parameters = plan(notebooks, shared, extra)
        if args.jobs is not None and args.jobs < 1:
            raise PipelineError(f"--jobs {args.jobs}: must be at least 1")
        jobs = default_notebooks_at_once(args.data) if args.jobs is None else args.jobs
    except PipelineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        with output_lock(output_dir):
            run(parameters, output_dir, kernel_name=args.kernel, progress=not args.no_progress, jobs=jobs)
    except OutputInUseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (OutputError, PipelineError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        for partial in output_dir.glob(".*.partial.ipynb"):
            partial.unlink(missing_ok=True)
        print(f"interrupted: the run into {output_dir} stopped; its outputs are incomplete", file=sys.stderr)
        return 130
    print(f"{len(notebooks)} notebook(s) in {time.perf_counter() - start:.1f} s; results in {output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
