"""Fast, strict readers for Netflix Prize and MovieLens ratings and titles.

:func:`read_ratings` detects the format and returns the **ratings frame** of the
project contract:

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

Ratings formats (each may also be gzip-compressed, with a ``.gz`` suffix):

==========================  ===================================================
Kaggle ``combined_data_N.txt``  a line ``MovieID:`` opens each movie's block; each
                            line after it is ``CustomerID,Rating,YYYY-MM-DD``
original ``training_set/``  one ``mv_XXXXXXX.txt`` per movie: the first line is
                            ``MovieID:``, then the same rows
a folder                    read whole: every ``combined_data_*.txt``, or every
                            ``mv_*.txt``, or a ``training_set/`` inside it, or its
                            one MovieLens ratings file (see "Folders" below)
MovieLens 100K ``u.data``   ``user<TAB>item<TAB>rating<TAB>unix seconds``
MovieLens ``ratings.csv``   header ``userId,movieId,rating,timestamp``; half stars
MovieLens ``ratings.dat``   ``UserID::MovieID::Rating::Timestamp`` (1M, 10M)
==========================  ===================================================

Folders: a folder holds one data set. Netflix files (ratings, ``movie_titles``,
``probe.txt``, ``qualifying.txt``, ``qualifying_answers.txt``) and MovieLens files
(ratings, ``u.item``, ``movies.csv``, ``movies.dat``) never share one; nor do two kinds
of ratings files (``combined_data_*.txt`` beside ``training_set/``, ``u.data`` beside
``ratings.csv``), nor a file and its own ``.gz`` copy. Each of these is a
:class:`DataFormatError` naming what the folder holds. Other files are ignored.

Every rating must be dated from :data:`FIRST_DATE` to :data:`LAST_DATE` (a
timestamp in milliseconds or a zero date is an error), and an input without a
single rating is an error. A broken ``.gz`` file is an error naming the file.

Parsing is vectorised: the text is read in pieces of about 64 MiB of whole lines,
``pyarrow.csv`` parses each piece on all cores, and Python only loops over the
``MovieID:`` headers (one per movie), never over rating lines. Bad input raises
:class:`DataFormatError` naming the file, the line number and the line; the
line is located only after the vectorised parse has failed.

:func:`read_titles` reads Netflix ``movie_titles.csv``/``.txt`` and MovieLens
``u.item``, ``movies.csv`` and ``movies.dat``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import gzip
import hashlib
import json
import logging
import os
import re
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from cfutils.memory import MiB

logger = logging.getLogger(__name__)

RATINGS_DTYPES = {
    "user_id": np.dtype("int32"),
    "movie_id": np.dtype("int32"),
    "rating": np.dtype("float32"),
    "date": np.dtype("datetime64[s]"),
}
BYTES_PER_RATING = sum(dtype.itemsize for dtype in RATINGS_DTYPES.values())

#: Size of the pieces of whole lines that are parsed at once (bounds peak memory).
PIECE_BYTES = 64 * MiB
#: Bump when the parsed output or the cache layout changes, so that old parquet caches are not reused.
CACHE_VERSION = 2
REPORT_KEY = b"cfutils.read_report"
DIGEST_KEY = b"cfutils.sha256"
MAX_ID = 2**31 - 1
#: Every rating is dated within these days (inclusive): all Netflix Prize (1999-2005) and MovieLens
#: (1995 on) ratings with years to spare; a timestamp in milliseconds or a zero date falls outside.
FIRST_DATE, LAST_DATE = dt.date(1990, 1, 1), dt.date(2030, 12, 31)
_FIRST_SECOND = (FIRST_DATE - dt.date(1970, 1, 1)).days * 86_400  # the same bounds in unix seconds
_LAST_SECOND = (LAST_DATE - dt.date(1970, 1, 1)).days * 86_400 + 86_399

_HEADER = re.compile(rb"[ \t]*(\d+)[ \t]*:\r?")
_HEADER_TEXT = re.compile(_HEADER.pattern.decode(), re.ASCII)  # the same, for pyarrow's decoded row text
_INTEGER = re.compile(rb"[ \t]*-?\d+[ \t]*")
_DECIMAL = re.compile(rb"[ \t]*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?[ \t]*")
_ISO_DATE = re.compile(rb"[ \t]*(\d{4}-\d{2}-\d{2})[ \t]*")
_YEAR_IN_TITLE = r"\s*\((\d{4})\)\s*$"


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


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def read_ratings(
    path: Path | str, cache: bool = True, cache_dir: Path | str | None = None, progress: bool = True
) -> pd.DataFrame:
    """Read a ratings file or folder into the ratings frame (20 bytes per rating).

    Parameters
    ----------
    path
        A ratings file in any format of the module docstring, or a folder holding them.
    cache
        Reuse (or write) a parquet copy of the parsed frame under ``cache_dir``. It is
        keyed by the resolved path, size, modification time and inode change time of
        each source file, so any write to a source, even one that keeps its size and
        restores its modification time, parses it again. A cache that fails to read or
        to verify (page checksums, then a SHA-256 of the frame and report) is deleted and
        the source parsed again; a cache that cannot be written is skipped. Each logs one
        warning. Reloading the full Netflix data takes seconds.
    cache_dir
        Folder of the parquet caches; default: see :func:`default_cache_dir`.
    progress
        Show a progress bar over the bytes parsed.

    Returns
    -------
    DataFrame with ``user_id`` (int32), ``movie_id`` (int32), ``rating`` (float32) and
    ``date`` (datetime64[s]), in file order. A (user, movie) pair rated twice keeps its
    latest rating by date (on a tie, the later one in file order). ``frame.attrs
    ["read_report"]`` is ``{"files": [...], "rows_read": int, "duplicates_dropped": int}``,
    and dropped duplicates are also logged as a warning.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataFormatError
        Unrecognised format, a folder mixing data sets, an empty file, no ratings at
        all, a broken gzip file, or a bad line (see :class:`DataFormatError`).
    """
    ratings_format, files = _resolve_ratings_files(Path(path))
    if not cache:
        return _parse_ratings(ratings_format, files, progress)
    cache_path = _cache_path(files, Path(cache_dir) if cache_dir is not None else default_cache_dir())
    frame = _read_cache(cache_path)
    if frame is None:
        frame = _parse_ratings(ratings_format, files, progress)
        _write_cache(frame, cache_path)
    return frame


def read_titles(path: Path | str) -> pd.DataFrame:
    """Read movie titles into a frame indexed by ``movie_id`` (int32).

    Columns: ``year`` (nullable ``Int16``, missing when unknown) and ``title`` (str).

    Formats, detected by file name:

    - Netflix ``movie_titles.csv`` / ``.txt``: ``MovieID,YearOfRelease,Title``,
      UTF-8 when valid, else ISO-8859-1 (as the Prize shipped them), no quoting.
      Titles may contain commas, so each line is split on its first two commas only.
      A year of ``NULL`` is missing.
    - MovieLens ``u.item``: ``|`` separated, latin-1; the year is the end of the
      release date (``01-Jan-1995``), missing when the date is empty.
    - MovieLens ``movies.csv`` (quoted CSV, UTF-8) and ``movies.dat`` (``::``
      separated, UTF-8 or else latin-1): the year is the ``(YYYY)`` at the end of the
      title.

    In the MovieLens formats a trailing ``(YYYY)`` is removed from the title, so that
    titles read the same as Netflix's. Raises :class:`DataFormatError` for a line with
    too few fields, a non-integer id or year, a repeated movie id, or an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such titles file: {path}")
    name = _base_name(path)
    readers = {
        "movie_titles.csv": _read_netflix_titles,
        "movie_titles.txt": _read_netflix_titles,
        "u.item": _read_uitem_titles,
        "movies.csv": _read_movies_csv_titles,
        "movies.dat": _read_movies_dat_titles,
    }
    if name not in readers:
        raise DataFormatError(path, f"unrecognised titles file; expected one of {sorted(readers)}")
    return readers[name](path)


