r"""The Netflix Prize's own protocol: the probe and qualifying files, the hold-out, submissions.

The Prize held out **each user's most recent ratings, up to 9**, and split them at random
into three sets of about equal size: the *probe* set, whose ratings stay in the training
files (``probe.txt`` lists its pairs, 1,408,395 of them), and the *quiz* and *test* sets,
whose ratings were withheld. Together those two form the *qualifying* set (``qualifying.txt``,
2,817,131 pairs with their dates). A submission predicted every qualifying pair; the
leaderboard showed its RMSE on the quiz half, and the prize was judged on the test half.

Files (each may be gzip-compressed, with a ``.gz`` suffix), ASCII, a ``MovieID:`` line
opening each movie's block, as in the ratings files:

=======================  =====================================================
``probe.txt``            one ``CustomerID`` per line
``qualifying.txt``       one ``CustomerID,YYYY-MM-DD`` per line
a submission             the qualifying file's ``MovieID:`` lines, in its order, and
                         one predicted rating per qualifying line, in its order
``qualifying_answers``   generated data only (:mod:`cfutils.data.synth`): the true
``.txt``                 ratings of the qualifying pairs, in the submission format
=======================  =====================================================

The readers parse like :func:`cfutils.data.io.read_ratings` (pieces of whole lines parsed by
``pyarrow``, one Python step per ``MovieID:`` header) and raise
:class:`cfutils.data.io.DataFormatError` naming the file, the line and its text. A frame read
from a file keeps the row's position in the file as its index, and the file's path in
``frame.attrs["source"]``, so that a later check can name the line of a row.

Reference points (RMSE on the real data): Cinematch, Netflix's own system, scored 0.9474
on the probe set, 0.9514 on the quiz set and 0.9525 on the test set. The Grand Prize asked
for 10 % less than Cinematch: 0.8563 on the quiz set, 0.8572 on the test set; the winning
entry scored 0.8567 on the test set.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from tqdm.auto import tqdm

from cfutils.data.io.files import MOVIE_HEADER, open_binary
from cfutils.data.io.pieces import (
    DECIMAL,
    PIECE_BYTES,
    BadPiece,
    Piece,
    csv_options,
    days_to_seconds,
    is_id,
    iso_date,
    read_pieces,
    unlocated_error,
)
from cfutils.data.io.ratings import netflix_block_rows, netflix_headers
from cfutils.data.io.schema import MAX_ID, DataFormatError

PROBE_NAME = "probe.txt"
QUALIFYING_NAME = "qualifying.txt"
#: Written by the generator only: real Prize data has no such file.
QUALIFYING_ANSWERS_NAME = "qualifying_answers.txt"

#: RMSE of the Prize's reference points on the real data, by the set they were measured on.
PRIZE_REFERENCES = {
    "Cinematch (Netflix's system)": {"probe": 0.9474, "quiz": 0.9514, "test": 0.9525},
    "Grand Prize target (10 % below Cinematch)": {"quiz": 0.8563, "test": 0.8572},
    "winning entry (BellKor's Pragmatic Chaos)": {"test": 0.8567},
}


# ---------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _RowFormat:
    """The lines under a ``MovieID:`` header: their names and types, and a per-line check."""

    columns: dict[str, pa.DataType]
    problem: Callable[[bytes], str | None]


def _probe_row_problem(text: bytes) -> str | None:
    return None if is_id(text) else "expected a CustomerID (a non-negative 32-bit integer)"


def _qualifying_row_problem(text: bytes) -> str | None:
    fields = text.split(b",")
    if len(fields) != 2:
        return f"expected 2 fields CustomerID,YYYY-MM-DD, found {len(fields)}"
    if not is_id(fields[0]):
        return "CustomerID is not a non-negative 32-bit integer"
    return None if iso_date(fields[1]) is not None else "date is not a valid YYYY-MM-DD"


def _prediction_row_problem(text: bytes) -> str | None:
    ok = DECIMAL.fullmatch(text) is not None and 1 <= float(text) <= 5
    return None if ok else "expected one predicted rating, a number from 1 to 5"


_PROBE = _RowFormat({"user_id": pa.int32()}, _probe_row_problem)
_QUALIFYING = _RowFormat({"user_id": pa.int32(), "date": pa.date32()}, _qualifying_row_problem)
_PREDICTIONS = _RowFormat({"rating": pa.float64()}, _prediction_row_problem)


def read_probe(path: Path | str, progress: bool = False) -> pd.DataFrame:
    """Read ``probe.txt`` (``MovieID:`` lines, then one ``CustomerID`` per line).

    Returns ``user_id`` and ``movie_id`` (int32) in file order, indexed by the row's
    position in the file, with ``attrs["source"]`` the path. Raises
    :class:`~cfutils.data.io.DataFormatError` for a bad line or a pair listed twice.
    """
    return _read_pairs(Path(path), _PROBE, progress)


def read_qualifying(path: Path | str, progress: bool = False) -> pd.DataFrame:
    """Read ``qualifying.txt`` (``MovieID:`` lines, then ``CustomerID,YYYY-MM-DD`` lines).

    Returns ``user_id``, ``movie_id`` (int32) and ``date`` (datetime64[s], midnight) in
    file order, indexed by the row's position in the file, with ``attrs["source"]``
    the path. Raises :class:`~cfutils.data.io.DataFormatError` for a bad line or a pair
    listed twice.
    """
    return _read_pairs(Path(path), _QUALIFYING, progress)


def read_qualifying_predictions(path: Path | str, qualifying: pd.DataFrame) -> pd.Series:
    """Read a submission (or ``qualifying_answers.txt``) for ``qualifying``, the frame of
    :func:`read_qualifying`: one value per qualifying row, indexed like it.

    The file's ``MovieID:`` blocks must be those of ``qualifying``, in its order and with
    its number of lines each (else :class:`~cfutils.data.io.DataFormatError`).
    """
    path = Path(path)
    columns, movie_ids, block_rows = _parse_blocks(path, _PREDICTIONS, progress=False)
    expected_ids, expected_rows = _movie_runs(qualifying["movie_id"].to_numpy())
    if not (np.array_equal(movie_ids, expected_ids) and np.array_equal(block_rows, expected_rows)):
        raise DataFormatError(
            path, f"its MovieID blocks and their lengths differ from the {len(qualifying):,} qualifying rows"
        )
    return pd.Series(columns["rating"], index=qualifying.index, name="rating")


def _read_pairs(path: Path, row_format: _RowFormat, progress: bool) -> pd.DataFrame:
    columns, movie_ids, block_rows = _parse_blocks(path, row_format, progress)
    frame = pd.DataFrame({"user_id": columns.pop("user_id"), "movie_id": np.repeat(movie_ids, block_rows)})
    if "date" in columns:
        frame["date"] = days_to_seconds(columns["date"].astype(np.int32))
    _raise_on_repeated_pair(path, frame)
    frame.attrs["source"] = str(path)
    return frame


def _parse_blocks(path: Path, row_format: _RowFormat, progress: bool):
    """The columns of every line, the movie of each block and the lines per block.

    Blocks are counted per header as written, so a movie that opens two blocks appears twice.
    """
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}")
    parts: dict[str, list[np.ndarray]] = {name: [] for name in row_format.columns}
    movie_ids: list[int] = []
    block_rows: list[int] = []
    total = None if path.name.endswith(".gz") else path.stat().st_size
    with tqdm(total=total, unit="B", unit_scale=True, desc=path.name, disable=not progress, leave=False) as bar:
        for piece in read_pieces([path], PIECE_BYTES, bar):
            parsed, headers, rows = _parse_piece(piece, row_format, movie_ids[-1] if movie_ids else None)
            for name, values in parsed.items():
                parts[name].append(values)
            if block_rows:
                block_rows[-1] += rows[0]
            movie_ids += [movie for _, _, movie in headers]
            block_rows += rows[1:]
    columns = {name: np.concatenate(values) for name, values in parts.items()}
    return columns, np.array(movie_ids, dtype=np.int32), np.array(block_rows, dtype=np.int64)


def _parse_piece(piece: Piece, row_format: _RowFormat, movie_id: int | None):
    """Parse one piece: the header lines are cut out and the rest parsed by pyarrow at once."""
    try:
        headers = netflix_headers(piece.data)
        rows = netflix_block_rows(piece, headers, movie_id)
        bounds = [0, *(b for start, end, _ in headers for b in (start, end)), len(piece.data)]
        data = b"".join(piece.data[bounds[i] : bounds[i + 1]] for i in range(0, len(bounds), 2))
        names = list(row_format.columns)
        if data:
            table = pa_csv.read_csv(pa.py_buffer(data), **csv_options(names, row_format.columns, ","))
            parsed = {name: _as_numpy(table.column(name)) for name in names}
        else:
            parsed = {name: _as_numpy(pa.chunked_array([], row_format.columns[name])) for name in names}
        if "user_id" in parsed and (parsed["user_id"] < 0).any():
            raise BadPiece
        if "rating" in parsed and not ((parsed["rating"] >= 1) & (parsed["rating"] <= 5)).all():
            raise BadPiece
    except (BadPiece, pa.ArrowInvalid):
        raise _first_bad_line(piece, row_format, movie_id) from None
    return parsed, headers, rows


def _as_numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A parsed column as numpy; dates as int32 day numbers."""
    if pa.types.is_date32(column.type):
        column = column.cast(pa.int32())
    return column.to_numpy()


