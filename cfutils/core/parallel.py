"""Independent fits in worker processes: the grid points of a search, the folds of a stack.

Surprise's fits are single-threaded Python/Cython, so on a machine with C cores a grid
search or the out-of-fold fits of a stack run up to C times faster in C processes
(joblib's ``loky`` backend, which scikit-learn already uses). Each task receives its own
data and returns a small result (a table of predictions, a score), never a fitted model,
so little crosses between processes. Results come back in the order of the tasks, so a
run gives the same numbers with 1 worker or many.

The number of workers: ``n_jobs`` when given, else ``CFUTILS_JOBS`` from the environment,
else the cores this process may use. Each worker holds its own copy of its task's data:
a step's memory budget (:mod:`cfutils.core.memory`) is checked inside each task, against the
memory the machine still has when it starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence

from joblib import Parallel, delayed

from cfutils.core.progress import progress_bar


def default_workers() -> int:
    """Worker processes of :func:`parallel_map` when ``n_jobs`` is not given: ``CFUTILS_JOBS`` if
    set, else the number of cores this process may run on."""
    pinned = os.environ.get("CFUTILS_JOBS")
    if pinned is not None:
        if not pinned.isdigit() or int(pinned) < 1:
            raise ValueError(f"CFUTILS_JOBS must be a positive whole number, got {pinned!r}")
        return int(pinned)
    return len(os.sched_getaffinity(0))


def parallel_map(
    function: Callable, tasks: Sequence[tuple], n_jobs: int | None = None, progress: bool = False, desc: str = ""
) -> list:
    """``[function(*task) for task in tasks]``, in up to ``n_jobs`` worker processes, in task order.

    With one worker (or one task) everything runs in this process, with no pickling.
    ``function`` must be importable or picklable by cloudpickle (closures are).
    """
    n_jobs = min(default_workers() if n_jobs is None else n_jobs, len(tasks))
    if n_jobs <= 1:
        results: Iterable = (function(*task) for task in tasks)
    else:
        results = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")(
            delayed(function)(*task) for task in tasks
        )
    return list(progress_bar(results, total=len(tasks), disable=not progress, desc=desc))