def format_family(path: Path | str) -> str:
    """``"Netflix"`` or ``"MovieLens"``: the family of a ratings file or folder, or of a titles file.

    Known file names (see the module docstring) decide; another file is a ratings file
    recognised by its first line, and a folder is the family of the ratings it holds.
    Raises :class:`DataFormatError` as :func:`read_ratings` does for an unreadable source.
    """
    path = Path(path)
    known = _known_entry(path.name, is_dir=False)
    if path.is_file() and known is not None:
        return known.family
    ratings_format, _ = _resolve_ratings_files(path)
    return "Netflix" if ratings_format == "netflix" else "MovieLens"


# ---------------------------------------------------------------------------
# Finding the files and their format
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Origin:
    """The lines of a piece from ``piece_offset`` on are those of ``path`` from ``file_offset`` on."""

    path: Path
    piece_offset: int
    file_offset: int


@dataclass(frozen=True)
class _Piece:
    """Whole lines (``data`` ends with a newline) from one or more consecutive files."""

    data: bytes
    origins: tuple[_Origin, ...]

    def lines(self) -> Iterator[tuple[Path, int, bytes]]:
        """(file, 1-based line number, text without line ending) of every line; error path only."""
        ends = [o.piece_offset for o in self.origins[1:]] + [len(self.data)]
        for origin, end in zip(self.origins, ends):
            first = _line_number(origin.path, origin.file_offset)
            for index, text in enumerate(self.data[origin.piece_offset : end].split(b"\n")[:-1]):
                yield origin.path, first + index, text.removesuffix(b"\r")


def _line_number(path: Path, offset: int) -> int:
    """1-based number of the line starting at byte ``offset`` of a file (counts newlines)."""
    newlines = 0
    with _open_binary(path) as stream:
        while offset > 0 and (block := stream.read(min(offset, PIECE_BYTES))):
            newlines += block.count(b"\n")
            offset -= len(block)
    return newlines + 1


def _base_name(path: Path) -> str:
    """File name without a ``.gz`` suffix."""
    return path.name[:-3] if path.name.endswith(".gz") else path.name


def _resolve_ratings_files(path: Path) -> tuple[str, list[Path]]:
    """The format name and the files to read, in order, for a file or folder."""
    if not path.exists():
        raise FileNotFoundError(f"No such ratings file or folder: {path}")
    if path.is_file():
        return _detect_file_format(path), [path]
    entries = _one_data_set(path)
    kinds = {entry.ratings for entry in entries.values() if entry.ratings}
    if not kinds:
        raise DataFormatError(path, f"no ratings files found ({', '.join(_RATINGS_KINDS)})")
    (kind,) = kinds
    if kind == "training_set/":
        return _resolve_ratings_files(path / "training_set")
    files = [path / name for name, entry in sorted(entries.items()) if entry.ratings == kind]
    return ("netflix" if kind in _NETFLIX_KINDS else _MOVIELENS_FILE_NAMES[kind]), files


@dataclass(frozen=True)
class _KnownEntry:
    """A folder entry the readers know: its family and, for ratings, its kind (a name or pattern)."""

    family: str
    ratings: str | None = None


