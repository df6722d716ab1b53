"""The rule "nothing data-sized reaches the driver", enforced.

:class:`CollectGuard` wraps every way a PySpark frame comes back to the driver as Python rows
(``DataFrame.collect``, which ``first``, ``head`` and ``take`` call; ``DataFrame.toPandas``;
``RDD.collect``) and raises :class:`CollectTooLarge` when one returns more than ``max_rows`` rows.
The job (:mod:`cfutils.distributed.job`) runs inside it always, so its test fails the moment a
step collects a table that grows with the data. The check counts what came back, after the fact:
it proves the rule on test data; it does not protect a driver that is already out of memory.
"""

from __future__ import annotations

import functools

from pyspark import RDD
from pyspark.sql.classic.dataframe import DataFrame  # the class a session's frames are (Spark 4)

#: The job's bound: per-partition tables (one row per partition), ALS's few user buckets and
#: one-row aggregates are far below it; a users, movies or ratings table is far above it.
MAX_COLLECTED_ROWS = 1_000

_GUARDED = ((DataFrame, "collect"), (DataFrame, "toPandas"), (RDD, "collect"))


class CollectTooLarge(RuntimeError):
    """A frame of more than the guard's ``max_rows`` rows was collected to the driver."""


class CollectGuard:
    """``with CollectGuard(max_rows):`` any collect of more than ``max_rows`` rows raises.

    ``largest`` is the most rows one collect returned inside the block (reported by the job).
    Guards do not nest: entering a second one while one is active raises ``RuntimeError``.
    """

    active = False  # one guard at a time: they patch the same methods

    def __init__(self, max_rows: int = MAX_COLLECTED_ROWS):
        self.max_rows, self.largest, self._saved = int(max_rows), 0, []

    def __enter__(self) -> CollectGuard:
        if CollectGuard.active:
            raise RuntimeError("a CollectGuard is already active")
        CollectGuard.active = True
        for owner, name in _GUARDED:
            original = getattr(owner, name)
            self._saved.append((owner, name, original))
            setattr(owner, name, self._checked(original, f"{owner.__name__}.{name}"))
        return self

    def __exit__(self, *exc) -> None:
        for owner, name, original in self._saved:
            setattr(owner, name, original)
        self._saved.clear()
        CollectGuard.active = False

    def _checked(self, collect, label: str):
        @functools.wraps(collect)
        def checked(*args, **kwargs):
            result = collect(*args, **kwargs)
            self.largest = max(self.largest, len(result))
            if len(result) > self.max_rows:
                raise CollectTooLarge(
                    f"{label} returned {len(result):,} rows to the driver; the bound is {self.max_rows:,}"
                )
            return result

        return checked
