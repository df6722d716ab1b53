"""Worker processes give the same results, in the same order, as a loop in this process."""

from __future__ import annotations

import os

import pytest

from cfutils.core.parallel import default_workers, parallel_map


def _power_and_pid(base: int, exponent: int) -> tuple[int, int]:
    return base**exponent, os.getpid()


def test_parallel_map_keeps_the_order_of_the_tasks_and_uses_other_processes():
    tasks = [(base, 3) for base in range(12)]
    serial = parallel_map(_power_and_pid, tasks, n_jobs=1)
    parallel = parallel_map(_power_and_pid, tasks, n_jobs=2)
    assert [value for value, _ in parallel] == [value for value, _ in serial] == [b**3 for b in range(12)]
    assert {pid for _, pid in serial} == {os.getpid()}
    assert os.getpid() not in {pid for _, pid in parallel}


def test_a_workers_exception_reaches_the_caller():
    with pytest.raises(ZeroDivisionError):
        parallel_map(lambda a, b: a / b, [(1, 1), (1, 0)], n_jobs=2)


def test_default_workers_reads_cfutils_jobs(monkeypatch):
    monkeypatch.setenv("CFUTILS_JOBS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("CFUTILS_JOBS", "0")
    with pytest.raises(ValueError, match="CFUTILS_JOBS"):
        default_workers()
    monkeypatch.delenv("CFUTILS_JOBS")
    assert default_workers() == len(os.sched_getaffinity(0))