#: Kinds of ratings entries (file name patterns, or the ``training_set/`` folder); a folder holds one kind.
_NETFLIX_KINDS = ("combined_data_*.txt", "mv_*.txt", "training_set/")
_RATINGS_KINDS = (*_NETFLIX_KINDS, "u.data", "ratings.csv", "ratings.dat")
#: The other files of each family: titles, and the Prize's probe and qualifying sets.
_OTHER_FILES = {
    "Netflix": ("movie_titles.csv", "movie_titles.txt", "probe.txt", "qualifying.txt", "qualifying_answers.txt"),
    "MovieLens": ("u.item", "movies.csv", "movies.dat"),
}


def _known_entry(name: str, is_dir: bool) -> _KnownEntry | None:
    """What a folder entry named ``name`` is (``.gz`` ignored for files), or None for other entries."""
    if is_dir:
        return _KnownEntry("Netflix", "training_set/") if name == "training_set" else None
    base = _base_name(Path(name))
    for kind in _RATINGS_KINDS:
        if fnmatch.fnmatchcase(base, kind):
            return _KnownEntry("Netflix" if kind in _NETFLIX_KINDS else "MovieLens", kind)
    return next((_KnownEntry(family) for family, names in _OTHER_FILES.items() if base in names), None)


def _one_data_set(folder: Path) -> dict[str, _KnownEntry]:
    """The known entries of ``folder`` by name, after checking that they form one data set.

    Raises :class:`DataFormatError`, naming the entries, when the folder holds Netflix and
    MovieLens files, two kinds of ratings files, or a file beside its own ``.gz`` copy.
    """
    with os.scandir(folder) as scan:
        entries = {e.name: known for e in scan if (known := _known_entry(e.name, e.is_dir())) is not None}
    doubled = [name for name in entries if f"{name}.gz" in entries]
    if doubled:
        copies = ", ".join(f"{name} and {name}.gz" for name in sorted(doubled))
        raise DataFormatError(folder, f"holds both a file and its gzip copy ({copies}); keep one of each")
    families = {entry.family for entry in entries.values()}
    kinds = {entry.ratings for entry in entries.values() if entry.ratings}
    if len(families) > 1 or len(kinds) > 1:
        found = "; ".join(f"{family}: {_describe(entries, family)}" for family in sorted(families))
        raise DataFormatError(
            folder, f"mixes data sets ({found}); keep one data set per folder, or point at one ratings file"
        )
    return entries


def _describe(entries: dict[str, _KnownEntry], family: str) -> str:
    """The entries of one family, a pattern's files counted (``combined_data_*.txt (4 files)``)."""
    names = sorted(name for name, entry in entries.items() if entry.family == family)
    counts: dict[str, int] = {}
    for name in names:
        label = entries[name].ratings if entries[name].ratings in _NETFLIX_KINDS else name
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(label if n == 1 else f"{label} ({n} files)" for label, n in counts.items())


def _detect_file_format(path: Path) -> str:
    """Format of one file: by its name, else by its first line."""
    name = _base_name(path)
    if name.startswith(("combined_data_", "mv_")) and name.endswith(".txt"):
        return "netflix"
    if name in _MOVIELENS_FILE_NAMES:
        return _MOVIELENS_FILE_NAMES[name]
    with _open_binary(path) as stream:
        first = stream.readline(4096).rstrip(b"\r\n")
    if not first.strip():
        raise DataFormatError(path, "empty file", 1, "")
    for format_name, looks_like in _SNIFFERS.items():
        if looks_like(first):
            return format_name
    raise DataFormatError(path, "unrecognised ratings format", 1, first.decode("latin-1"))


def _open_binary(path: Path):
    return _GzipReader(path) if path.name.endswith(".gz") else open(path, "rb")


class _GzipReader(gzip.GzipFile):
    """A gzip file whose decompression errors (truncated, corrupt, not gzip at all) are
    :class:`DataFormatError` naming the file."""

    def __init__(self, path: Path):
        super().__init__(path, "rb")
        self.path = path

    def read(self, size: int = -1) -> bytes:
        with self._named_errors():
            return super().read(size)

    def readline(self, size: int = -1) -> bytes:
        with self._named_errors():
            return super().readline(size)

    @contextlib.contextmanager
    def _named_errors(self):
        try:
            yield
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise DataFormatError(self.path, f"broken gzip file ({type(error).__name__}: {error})") from None


# ---------------------------------------------------------------------------
# Reading whole lines in pieces
# ---------------------------------------------------------------------------


