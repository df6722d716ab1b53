"""The ratings frame of the project contract, its bounds, and :class:`DataFormatError`.

=============  ==================  =========================================
column         dtype               meaning
=============  ==================  =========================================
``user_id``    ``int32``           raw customer / user id
``movie_id``   ``int32``           raw movie id
``rating``     ``float32``         Netflix 1..5 stars, MovieLens 0.5..5 in half stars
``date``       ``datetime64[s]``   Netflix: midnight of the rating day; MovieLens: the timestamp
=============  ==================  =========================================

That is **20 bytes per rating** (4 + 4 + 4 + 8): the 100,480,507 Netflix Prize
ratings take 2.0 GB in memory. Each (user, movie) pair appears once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

RATINGS_DTYPES = {
    "user_id": np.dtype("int32"),
    "movie_id": np.dtype("int32"),
    "rating": np.dtype("float32"),
    "date": np.dtype("datetime64[s]"),
}

MAX_ID = 2**31 - 1
#: The most digits a numeric field may have (an id, a rating, a timestamp): longer text is a
#: format error naming the line, never a bare ``int()`` error (Python refuses over 4,300 digits).
MAX_DIGITS = 20
#: The longest line a reader accepts, in bytes; a longer one (a file with no newline, a wrong file)
#: is a format error instead of a read that grows without bound.
MAX_LINE_BYTES = 64 * 1024
#: Every rating is dated within these days (inclusive): all Netflix Prize (1999-2005) and MovieLens
#: (1995 on) ratings with years to spare; a timestamp in milliseconds or a zero date falls outside.
FIRST_DATE, LAST_DATE = dt.date(1990, 1, 1), dt.date(2030, 12, 31)
FIRST_SECOND = (FIRST_DATE - dt.date(1970, 1, 1)).days * 86_400  # the same bounds in unix seconds
LAST_SECOND = (LAST_DATE - dt.date(1970, 1, 1)).days * 86_400 + 86_399


class DataFormatError(ValueError):
    """A ratings or titles file does not follow its format.

    The message names the file, the 1-based line number and the offending line
    (``line_number`` and ``line`` are ``None`` when no single line is at fault,
    e.g. an unrecognised folder).
    """

    def __init__(self, path: Path | str, reason: str, line_number: int | None = None, line: str | None = None):
        self.path, self.reason, self.line_number, self.line = str(path), reason, line_number, line
        where = self.path if line_number is None else f"{self.path}, line {line_number}"
        text = "" if line is None else f": {line!r}"
        super().__init__(f"{where}: {reason}{text}")


def dated_in_range(date: np.ndarray) -> bool:
    """Whether every ``datetime64[s]`` is within :data:`FIRST_DATE` .. :data:`LAST_DATE`."""
    seconds = date.view(np.int64)
    return seconds.size == 0 or (seconds.min() >= FIRST_SECOND and seconds.max() <= LAST_SECOND)


def date_range_problem(what: str) -> str:
    return f"{what} is outside {FIRST_DATE}..{LAST_DATE}"