def _first_bad_line(piece: Piece, row_format: _RowFormat, movie_id: int | None) -> DataFormatError:
    """The first line of a piece that breaks the format (error path only, line by line)."""
    in_movie = movie_id is not None and piece.origins[0].file_offset > 0
    for path, line_number, text in piece.lines():
        text = text.rstrip(b"\r")
        if b":" in text:
            match = MOVIE_HEADER.fullmatch(text)
            ok = match is not None and int(match[1]) <= MAX_ID
            problem = None if ok else "a MovieID header must be a non-negative integer then ':'"
            in_movie = True
        else:
            problem = row_format.problem(text) if in_movie else "a line before any 'MovieID:' header"
        if problem:
            return DataFormatError(path, problem, line_number, text.decode("latin-1"))
    return unlocated_error(piece)


def _raise_on_repeated_pair(path: Path, frame: pd.DataFrame) -> None:
    repeated = frame.duplicated(["user_id", "movie_id"]).to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        line_number, text = _line_of_row(path, row)
        raise DataFormatError(path, "a (CustomerID, MovieID) pair listed twice", line_number, text)


def _line_of_row(path: Path, row: int) -> tuple[int, str]:
    """1-based line number and text of the ``row``-th (0-based) non-header line (error path only)."""
    with open_binary(path) as stream:
        seen = -1
        for line_number, line in enumerate(stream, start=1):
            text = line.rstrip(b"\r\n")
            seen += b":" not in text
            if seen == row:
                return line_number, text.decode("latin-1")
    raise IndexError(f"{path} has no row {row}")