def _line_blocks(path: Path, block_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(byte offset, block) of blocks of about ``block_bytes`` of whole lines of one file.

    Each block ends with ``\\n``: a missing final newline is added and trailing blank
    lines are dropped. An empty (or blank) file raises :class:`DataFormatError`.
    """
    offset = 0
    with _open_binary(path) as stream:
        block = _read_whole_lines(stream, block_bytes)
        while block:
            following = _read_whole_lines(stream, block_bytes)
            if not following:
                block = block.rstrip(b"\r\n") + b"\n" if block.strip(b"\r\n") else b""
            if block:
                yield offset, block
            offset, block = offset + len(block), following
    if offset == 0:
        raise DataFormatError(path, "empty file", 1, "")


def _read_whole_lines(stream, size: int) -> bytes:
    """About ``size`` bytes, completed to the end of a line (b"" at the end of the stream)."""
    block = stream.read(size)
    if block and not block.endswith(b"\n"):
        block += stream.readline()
    return block


def _read_pieces(files: Sequence[Path], piece_bytes: int, bar: tqdm) -> Iterator[_Piece]:
    """Pieces of about ``piece_bytes``; small files are packed together, big ones split."""
    parts: list[bytes] = []
    origins: list[_Origin] = []
    size = 0
    for path in files:
        for file_offset, block in _line_blocks(path, piece_bytes):
            if parts and size + len(block) > piece_bytes:
                yield _Piece(b"".join(parts), tuple(origins))
                parts, origins, size = [], [], 0
            origins.append(_Origin(path, size, file_offset))
            parts.append(block)
            size += len(block)
            bar.update(len(block))
    if parts:
        yield _Piece(b"".join(parts), tuple(origins))


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def _parse_ratings(ratings_format: str, files: list[Path], progress: bool) -> pd.DataFrame:
    """Parse every piece, concatenate, drop duplicate pairs and attach the read report."""
    parse_piece = _PIECE_PARSERS[ratings_format]
    total = None if any(f.name.endswith(".gz") for f in files) else sum(f.stat().st_size for f in files)
    columns: dict[str, list[np.ndarray]] = {name: [] for name in RATINGS_DTYPES}
    state = None
    with tqdm(total=total, unit="B", unit_scale=True, desc="read_ratings", disable=not progress, leave=False) as bar:
        for piece in _read_pieces(files, PIECE_BYTES, bar):
            parsed, state = parse_piece(piece, state)
            for name, values in parsed.items():
                columns[name].append(values)
    frame = pd.DataFrame(
        {name: _concatenate(parts, RATINGS_DTYPES[name]) for name, parts in columns.items()}, copy=False
    )
    rows_read = len(frame)
    if rows_read == 0:
        raise DataFormatError(_source(files), "no ratings: not one rating row in the data")
    frame = _keep_latest_per_pair(frame)
    report = {
        "files": [str(f.resolve()) for f in files],
        "rows_read": rows_read,
        "duplicates_dropped": rows_read - len(frame),
    }
    if report["duplicates_dropped"]:
        logger.warning(
            "%s: dropped %d duplicate (user, movie) ratings, keeping the latest by date",
            _source(files),
            report["duplicates_dropped"],
        )
    frame.attrs["read_report"] = report
    return frame


def _source(files: list[Path]) -> Path:
    """What the user pointed at, as far as the files tell: their folder when several, else the file."""
    return files[0].parent if len(files) > 1 else files[0]


def _dated_in_range(date: np.ndarray) -> bool:
    """Whether every ``datetime64[s]`` is within :data:`FIRST_DATE` .. :data:`LAST_DATE`."""
    seconds = date.view(np.int64)
    return seconds.size == 0 or (seconds.min() >= _FIRST_SECOND and seconds.max() <= _LAST_SECOND)


def _date_range_problem(what: str) -> str:
    return f"{what} is outside {FIRST_DATE}..{LAST_DATE}"


def _concatenate(parts: list[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """Concatenate and free the parts (keeps peak memory near one copy of the column)."""
    values = np.concatenate(parts) if parts else np.empty(0, dtype)
    parts.clear()
    return values


def _csv_options(names: list[str], types: dict, delimiter: str, skip_rows: int = 0, on_invalid_row=None):
    """Strict pyarrow CSV options: no quoting, no nulls, no blank lines, all threads."""
    return {
        "read_options": pa_csv.ReadOptions(column_names=names, skip_rows=skip_rows, use_threads=True),
        "parse_options": pa_csv.ParseOptions(
            delimiter=delimiter,
            quote_char=False,
            double_quote=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
            invalid_row_handler=on_invalid_row,
        ),
        "convert_options": pa_csv.ConvertOptions(
            column_types=types, null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    }


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy()


def _days_to_seconds(days: np.ndarray) -> np.ndarray:
    """date32 day numbers -> datetime64[s] at midnight (fast integer arithmetic)."""
    return (days.astype(np.int64) * 86_400).view("datetime64[s]")


# --- Netflix ------------------------------------------------------------------

_NETFLIX_ROW_OPTIONS = _csv_options(
    ["user_id", "rating", "date"],
    {"user_id": pa.int32(), "rating": pa.int8(), "date": pa.date32()},
    ",",
    on_invalid_row=lambda row: "skip" if _HEADER_TEXT.fullmatch(row.text) else "error",
)


class _BadPiece(Exception):
    """The vectorised parse of a piece failed: find the first bad line."""


def _parse_netflix_piece(piece: _Piece, movie_id: int | None) -> tuple[dict[str, np.ndarray], int | None]:
    """Parse a piece of Kaggle / training_set text; ``movie_id`` is the movie open at its start.

    The ``MovieID:`` headers are found with ``bytes.find`` (C speed; one Python step
    per header), the rating rows are parsed by pyarrow, which skips the header rows,
    and each row's movie comes from the header above it (``np.repeat`` of the ids by
    block length). Returns the columns and the movie open at the end of the piece.
    """
    try:
        headers = _netflix_headers(piece.data)
        block_rows = _netflix_block_rows(piece, headers, movie_id)
        table = pa_csv.read_csv(pa.py_buffer(piece.data), **_NETFLIX_ROW_OPTIONS)
        if table.num_rows != sum(block_rows):
            raise _BadPiece
        rating = _column(table, "rating")
        user_id = _column(table, "user_id")
        date = _days_to_seconds(table.column("date").cast(pa.int32()).to_numpy())
        if ((rating < 1) | (rating > 5)).any() or (user_id < 0).any() or not _dated_in_range(date):
            raise _BadPiece
    except (_BadPiece, pa.ArrowInvalid):
        raise _netflix_error(piece, movie_id) from None
    movie_ids = np.array([movie_id or 0] + [movie for _, _, movie in headers], dtype=np.int32)
    columns = {
        "user_id": user_id,
        "movie_id": np.repeat(movie_ids, block_rows),
        "rating": rating.astype(np.float32),
        "date": date,
    }
    return columns, int(movie_ids[-1]) if headers else movie_id


def _netflix_headers(data: bytes) -> list[tuple[int, int, int]]:
    """(line start, line end after the newline, movie id) of each ``MovieID:`` line.

    Every line holding a ``:`` must be a header; one step per header, not per line.
    """
    headers = []
    colon = data.find(b":")
    while colon >= 0:
        start = data.rfind(b"\n", 0, colon) + 1
        end = data.find(b"\n", colon) + 1
        match = _HEADER.fullmatch(data, start, end - 1)
        if match is None or int(match[1]) > MAX_ID:
            raise _BadPiece
        headers.append((start, end, int(match[1])))
        colon = data.find(b":", end)
    return headers


def _netflix_block_rows(piece: _Piece, headers: list[tuple[int, int, int]], movie_id: int | None) -> list[int]:
    """Rating rows before the first header, then after each header.

    Rows before the first header continue ``movie_id`` from the previous piece of the
    same file; every file must open with a header.
    """
    data = piece.data
    bounds = [0] + [b for start, end, _ in headers for b in (start, end)] + [len(data)]
    block_rows = [data.count(b"\n", bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
    continues_file = piece.origins[0].file_offset > 0 and movie_id is not None
    header_starts = {start for start, _, _ in headers}
    if (block_rows[0] and not continues_file) or any(
        o.piece_offset not in header_starts for o in piece.origins if o.file_offset == 0
    ):
        raise _BadPiece
    return block_rows


def _netflix_error(piece: _Piece, movie_id: int | None) -> DataFormatError:
    """The first bad line of a Netflix piece whose vectorised parse failed (slow, error path only)."""
    in_movie = movie_id is not None and piece.origins[0].file_offset > 0
    for path, line_number, text in piece.lines():
        in_movie = in_movie and line_number > 1
        if b":" in text and b"," not in text:  # a row with a time in its date is a row
            match = _HEADER.fullmatch(text)
            valid = match is not None and int(match[1]) <= MAX_ID
            problem = None if valid else "a MovieID header must be a non-negative integer then ':'"
            in_movie = True
        elif not in_movie:
            problem = "a rating row before any 'MovieID:' header"
        else:
            problem = _netflix_row_problem(text)
        if problem:
            return DataFormatError(path, problem, line_number, text.decode("latin-1"))
    return _unlocated_error(piece)


def _netflix_row_problem(text: bytes) -> str | None:
    """What is wrong with one ``CustomerID,Rating,YYYY-MM-DD`` row, or None."""
    fields = text.rstrip(b"\r").split(b",")
    if len(fields) != 3:
        return f"expected 3 fields CustomerID,Rating,YYYY-MM-DD, found {len(fields)}"
    user, rating, date = fields
    if not _is_id(user):
        return "CustomerID is not a non-negative 32-bit integer"
    if not _INTEGER.fullmatch(rating) or not 1 <= int(rating) <= 5:
        return "rating is not an integer from 1 to 5"
    day = _iso_date(date)
    if day is None:
        return "date is not a valid YYYY-MM-DD"
    if not FIRST_DATE <= day <= LAST_DATE:
        return _date_range_problem("date")
    return None


def _is_id(text: bytes) -> bool:
    return bool(_INTEGER.fullmatch(text)) and 0 <= int(text) <= MAX_ID


def _iso_date(text: bytes) -> dt.date | None:
    """The date of a ``YYYY-MM-DD`` field, or None when it is not one."""
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match[1].decode())
    except ValueError:
        return None


def _unlocated_error(piece: _Piece) -> DataFormatError:
    """Fallback when the line-by-line check finds nothing the vectorised parse rejected."""
    origin = piece.origins[0]
    first = _line_number(origin.path, origin.file_offset)
    return DataFormatError(origin.path, f"unparseable data in the {len(piece.data)} bytes from line {first} on")


# --- MovieLens ----------------------------------------------------------------


@dataclass(frozen=True)
class _MovieLensLayout:
    """One MovieLens ratings file format: field separator and optional header line."""

    separator: bytes
    header: bytes | None = None


_MOVIELENS_LAYOUTS = {
    "movielens_udata": _MovieLensLayout(b"\t"),
    "movielens_csv": _MovieLensLayout(b",", b"userId,movieId,rating,timestamp"),
    "movielens_dat": _MovieLensLayout(b"::"),
}
_MOVIELENS_FILE_NAMES = {"u.data": "movielens_udata", "ratings.csv": "movielens_csv", "ratings.dat": "movielens_dat"}
#: Ratings are parsed and checked as float64, then stored as float32 (``5.0000001`` is no rating).
_MOVIELENS_TYPES = {"user_id": pa.int32(), "movie_id": pa.int32(), "rating": pa.float64(), "timestamp": pa.int64()}
_SNIFFERS: dict[str, Callable[[bytes], bool]] = {
    "netflix": lambda line: _HEADER.fullmatch(line) is not None,
    "movielens_csv": lambda line: line.replace(b" ", b"") == _MOVIELENS_LAYOUTS["movielens_csv"].header,
    "movielens_dat": lambda line: line.count(b"::") == 3,
    "movielens_udata": lambda line: line.count(b"\t") == 3,
}


def _movielens_parser(layout: _MovieLensLayout):
    """A piece parser for one MovieLens layout (``user, movie, rating, unix seconds`` rows)."""

    def parse_piece(piece: _Piece, state: None) -> tuple[dict[str, np.ndarray], None]:
        data = piece.data
        has_header = layout.header is not None and piece.origins[0].file_offset == 0
        try:
            if has_header and data[: data.find(b"\n")].rstrip(b"\r").replace(b" ", b"") != layout.header:
                raise _BadPiece
            delimiter = layout.separator
            if len(delimiter) > 1:
                if b"\t" in data:  # a tab would pass for the stand-in separator below
                    raise _BadPiece
                data, delimiter = data.replace(delimiter, b"\t"), b"\t"  # pyarrow needs a one-byte delimiter
            options = _csv_options(
                list(_MOVIELENS_TYPES), _MOVIELENS_TYPES, delimiter.decode(), skip_rows=int(has_header)
            )
            table = pa_csv.read_csv(pa.py_buffer(data), **options)
            rating = _column(table, "rating")
            user_id, movie_id = _column(table, "user_id"), _column(table, "movie_id")
            date = _column(table, "timestamp").view("datetime64[s]")
            valid_rating = (rating >= 0.5) & (rating <= 5) & (rating * 2 == np.round(rating * 2))
            if not valid_rating.all() or (user_id < 0).any() or (movie_id < 0).any() or not _dated_in_range(date):
                raise _BadPiece
        except (_BadPiece, pa.ArrowInvalid):
            raise _movielens_error(piece, layout) from None
        columns = {"user_id": user_id, "movie_id": movie_id, "rating": rating.astype(np.float32), "date": date}
        return columns, state

    return parse_piece


def _movielens_error(piece: _Piece, layout: _MovieLensLayout) -> DataFormatError:
    """The first bad line of a MovieLens piece whose vectorised parse failed (error path only)."""
    for path, line_number, text in piece.lines():
        if layout.header is not None and line_number == 1:
            ok = text.rstrip(b"\r").replace(b" ", b"") == layout.header
            problem = None if ok else f"expected the header {layout.header.decode()}"
        else:
            problem = _movielens_row_problem(text.rstrip(b"\r"), layout.separator)
        if problem:
            return DataFormatError(path, problem, line_number, text.decode("latin-1"))
    return _unlocated_error(piece)


def _movielens_row_problem(text: bytes, separator: bytes) -> str | None:
    """What is wrong with one ``user, movie, rating, timestamp`` row, or None."""
    if len(separator) > 1 and b"\t" in text:
        return f"a tab in a line whose fields are separated by {separator.decode()!r}"
    fields = text.split(separator)
    if len(fields) != 4:
        names = f"user, movie, rating, timestamp separated by {separator.decode()!r}"
        return f"expected 4 fields {names}, found {len(fields)}"
    user, movie, rating, timestamp = fields
    if not (_is_id(user) and _is_id(movie)):
        return "user or movie id is not a non-negative 32-bit integer"
    stars = float(rating) if _DECIMAL.fullmatch(rating) else float("nan")
    if not (0.5 <= stars <= 5 and stars * 2 == round(stars * 2)):
        return "rating is not a number from 0.5 to 5 in half stars"
    if not _INTEGER.fullmatch(timestamp):
        return "timestamp is not an integer (unix seconds)"
    if not _FIRST_SECOND <= int(timestamp) <= _LAST_SECOND:
        return _date_range_problem("timestamp (unix seconds)")
    return None


_PIECE_PARSERS = {"netflix": _parse_netflix_piece} | {
    name: _movielens_parser(layout) for name, layout in _MOVIELENS_LAYOUTS.items()
}


# ---------------------------------------------------------------------------
# Duplicate (user, movie) pairs
# ---------------------------------------------------------------------------


def _keep_latest_per_pair(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep one rating per (user, movie): the latest by date, on a tie the later row.

    The check sorts one 64-bit key per rating (8 bytes/rating, in place); the
    resolution (an ``lexsort``) runs only when a duplicate exists. File order is kept.
    """
    key = _pair_keys(frame)
    key.sort(kind="stable")
    if not (key[1:] == key[:-1]).any():
        return frame
    del key
    key = _pair_keys(frame)
    order = np.lexsort((frame["date"].to_numpy(), key))  # stable: ties keep file order
    sorted_key = key[order]
    last_of_pair = np.append(sorted_key[1:] != sorted_key[:-1], True)
    keep = np.sort(order[last_of_pair])
    return frame.take(keep).reset_index(drop=True)


