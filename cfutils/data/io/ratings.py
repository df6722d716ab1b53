"""Parsing the ratings formats into the ratings frame: Netflix (Kaggle and ``training_set/``) and MovieLens.

Each piece of text (:mod:`cfutils.data.io.pieces`) is parsed by ``pyarrow.csv``; Python only loops
over the ``MovieID:`` headers (one per movie), never over rating lines. A (user, movie) pair
rated twice keeps its latest rating.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from tqdm.auto import tqdm

from cfutils.data.io.cache import cache_file_path, default_cache_dir, read_cache, write_cache
from cfutils.data.io.files import MOVIE_HEADER, MOVIELENS_LAYOUTS, MovieLensLayout, resolve_ratings_files
from cfutils.data.io.pieces import (
    DECIMAL,
    INTEGER,
    PIECE_BYTES,
    BadPiece,
    Piece,
    concatenate_parts,
    csv_options,
    days_to_seconds,
    is_id,
    iso_date,
    piece_column,
    read_pieces,
    unlocated_error,
)
from cfutils.data.io.schema import (
    FIRST_DATE,
    FIRST_SECOND,
    LAST_DATE,
    LAST_SECOND,
    MAX_ID,
    RATINGS_DTYPES,
    DataFormatError,
    date_range_problem,
    dated_in_range,
)

logger = logging.getLogger(__name__)

_HEADER_TEXT = re.compile(MOVIE_HEADER.pattern.decode(), re.ASCII)  # the same, for pyarrow's decoded row text

#: Ratings are parsed and checked as float64, then stored as float32 (``5.0000001`` is no rating).
_MOVIELENS_TYPES = {"user_id": pa.int32(), "movie_id": pa.int32(), "rating": pa.float64(), "timestamp": pa.int64()}


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
    ratings_format, files = resolve_ratings_files(Path(path))
    if not cache:
        return _parse_ratings(ratings_format, files, progress)
    cache_path = cache_file_path(files, Path(cache_dir) if cache_dir is not None else default_cache_dir())
    frame = read_cache(cache_path)
    if frame is None:
        frame = _parse_ratings(ratings_format, files, progress)
        write_cache(frame, cache_path)
    return frame


def _parse_ratings(ratings_format: str, files: list[Path], progress: bool) -> pd.DataFrame:
    """Parse every piece, concatenate, drop duplicate pairs and attach the read report."""
    parse_piece = _PIECE_PARSERS[ratings_format]
    total = None if any(f.name.endswith(".gz") for f in files) else sum(f.stat().st_size for f in files)
    columns: dict[str, list[np.ndarray]] = {name: [] for name in RATINGS_DTYPES}
    state = None
    with tqdm(total=total, unit="B", unit_scale=True, desc="read_ratings", disable=not progress, leave=False) as bar:
        for piece in read_pieces(files, PIECE_BYTES, bar):
            parsed, state = parse_piece(piece, state)
            for name, values in parsed.items():
                columns[name].append(values)
    frame = pd.DataFrame(
        {name: concatenate_parts(parts, RATINGS_DTYPES[name]) for name, parts in columns.items()}, copy=False
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


# --- Netflix ------------------------------------------------------------------

_NETFLIX_ROW_OPTIONS = csv_options(
    ["user_id", "rating", "date"],
    {"user_id": pa.int32(), "rating": pa.int8(), "date": pa.date32()},
    ",",
    on_invalid_row=lambda row: "skip" if _HEADER_TEXT.fullmatch(row.text) else "error",
)


def _parse_netflix_piece(piece: Piece, movie_id: int | None) -> tuple[dict[str, np.ndarray], int | None]:
    """Parse a piece of Kaggle / training_set text; ``movie_id`` is the movie open at its start.

    The ``MovieID:`` headers are found with ``bytes.find`` (C speed; one Python step
    per header), the rating rows are parsed by pyarrow, which skips the header rows,
    and each row's movie comes from the header above it (``np.repeat`` of the ids by
    block length). Returns the columns and the movie open at the end of the piece.
    """
    try:
        headers = netflix_headers(piece.data)
        block_rows = netflix_block_rows(piece, headers, movie_id)
        table = pa_csv.read_csv(pa.py_buffer(piece.data), **_NETFLIX_ROW_OPTIONS)
        if table.num_rows != sum(block_rows):
            raise BadPiece
        rating = piece_column(table, "rating")
        user_id = piece_column(table, "user_id")
        date = days_to_seconds(table.column("date").cast(pa.int32()).to_numpy())
        if ((rating < 1) | (rating > 5)).any() or (user_id < 0).any() or not dated_in_range(date):
            raise BadPiece
    except (BadPiece, pa.ArrowInvalid):
        raise _netflix_error(piece, movie_id) from None
    movie_ids = np.array([movie_id or 0] + [movie for _, _, movie in headers], dtype=np.int32)
    columns = {
        "user_id": user_id,
        "movie_id": np.repeat(movie_ids, block_rows),
        "rating": rating.astype(np.float32),
        "date": date,
    }
    return columns, int(movie_ids[-1]) if headers else movie_id


def netflix_headers(data: bytes) -> list[tuple[int, int, int]]:
    """(line start, line end after the newline, movie id) of each ``MovieID:`` line.

    Every line holding a ``:`` must be a header; one step per header, not per line.
    """
    headers = []
    colon = data.find(b":")
    while colon >= 0:
        start = data.rfind(b"\n", 0, colon) + 1
        end = data.find(b"\n", colon) + 1
        match = MOVIE_HEADER.fullmatch(data, start, end - 1)
        if match is None or int(match[1]) > MAX_ID:
            raise BadPiece
        headers.append((start, end, int(match[1])))
        colon = data.find(b":", end)
    return headers


def netflix_block_rows(piece: Piece, headers: list[tuple[int, int, int]], movie_id: int | None) -> list[int]:
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
        raise BadPiece
    return block_rows


def _netflix_error(piece: Piece, movie_id: int | None) -> DataFormatError:
    """The first bad line of a Netflix piece whose vectorised parse failed (slow, error path only)."""
    in_movie = movie_id is not None and piece.origins[0].file_offset > 0
    for path, line_number, text in piece.lines():
        in_movie = in_movie and line_number > 1
        if b":" in text and b"," not in text:  # a row with a time in its date is a row
            match = MOVIE_HEADER.fullmatch(text)
            valid = match is not None and int(match[1]) <= MAX_ID
            problem = None if valid else "a MovieID header must be a non-negative integer then ':'"
            in_movie = True
        elif not in_movie:
            problem = "a rating row before any 'MovieID:' header"
        else:
            problem = _netflix_row_problem(text)
        if problem:
            return DataFormatError(path, problem, line_number, text.decode("latin-1"))
    return unlocated_error(piece)


def _netflix_row_problem(text: bytes) -> str | None:
    """What is wrong with one ``CustomerID,Rating,YYYY-MM-DD`` row, or None."""
    fields = text.rstrip(b"\r").split(b",")
    if len(fields) != 3:
        return f"expected 3 fields CustomerID,Rating,YYYY-MM-DD, found {len(fields)}"
    user, rating, date = fields
    if not is_id(user):
        return "CustomerID is not a non-negative 32-bit integer"
    if not INTEGER.fullmatch(rating) or not 1 <= int(rating) <= 5:
        return "rating is not an integer from 1 to 5"
    day = iso_date(date)
    if day is None:
        return "date is not a valid YYYY-MM-DD"
    if not FIRST_DATE <= day <= LAST_DATE:
        return date_range_problem("date")
    return None


def _movielens_parser(layout: MovieLensLayout):
    """A piece parser for one MovieLens layout (``user, movie, rating, unix seconds`` rows)."""

    def parse_piece(piece: Piece, state: None) -> tuple[dict[str, np.ndarray], None]:
        data = piece.data
        has_header = layout.header is not None and piece.origins[0].file_offset == 0
        try:
            if has_header and data[: data.find(b"\n")].rstrip(b"\r").replace(b" ", b"") != layout.header:
                raise BadPiece
            delimiter = layout.separator
            if len(delimiter) > 1:
                if b"\t" in data:  # a tab would pass for the stand-in separator below
                    raise BadPiece
                data, delimiter = data.replace(delimiter, b"\t"), b"\t"  # pyarrow needs a one-byte delimiter
            options = csv_options(
                list(_MOVIELENS_TYPES), _MOVIELENS_TYPES, delimiter.decode(), skip_rows=int(has_header)
            )
            table = pa_csv.read_csv(pa.py_buffer(data), **options)
            rating = piece_column(table, "rating")
            user_id, movie_id = piece_column(table, "user_id"), piece_column(table, "movie_id")
            date = piece_column(table, "timestamp").view("datetime64[s]")
            steps = rating / layout.step
            valid_rating = (rating >= layout.step) & (rating <= 5) & (steps == np.round(steps))
            if not valid_rating.all() or (user_id < 0).any() or (movie_id < 0).any() or not dated_in_range(date):
                raise BadPiece
        except (BadPiece, pa.ArrowInvalid):
            raise _movielens_error(piece, layout) from None
        columns = {"user_id": user_id, "movie_id": movie_id, "rating": rating.astype(np.float32), "date": date}
        return columns, state

    return parse_piece


def _movielens_error(piece: Piece, layout: MovieLensLayout) -> DataFormatError:
    """The first bad line of a MovieLens piece whose vectorised parse failed (error path only)."""
    for path, line_number, text in piece.lines():
        if layout.header is not None and line_number == 1:
            ok = text.rstrip(b"\r").replace(b" ", b"") == layout.header
            problem = None if ok else f"expected the header {layout.header.decode()}"
        else:
            problem = _movielens_row_problem(text.rstrip(b"\r"), layout.separator, layout.step)
        if problem:
            return DataFormatError(path, problem, line_number, text.decode("latin-1"))
    return unlocated_error(piece)


def _movielens_row_problem(text: bytes, separator: bytes, step: float) -> str | None:
    """What is wrong with one ``user, movie, rating, timestamp`` row (ratings in steps of ``step``
    stars: 1 for whole stars, 0.5 for half stars), or None."""
    if len(separator) > 1 and b"\t" in text:
        return f"a tab in a line whose fields are separated by {separator.decode()!r}"
    fields = text.split(separator)
    if len(fields) != 4:
        names = f"user, movie, rating, timestamp separated by {separator.decode()!r}"
        return f"expected 4 fields {names}, found {len(fields)}"
    user, movie, rating, timestamp = fields
    if not (is_id(user) and is_id(movie)):
        return "user or movie id is not a non-negative 32-bit integer"
    stars = float(rating) if DECIMAL.fullmatch(rating) else float("nan")
    if not (step <= stars <= 5 and stars / step == round(stars / step)):
        return (
            "rating is not a number from 0.5 to 5 in half stars" if step == 0.5 else "rating is not a whole star 1 to 5"
        )
    if not INTEGER.fullmatch(timestamp):
        return "timestamp is not an integer (unix seconds)"
    if not FIRST_SECOND <= int(timestamp) <= LAST_SECOND:
        return date_range_problem("timestamp (unix seconds)")
    return None


_PIECE_PARSERS = {"netflix": _parse_netflix_piece} | {
    name: _movielens_parser(layout) for name, layout in MOVIELENS_LAYOUTS.items()
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