def source_line(pairs: pd.DataFrame, label: int) -> tuple[str, int | None, str | None]:
    """(file, line number, line) of the row ``label`` of a frame read by :func:`read_probe` or
    :func:`read_qualifying`; for a frame built in memory, a description and no line."""
    source = pairs.attrs.get("source")
    if source is None or not Path(source).is_file():
        row = pairs.loc[label]
        return "the pairs given", None, f"CustomerID {row['user_id']}, MovieID {row['movie_id']}"
    line_number, text = _line_of_row(Path(source), int(label))
    return source, line_number, text


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------


def _movie_runs(movie_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The movie of each run of equal consecutive ids, and the length of each run."""
    if len(movie_ids) == 0:
        return np.empty(0, np.int32), np.empty(0, np.int64)
    starts = np.flatnonzero(np.r_[True, movie_ids[1:] != movie_ids[:-1]])
    return movie_ids[starts].astype(np.int32), np.diff(np.r_[starts, len(movie_ids)])


def _write_blocks(path: Path | str, movie_ids: np.ndarray, lines: list[str]) -> None:
    """``MovieID:`` before each run of equal consecutive ``movie_ids``, then its ``lines``.

    Written to a temporary file, then renamed; a ``.gz`` name is gzip-compressed.
    """
    path = Path(path)
    ids, lengths = _movie_runs(np.asarray(movie_ids))
    ends = np.cumsum(lengths).tolist()
    text = "".join(
        f"{movie}:\n" + "".join(line + "\n" for line in lines[end - length : end])
        for movie, length, end in zip(ids.tolist(), lengths.tolist(), ends)
    ).encode("ascii")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if path.name.endswith(".gz"):
        text = gzip.compress(text, mtime=0)
    temporary.write_bytes(text)
    os.replace(temporary, path)


def write_probe(pairs: pd.DataFrame, path: Path | str) -> None:
    """Write ``pairs`` (``user_id``, ``movie_id``) as ``probe.txt``, in their order (a
    ``MovieID:`` line opens each run of equal movie ids)."""
    _write_blocks(path, pairs["movie_id"].to_numpy(), pairs["user_id"].astype(str).tolist())


def write_qualifying(pairs: pd.DataFrame, path: Path | str) -> None:
    """Write ``pairs`` (``user_id``, ``movie_id``, ``date``) as ``qualifying.txt``, in their order."""
    days = np.datetime_as_string(pairs["date"].to_numpy().astype("datetime64[D]"))
    lines = (pairs["user_id"].astype(str) + "," + days).tolist()
    _write_blocks(path, pairs["movie_id"].to_numpy(), lines)


def write_qualifying_predictions(
    qualifying: pd.DataFrame, predictions: np.ndarray | pd.Series, path: Path | str, decimals: int = 3
) -> None:
    """Write a submission in the format of the Prize's README.

    For each ``MovieID:`` block of ``qualifying`` (the frame of :func:`read_qualifying`,
    in its order), the ``MovieID:`` line, then one prediction per qualifying row of the
    block, in the same order, rounded to ``decimals`` decimals (``f"{r:.{decimals}f}"``).
    ``predictions[j]`` is the prediction of row ``j`` of ``qualifying``; one outside the
    stars' range is clipped into ``[1, 5]`` (every true rating lies there, so clipping
    only lowers the error). Raises ``ValueError`` unless there is one finite prediction
    per row.
    """
    values = np.asarray(predictions, dtype=np.float64)
    if values.shape != (len(qualifying),):
        raise ValueError(f"{values.shape[0] if values.ndim else 0} predictions for {len(qualifying):,} qualifying rows")
    if not np.isfinite(values).all():
        raise ValueError("every prediction must be a finite number")
    values = np.clip(values, 1, 5)
    _write_blocks(path, qualifying["movie_id"].to_numpy(), [f"{value:.{decimals}f}" for value in values.tolist()])


# ---------------------------------------------------------------------------
# The hold-out, and the probe pairs of a ratings frame
# ---------------------------------------------------------------------------


class Holdout(NamedTuple):
    """Row masks of a ratings frame: the probe ratings and the qualifying ratings (disjoint)."""

    is_probe: np.ndarray
    is_qualifying: np.ndarray


def prize_holdout(ratings: pd.DataFrame, per_user: int = 9, probe_share: float = 1 / 3, seed: int = 0) -> Holdout:
    """The Prize's hold-out: each user's ``min(per_user, n_u // 2)`` most recent ratings.

    "Most recent" orders a user's ratings by ``(date, movie_id)``. Holding out at most
    half of a user's ``n_u`` ratings keeps every held-out user in training (a user with
    one rating keeps it). Each held-out rating is a probe rating with probability
    ``probe_share`` (drawn with ``numpy.random.default_rng(seed)`` in the order
    ``(user_id, date, movie_id)``, so the result does not depend on the row order), else a
    qualifying rating. Work memory: about 25 bytes per rating (the sort order and two
    int64 arrays).
    """
    users = ratings["user_id"].to_numpy()
    order = np.lexsort((ratings["movie_id"].to_numpy(), ratings["date"].to_numpy(), users))
    sorted_users = users[order]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    del sorted_users
    counts = np.diff(np.r_[starts, len(order)])
    first_held = starts + counts - np.minimum(per_user, counts // 2)  # the user's first held-out position
    held = np.arange(len(order)) >= np.repeat(first_held, counts)
    probe = np.random.default_rng(seed).random(int(held.sum())) < probe_share
    is_probe = np.zeros(len(order), dtype=bool)
    is_qualifying = np.zeros(len(order), dtype=bool)
    is_probe[order[held][probe]] = True
    is_qualifying[order[held][~probe]] = True
    return Holdout(is_probe, is_qualifying)


def pairs_within(pairs: pd.DataFrame | None, ratings: pd.DataFrame) -> pd.DataFrame | None:
    """The rows of ``pairs`` whose user and movie both appear in ``ratings`` (``None`` stays ``None``).

    Use it after sampling users or movies, so that the probe pairs match the sample.
    """
    if pairs is None:
        return None
    keep = pairs["user_id"].isin(ratings["user_id"].unique()) & pairs["movie_id"].isin(ratings["movie_id"].unique())
    return pairs[keep.to_numpy()]


def pair_keys(users: np.ndarray, movies: np.ndarray) -> np.ndarray:
    """``movie << 32 | user`` as uint64 (ids are non-negative int32): one sortable key per pair."""
    keys = movies.astype(np.uint64) << np.uint64(32)
    keys |= users.astype(np.uint64)
    return keys


def find_pairs(ratings: pd.DataFrame, pairs: pd.DataFrame, chunk_rows: int = 8_000_000) -> np.ndarray:
    """Row mask of ``ratings`` whose (user, movie) is one of ``pairs``; every pair must be found.

    The pairs' keys are sorted once; the ratings are looked up ``chunk_rows`` at a time
    (binary search), so besides the 1-byte mask the work memory is about
    ``25 · chunk_rows`` bytes plus 25 bytes per pair, whatever the number of ratings.
    Raises :class:`~cfutils.data.io.DataFormatError` naming the file and line of the first
    pair (in the order of ``pairs``) that no rating has.
    """
    keys = pair_keys(pairs["user_id"].to_numpy(), pairs["movie_id"].to_numpy())
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    found = np.zeros(len(keys), dtype=bool)
    mask = np.zeros(len(ratings), dtype=bool)
    users, movies = ratings["user_id"].to_numpy(), ratings["movie_id"].to_numpy()
    for start in range(0, len(ratings), chunk_rows):
        chunk = pair_keys(users[start : start + chunk_rows], movies[start : start + chunk_rows])
        position = np.minimum(np.searchsorted(sorted_keys, chunk), max(len(sorted_keys) - 1, 0))
        hit = sorted_keys[position] == chunk if len(sorted_keys) else np.zeros(len(chunk), dtype=bool)
        mask[start : start + len(chunk)] = hit
        found[position[hit]] = True
    if not found.all():
        first = int(np.sort(order[~found])[0])
        label = pairs.index[first]
        source, line_number, text = source_line(pairs, label)
        user, movie = pairs.loc[label, "user_id"], pairs.loc[label, "movie_id"]
        raise DataFormatError(
            source, f"no rating has this probe pair (CustomerID {user}, MovieID {movie})", line_number, text
        )
    return mask


# ---------------------------------------------------------------------------
# Scores beside the Prize's reference points
# ---------------------------------------------------------------------------


def prize_scores(probe: pd.Series | None, quiz: pd.Series | None) -> pd.DataFrame:
    """One row per model (its ``probe`` and ``quiz`` RMSE, when measured), then one per
    reference point of :data:`PRIZE_REFERENCES`; columns ``probe``, ``quiz``, ``test``."""
    measured = {name: scores for name, scores in (("probe", probe), ("quiz", quiz)) if scores is not None}
    models = pd.DataFrame(measured, dtype=np.float64)
    references = pd.DataFrame.from_dict(PRIZE_REFERENCES, orient="index")
    return pd.concat([models, references]).reindex(columns=["probe", "quiz", "test"]).rename_axis("model")


def prize_story(scores: pd.DataFrame, split: str, generated: bool, submission: str) -> str:
    """Markdown that reads :func:`prize_scores`' table; ``generated`` says whether the data came
    with ``qualifying_answers.txt``; ``submission`` says what happened to the submission file."""
    if split != "probe":
        return (
            f"`SPLIT` is `{split}`, not `probe`: the test RMSE above is not measured on the Prize's probe set, "
            'so only the reference points are listed. Run with `SPLIT = "probe"` (pipeline `--split probe`) '
            "on data that has `probe.txt`."
        )
    models = scores.drop(index=list(PRIZE_REFERENCES))
    best = models["probe"].idxmin()
    cinematch = PRIZE_REFERENCES["Cinematch (Netflix's system)"]
    text = [
        f"Lowest probe RMSE: **{best}**, {models.loc[best, 'probe']:.4f} (Cinematch: {cinematch['probe']} "
        "on the real probe set)."
    ]
    if generated:
        quiz = models["quiz"]
        text.append(
            f"Its quiz RMSE is {quiz[best]:.4f} (lowest: {quiz.idxmin()}, {quiz.min():.4f}). This data is generated "
            "(only generated data comes with `qualifying_answers.txt`), so the Prize's numbers are shown for scale "
            "only: the generator has its own rating model, noise level and ratings per user, and an RMSE below "
            "Cinematch's here says nothing about beating Cinematch on Netflix."
        )
    else:
        text.append(
            "There is no `qualifying_answers.txt` here, as on the real Netflix data: the qualifying ratings are "
            "withheld, so no quiz RMSE can be measured. If this is the real Netflix data, the probe RMSE values "
            "compare directly with Cinematch's."
        )
    return " ".join([*text, submission])