def _pair_keys(frame: pd.DataFrame) -> np.ndarray:
    """``movie_id << 32 | user_id`` as uint64 (ids are non-negative int32)."""
    movie = frame["movie_id"].to_numpy().astype(np.uint64)
    movie <<= np.uint64(32)
    movie |= frame["user_id"].to_numpy().astype(np.uint64)
    return movie


# ---------------------------------------------------------------------------
# Parquet cache
# ---------------------------------------------------------------------------


#: Environment variable that moves the default parquet cache folder (tests point it at a tmp dir).
CACHE_DIR_ENV = "CFUTILS_CACHE_DIR"
#: The cache folder of a checkout of the project (it exists only there, not in an installed package).
CHECKOUT_CACHE_DIR = Path(__file__).resolve().parents[1] / "data" / "processed"
#: A temporary cache file untouched for this long was left by a writer that died; the next write removes it.
ORPHAN_SECONDS = 3600


def default_cache_dir() -> Path:
    """Where :func:`read_ratings` caches: ``$CFUTILS_CACHE_DIR`` if set; else, in a checkout of the
    project, ``<repo>/data/processed``; else the user's cache folder, ``$XDG_CACHE_HOME/cfutils``
    (``~/.cache/cfutils`` when ``XDG_CACHE_HOME`` is unset or relative)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    if CHECKOUT_CACHE_DIR.is_dir():
        return CHECKOUT_CACHE_DIR
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache") / "cfutils"


def ratings_cache_path(path: Path | str, cache_dir: Path | str | None = None) -> Path:
    """The parquet file that ``read_ratings(path, cache=True, cache_dir=cache_dir)`` reads or writes.

    Another engine (Spark) reads the parsed ratings from there; it exists once
    ``read_ratings`` has run on the current files.
    """
    _, files = _resolve_ratings_files(Path(path))
    return _cache_path(files, Path(cache_dir) if cache_dir is not None else default_cache_dir())


def _cache_path(files: list[Path], cache_dir: Path) -> Path:
    """``ratings-<source>-<hash>.parquet``; the hash covers each file's resolved path, size,
    modification time and inode change time (no tool can set the change time back)."""
    stamps = [(str(f.resolve()), s.st_size, s.st_mtime_ns, s.st_ctime_ns) for f in files for s in [f.stat()]]
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, stamps]).encode()).hexdigest()[:16]
    source = files[0].parent.name if len(files) > 1 else _base_name(files[0])
    return cache_dir / f"ratings-{re.sub(r'[^A-Za-z0-9_.-]', '_', source)}-{digest}.parquet"


def _frame_digest(frame: pd.DataFrame, report: bytes) -> bytes:
    """SHA-256 (hex) of the read report and of each column's name, dtype and values: everything
    a cache must give back unchanged."""
    digest = hashlib.sha256(report)
    for name in RATINGS_DTYPES:
        values = np.ascontiguousarray(frame[name].to_numpy())
        digest.update(f"{name}:{values.dtype.str}:{values.size}".encode())
        digest.update(values.view(np.uint8))
    return digest.hexdigest().encode()


def _write_cache(frame: pd.DataFrame, cache_path: Path) -> None:
    """Write atomically (temporary file, then rename) with parquet page checksums, and the read
    report and the frame's digest in the metadata.

    A failure (read-only or full disk, a cache folder under a file) logs one warning and leaves
    no temporary file: the frame is parsed already, only the next read will be slower. Orphaned
    temporary files (see :data:`ORPHAN_SECONDS`) are removed first.
    """
    report = json.dumps(frame.attrs["read_report"]).encode()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), REPORT_KEY: report, DIGEST_KEY: _frame_digest(frame, report)}
    temporary = cache_path.with_name(f".{cache_path.name}.{os.getpid()}.tmp")
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphans(cache_path.parent)
        pq.write_table(table.replace_schema_metadata(metadata), temporary, write_page_checksum=True)
        os.replace(temporary, cache_path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        logger.warning(
            "%s: parquet cache not written (%s); the source will be parsed again next time", cache_path, error
        )


def _remove_orphans(cache_dir: Path) -> None:
    """Delete the temporary cache files not modified for :data:`ORPHAN_SECONDS`."""
    cutoff = time.time() - ORPHAN_SECONDS
    for temporary in cache_dir.glob(".ratings-*.tmp"):
        with contextlib.suppress(OSError):  # another process may have just renamed or removed it
            if temporary.stat().st_mtime < cutoff:
                temporary.unlink()
                logger.info("%s: removed an orphaned temporary cache file", temporary)


def _read_cache(cache_path: Path) -> pd.DataFrame | None:
    """The cached frame, or None when there is no cache or it is unusable.

    An unusable cache (unreadable, truncated, a page checksum or the digest not matching) is
    deleted, with one warning: it is only a copy, and the source is parsed again.
    """
    if not cache_path.exists():
        return None
    logger.info("reading the parquet cache %s", cache_path)
    try:
        return _read_verified_cache(cache_path)
    except Exception as error:  # whatever the damage, the source is the truth
        try:
            cache_path.unlink(missing_ok=True)
            outcome = "deleted it"
        except OSError as unlink_error:
            outcome = f"could not delete it ({unlink_error})"
        logger.warning(
            "%s: unusable parquet cache (%s: %s); %s, parsing the source again",
            cache_path, type(error).__name__, error, outcome,
        )
        return None


class _CacheMismatch(Exception):
    """A cache read without error holds another frame than the one written."""


def _read_verified_cache(cache_path: Path) -> pd.DataFrame:
    """Read a cache back with the contract dtypes (parquet stores seconds as milliseconds), verifying
    the page checksums while reading and then the digest of the frame and report."""
    table = pq.read_table(cache_path, page_checksum_verification=True)
    metadata = table.schema.metadata or {}
    report = metadata[REPORT_KEY]
    schema = pa.schema([(name, pa.from_numpy_dtype(dtype)) for name, dtype in RATINGS_DTYPES.items()])
    frame = table.cast(schema).to_pandas(split_blocks=True, self_destruct=True)
    if list(frame.columns) != list(RATINGS_DTYPES) or _frame_digest(frame, report) != metadata[DIGEST_KEY]:
        raise _CacheMismatch("the frame read differs from the one written")
    frame.attrs["read_report"] = json.loads(report)
    return frame


# ---------------------------------------------------------------------------
# Titles
# ---------------------------------------------------------------------------


def _read_lines(path: Path, encoding: str) -> pd.Series:
    """Lines of a small text file (CRLF or LF, final newline optional, trailing blanks dropped)."""
    with _open_binary(path) as stream:
        raw = stream.read()
    text = _decode(raw, encoding).rstrip("\r\n")
    if not text.strip():
        raise DataFormatError(path, "empty file", 1, "")
    return pd.Series(text.split("\n"), dtype=str).str.removesuffix("\r")


def _decode(raw: bytes, encoding: str) -> str:
    """``encoding`` may be ``"utf-8|latin-1"``: UTF-8 when valid, else latin-1."""
    if encoding == "utf-8|latin-1":
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return raw.decode(encoding)


def _titles_frame(
    path: Path, lines: pd.Series, fields: pd.DataFrame, years: pd.Series, first_line: int = 1
) -> pd.DataFrame:
    """Validate and build the titles frame.

    ``fields`` holds the ``id`` and ``title`` text of each line (NaN where the line has
    too few fields), ``years`` the year text (None when missing); ``first_line`` is the
    line number of ``lines[0]``.
    """
    ids = pd.to_numeric(fields["id"], errors="coerce")
    year = pd.to_numeric(years, errors="coerce")
    bad = fields.isna().any(axis=1) | ids.isna() | (ids < 0) | (ids > MAX_ID) | (ids % 1 != 0)
    bad |= years.notna() & (year.isna() | (year % 1 != 0) | (year < 0) | (year > 9999))
    _raise_at_first(path, lines, bad, first_line, "expected an integer movie id, a title and an integer year")
    _raise_at_first(path, lines, ids.duplicated(), first_line, "repeated movie id")
    return pd.DataFrame(
        {"year": year.astype("Int16").array, "title": fields["title"].str.strip().astype(str).array},
        index=pd.Index(ids.astype(np.int32).to_numpy(), name="movie_id"),
    )


def empty_titles() -> pd.DataFrame:
    """A titles frame with no rows and the contract's index and column dtypes."""
    return pd.DataFrame(
        {"year": pd.array([], dtype="Int16"), "title": pd.array([], dtype=str)},
        index=pd.Index(np.empty(0, np.int32), name="movie_id"),
    )


def _raise_at_first(path: Path, lines: pd.Series, bad: pd.Series, first_line: int, reason: str) -> None:
    if bad.any():
        index = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataFormatError(path, reason, first_line + index, lines.iloc[index])


def _split_fields(lines: pd.Series, separator: str, names: list[str]) -> pd.DataFrame:
    """Split each line on the first ``len(names) - 1`` separators (missing fields are NaN)."""
    parts = lines.str.split(separator, n=len(names) - 1, regex=False, expand=True)
    return parts.reindex(columns=range(len(names))).set_axis(names, axis=1)


def _read_netflix_titles(path: Path) -> pd.DataFrame:
    lines = _read_lines(path, "utf-8|latin-1")
    fields = _split_fields(lines, ",", ["id", "year", "title"])
    years = fields.pop("year").str.strip()
    return _titles_frame(path, lines, fields, years.where(~years.isin(["NULL", ""]), None))


def _read_uitem_titles(path: Path) -> pd.DataFrame:
    """``id|title|release date|...``; the year ends the release date (``01-Jan-1995``)."""
    lines = _read_lines(path, "utf-8|latin-1")
    fields = _split_fields(lines, "|", ["id", "title", "release", "rest"]).drop(columns="rest")
    release = fields.pop("release").str.strip()
    years = release.str.extract(r"(\d{4})$", expand=False).fillna(release)  # no year: invalid
    fields["title"] = fields["title"].str.replace(_YEAR_IN_TITLE, "", regex=True).where(release.notna())
    return _titles_frame(path, lines, fields, years.where(release != "", None))


def _read_movies_csv_titles(path: Path) -> pd.DataFrame:
    """``movieId,title,genres`` with a header; a title with a comma is double-quoted."""
    lines = _read_lines(path, "utf-8|latin-1")
    if lines.iloc[0].replace(" ", "") != "movieId,title,genres":
        raise DataFormatError(path, "expected the header movieId,title,genres", 1, lines.iloc[0])
    lines = lines.iloc[1:].reset_index(drop=True)
    fields = lines.str.extract(r'^([^,]*),("(?:[^"]|"")*"|[^",]*),[^"]*$').set_axis(["id", "title"], axis=1)
    quoted = fields["title"].str.startswith('"', na=False)
    fields.loc[quoted, "title"] = fields.loc[quoted, "title"].str.slice(1, -1).str.replace('""', '"')
    return _titles_with_year_in_title(path, lines, fields, first_line=2)


def _read_movies_dat_titles(path: Path) -> pd.DataFrame:
    lines = _read_lines(path, "utf-8|latin-1")
    fields = _split_fields(lines, "::", ["id", "title", "genres"]).drop(columns="genres")
    return _titles_with_year_in_title(path, lines, fields.where(lines.str.count("::") == 2))


def _titles_with_year_in_title(path: Path, lines: pd.Series, fields: pd.DataFrame, first_line: int = 1) -> pd.DataFrame:
    """MovieLens titles end with ``(YYYY)``: move it to the year (missing without one)."""
    years = fields["title"].str.extract(_YEAR_IN_TITLE, expand=False)
    fields = fields.assign(title=fields["title"].str.replace(_YEAR_IN_TITLE, "", regex=True))
    return _titles_frame(path, lines, fields, years, first_line)


def __getattr__(name: str):
    """``read_probe`` and ``read_qualifying`` live in :mod:`cfutils.prize`, which builds on this module."""
    if name in ("read_probe", "read_qualifying"):
        from cfutils import prize

        return getattr(prize, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
