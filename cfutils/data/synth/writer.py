r"""The file writer: generated Netflix-Prize-like data in the exact Kaggle file format.

The default run of the project needs no download: it generates a sample with this
module and reads it back with the real reader (:func:`cfutils.data.io.read_ratings`), so the
reader is exercised every time. The same generator scales to full Netflix size
(480,189 users, 17,770 movies, 100,480,507 ratings) with bounded memory.

Files written (the Kaggle layout of the Netflix Prize data)
-----------------------------------------------------------
``combined_data_1.txt`` ... ``combined_data_F.txt``
    ASCII, LF line endings. A line ``MovieID:`` opens each movie's block; each line
    after it is ``CustomerID,Rating,YYYY-MM-DD``. Movies appear once, in increasing id
    order, split into contiguous id ranges holding about the same number of ratings.
    Inside a block the order is random, as in the real files (neither by customer
    nor by date).
``movie_titles.csv``
    ISO-8859-1, no quoting, ``MovieID,YearOfRelease,Title``. Titles may contain
    commas (split a line on its first two commas only), a few are not ASCII, and a
    few years are ``NULL``.
``probe.txt``, ``qualifying.txt``, ``qualifying_answers.txt``
    Only with ``prize_holdout=True`` (the embedded sample): the Netflix Prize's hold-out,
    made the Prize's way (:func:`cfutils.data.io.prize.prize_holdout`). Each user's most recent
    ratings, up to 9 (at most half of them), are held out; about a third become the
    probe set, listed in ``probe.txt`` and kept in the ratings files; the rest become the
    qualifying set, listed with dates in ``qualifying.txt`` and removed from the ratings
    files. ``qualifying_answers.txt`` holds their true stars in the submission format
    (:func:`cfutils.data.io.prize.write_qualifying_predictions`); the real data has no such file.
``.synth.json``
    The parameters the files were made from (see :func:`write_netflix`).

The data come from the generative model of :mod:`cfutils.data.synth.model`.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cfutils.data.io.prize import (
    PROBE_NAME,
    QUALIFYING_ANSWERS_NAME,
    QUALIFYING_NAME,
    prize_holdout,
    write_probe,
    write_qualifying,
    write_qualifying_predictions,
)
from cfutils.data.synth.model import (
    FIRST_DAY,
    MODEL,
    N_DAYS,
    STREAM_POPULATION,
    MovieBlock,
    draw_population,
    movie_blocks,
)
from cfutils.data.synth.titles import titles_csv

#: Bumped whenever the bytes generated for given parameters change; part of the content key.
GENERATOR_VERSION = 2

MARKER_NAME = ".synth.json"
LOCK_NAME = ".synth.lock"  # held while the files are checked and written
TITLES_NAME = "movie_titles.csv"


@dataclass(frozen=True)
class Preset:
    """Named generator parameters; ``write_preset(directory, preset)`` writes them."""

    n_users: int
    n_movies: int
    n_ratings: int
    seed: int = 0
    n_files: int = 1
    prize_holdout: bool = False

    def scaled(self, fraction: float) -> Preset:
        """Users and ratings scaled by ``fraction``, all movies kept (as in ``benchmarks/scale.py``)."""
        return replace(
            self,
            n_users=max(1, round(self.n_users * fraction)),
            n_ratings=max(1, round(self.n_ratings * fraction)),
        )


#: For unit tests: a few thousand ratings, generated in well under a second.
TINY = Preset(n_users=400, n_movies=80, n_ratings=7_000, seed=7, n_files=2)
#: The embedded default data set, in ``data/sample``.
SAMPLE = Preset(n_users=5_000, n_movies=1_000, n_ratings=250_000, seed=2005, n_files=4, prize_holdout=True)
#: The size of the Netflix Prize training data.
NETFLIX = Preset(n_users=480_189, n_movies=17_770, n_ratings=100_480_507, seed=0, n_files=4)


def default_sample_dir() -> Path:
    """``<repo>/data/sample``, where the embedded sample lives."""
    return Path(__file__).resolve().parents[3] / "data" / "sample"


def write_sample(directory: str | os.PathLike | None = None, *, progress: bool = False) -> Path:
    """Write the :data:`SAMPLE` preset to ``directory`` (default ``<repo>/data/sample``).

    Idempotent: nothing is rewritten when the files are already there and their
    marker matches (see :func:`write_netflix`).
    """
    return write_preset(default_sample_dir() if directory is None else directory, SAMPLE, progress=progress)


def write_preset(directory: str | os.PathLike, preset: Preset, *, progress: bool = False) -> Path:
    """``write_netflix(directory, **preset)``; see :func:`write_netflix`."""
    return write_netflix(directory, **asdict(preset), progress=progress)


def write_netflix(
    directory: str | os.PathLike,
    *,
    n_users: int,
    n_movies: int,
    n_ratings: int,
    seed: int = 0,
    n_files: int = 1,
    duplicate_fraction: float = 0.0,
    prize_holdout: bool = False,
    chunk_ratings: int = 2_000_000,
    progress: bool = False,
) -> Path:
    """Write a Netflix-like data set in the Kaggle format to ``directory``; return it.

    Exactly ``n_users`` distinct customers, ``n_movies`` movies (ids ``1..n_movies``)
    and ``n_ratings`` distinct ``(customer, movie)`` ratings, in ``n_files`` files
    ``combined_data_1.txt ...`` plus ``movie_titles.csv`` (model: module docstring).
    Same parameters, same bytes.

    ``duplicate_fraction`` (default 0) adds, for that share of each movie's ratings,
    an extra *earlier* line for the same ``(customer, movie)`` with a random star: a
    user who changed their mind. Keeping the latest date per pair gives back exactly
    the file written with ``duplicate_fraction=0``. Only ratings later than their
    earliest possible day can get one, so the share reached can be a little lower.

    ``prize_holdout`` (default False) also writes the Netflix Prize's ``probe.txt``,
    ``qualifying.txt`` and ``qualifying_answers.txt`` (module docstring); the qualifying
    ratings are then left out of the ratings files, which hold ``n_ratings`` minus their
    number. It keeps every rating in memory (about 40 bytes each), so it suits samples,
    and excludes ``duplicate_fraction``.

    Memory is bounded: the population takes about 100 bytes per user, and the text is
    built and written ``chunk_ratings`` ratings at a time (about 100 bytes per rating
    in flight; ``chunk_ratings`` changes memory use, never the output). Full Netflix
    size peaks at about 450 MB RSS and takes about 50 s of CPU (2.1 GB written).

    Idempotent: the parameters are stored in ``.synth.json``. When it matches and the
    files it lists have the recorded sizes, nothing is written. Files from an older
    marker are replaced; the function refuses to overwrite Kaggle-named files that
    it did not write (``FileExistsError``).

    Raises ``ValueError`` unless ``1 <= n_files <= n_movies`` and every user and movie
    can get a rating: ``n_users + n_movies <= n_ratings < max_movie_share · n_users · n_movies``.
    """
    preset = Preset(n_users, n_movies, n_ratings, seed, n_files, prize_holdout)
    _validate(preset, duplicate_fraction, chunk_ratings)
    directory = Path(directory)
    key = {"generator_version": GENERATOR_VERSION, **asdict(preset), "duplicate_fraction": duplicate_fraction}
    key["model"] = asdict(MODEL)
    directory.mkdir(parents=True, exist_ok=True)
    with _writer_lock(directory):  # two notebooks asking for the sample at once: one writes, the other waits
        if not _is_up_to_date(directory, key):
            _clear_previous_output(directory)
            names = _write_files(directory, preset, duplicate_fraction, chunk_ratings, progress)
            marker = {**key, "files": {name: (directory / name).stat().st_size for name in names}}
            _atomic_write(directory / MARKER_NAME, [(json.dumps(marker, indent=1) + "\n").encode()])
    return directory


@contextmanager
def _writer_lock(directory: Path) -> Iterator[None]:
    """A blocking, exclusive ``flock`` on ``directory/.synth.lock`` while the block runs: a second
    process waits, then finds the files up to date. The kernel drops it when the process ends."""
    with open(directory / LOCK_NAME, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_files(directory: Path, preset: Preset, duplicate_fraction: float, chunk_ratings: int, progress: bool):
    """Draw the population, then write the ratings files, the titles and (optionally) the hold-out;
    return the names written."""
    pop = draw_population(preset.n_users, preset.n_movies, preset.n_ratings, preset.seed)
    bounds = _file_bounds(pop.movie_count, preset.n_files)
    names = [f"combined_data_{k + 1}.txt" for k in range(preset.n_files)]
    blocks = movie_blocks(pop, range(preset.n_movies), preset.seed, duplicate_fraction)
    if preset.prize_holdout:
        blocks = iter(_write_prize_holdout(directory, list(blocks), pop.user_raw_id, preset.seed))
    with tqdm(total=preset.n_ratings, unit="rating", unit_scale=True, desc="synth", disable=not progress) as bar:
        for name, first, stop in zip(names, bounds[:-1], bounds[1:]):
            file_blocks = (block for block in islice(blocks, stop - first) if len(block.users))
            _atomic_write(directory / name, _rating_chunks(file_blocks, pop.user_raw_id, chunk_ratings, bar))
    titles_rng = np.random.default_rng(np.random.SeedSequence(preset.seed, spawn_key=(STREAM_POPULATION, 1)))
    _atomic_write(directory / TITLES_NAME, [titles_csv(titles_rng, pop.movie_start)])
    return [*names, TITLES_NAME, *(PRIZE_FILE_NAMES if preset.prize_holdout else ())]


# --------------------------------------------------------------------------- the Prize's hold-out

PRIZE_FILE_NAMES = (PROBE_NAME, QUALIFYING_NAME, QUALIFYING_ANSWERS_NAME)


def _write_prize_holdout(directory: Path, blocks: list[MovieBlock], raw_ids: np.ndarray, seed: int) -> list[MovieBlock]:
    """Write the probe, qualifying and answers files of ``blocks`` (every movie's block, in
    order) into ``directory``; return the blocks without their qualifying ratings (a block
    may be left empty). The files list pairs by movie, then customer id."""
    sizes = [len(block.users) for block in blocks]
    ratings = pd.DataFrame(
        {
            "user_id": raw_ids[np.concatenate([block.users for block in blocks])],
            "movie_id": np.repeat(np.array([block.movie_id for block in blocks], dtype=np.int32), sizes),
            "rating": np.concatenate([block.stars for block in blocks]).astype(np.float32),
            "date": (FIRST_DAY + np.concatenate([block.days for block in blocks])).astype("datetime64[s]"),
        }
    )
    holdout = prize_holdout(ratings, seed=seed)
    write_probe(ratings[holdout.is_probe].sort_values(["movie_id", "user_id"]), directory / PROBE_NAME)
    qualifying = ratings[holdout.is_qualifying].sort_values(["movie_id", "user_id"])
    write_qualifying(qualifying, directory / QUALIFYING_NAME)
    write_qualifying_predictions(qualifying, qualifying["rating"], directory / QUALIFYING_ANSWERS_NAME, decimals=0)
    kept = np.split(~holdout.is_qualifying, np.cumsum(sizes)[:-1])
    return [
        replace(block, users=block.users[keep], stars=block.stars[keep], days=block.days[keep])
        for block, keep in zip(blocks, kept)
    ]


# --------------------------------------------------------------------------- text


def _rating_chunks(
    blocks: Iterator[MovieBlock], raw_ids: np.ndarray, chunk_ratings: int, bar
) -> Iterator[bytes | memoryview]:
    """The bytes of one ``combined_data`` file, ``chunk_ratings`` lines at a time."""
    pending: list[MovieBlock] = []
    size = 0
    for block in blocks:
        pending.append(block)
        size += len(block.users)
        if size >= chunk_ratings:
            yield from _format_blocks(pending, raw_ids)
            bar.update(size)
            pending, size = [], 0
    if pending:
        yield from _format_blocks(pending, raw_ids)
        bar.update(size)


def _format_blocks(blocks: list[MovieBlock], raw_ids: np.ndarray) -> list[bytes | memoryview]:
    """Header ``"{movie_id}:\\n"`` then the block's lines, for each block."""
    lines, ends = format_rating_lines(
        raw_ids[np.concatenate([b.users for b in blocks])],
        np.concatenate([b.stars for b in blocks]),
        np.concatenate([b.days for b in blocks]),
    )
    view = memoryview(lines)
    stops = np.cumsum([len(b.users) for b in blocks])
    offsets = np.concatenate([[0], ends])[np.concatenate([[0], stops])].tolist()
    parts: list[bytes | memoryview] = []
    for block, start, stop in zip(blocks, offsets[:-1], offsets[1:]):
        parts += [f"{block.movie_id}:\n".encode(), view[start:stop]]
    return parts


_DATE_BYTES = np.frombuffer("".join(str(FIRST_DAY + d) for d in range(N_DAYS)).encode("ascii"), dtype=np.uint8).reshape(
    N_DAYS, 10
)


def format_rating_lines(customer_ids: np.ndarray, stars: np.ndarray, days: np.ndarray) -> tuple[bytes, np.ndarray]:
    """``b"".join(f"{c},{r},{FIRST_DAY + d}\\n")`` over the rows, vectorised; also the end offset of each line.

    Builds a ``(n, digits + 14)`` byte matrix (right-aligned id digits, ``,``, star,
    ``,``, date, ``\\n``) and drops the leading-zero cells with a mask, so the cost is a
    few passes over ``n`` rows and no Python loop. Ids must be positive.
    """
    ids = np.asarray(customer_ids, dtype=np.int64)
    n = len(ids)
    width = len(str(int(ids.max()))) if n else 1
    rows = np.empty((n, width + 14), dtype=np.uint8)
    rest = ids.copy()
    for col in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        rows[:, col] = digit + 48
    rows[:, width] = rows[:, width + 2] = ord(",")
    rows[:, width + 1] = np.asarray(stars, dtype=np.uint8) + 48
    rows[:, width + 3 : width + 13] = _DATE_BYTES[np.asarray(days)]
    rows[:, width + 13] = ord("\n")
    n_digits = np.searchsorted(10 ** np.arange(1, width + 1), ids, side="right") + 1
    keep = np.ones(rows.shape, dtype=bool)
    keep[:, :width] = np.arange(width) >= (width - n_digits)[:, None]
    return rows[keep].tobytes(), np.cumsum(n_digits + 14)


def _file_bounds(movie_count: np.ndarray, n_files: int) -> list[int]:
    """Movie-index boundaries ``0 = b_0 < … < b_F = n_movies`` giving each file about the same number of ratings."""
    n_movies = len(movie_count)
    targets = movie_count.sum() * np.arange(1, n_files) / n_files
    bounds = [0, *np.searchsorted(np.cumsum(movie_count), targets, side="right").tolist(), n_movies]
    for k in range(1, n_files):  # at least one movie per file
        bounds[k] = min(max(bounds[k], bounds[k - 1] + 1), n_movies - (n_files - k))
    return bounds


# --------------------------------------------------------------------------- files


def _validate(preset: Preset, duplicate_fraction: float, chunk_ratings: int) -> None:
    n_users, n_movies, n_ratings, n_files = preset.n_users, preset.n_movies, preset.n_ratings, preset.n_files
    if min(n_users, n_movies, n_files, chunk_ratings) < 1:
        raise ValueError("n_users, n_movies, n_files and chunk_ratings must be at least 1")
    if n_files > n_movies:
        raise ValueError(f"n_files={n_files} exceeds n_movies={n_movies}: each file needs a movie")
    if n_ratings < n_users + n_movies:
        raise ValueError(f"n_ratings={n_ratings} must be at least n_users + n_movies = {n_users + n_movies}")
    most = MODEL.max_movie_share * n_users * n_movies
    if n_ratings >= most:
        raise ValueError(f"n_ratings={n_ratings} must stay below {most:.0f}, max_movie_share · n_users · n_movies")
    if not 0 <= duplicate_fraction < 1:
        raise ValueError("duplicate_fraction must be in [0, 1)")
    if preset.prize_holdout and duplicate_fraction:
        raise ValueError("prize_holdout and duplicate_fraction exclude each other")


def _read_marker(directory: Path) -> dict | None:
    try:
        return json.loads((directory / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None


def _is_up_to_date(directory: Path, key: dict) -> bool:
    marker = _read_marker(directory)
    if marker is None or {k: marker.get(k) for k in key} != key:
        return False
    files = marker.get("files", {})
    return all(
        (directory / name).is_file() and (directory / name).stat().st_size == size for name, size in files.items()
    )


def _clear_previous_output(directory: Path) -> None:
    """Remove files listed by an old marker; refuse to touch Kaggle-named files we did not write."""
    marker = _read_marker(directory)
    ours = set(marker.get("files", {})) if marker else set()
    foreign = [p.name for p in directory.glob("combined_data_*.txt") if p.name not in ours]
    foreign += [n for n in (TITLES_NAME, *PRIZE_FILE_NAMES) if (directory / n).exists() and n not in ours]
    if foreign:
        raise FileExistsError(
            f"{directory} holds {sorted(foreign)}, not written by cfutils.data.synth; use an empty folder"
        )
    (directory / MARKER_NAME).unlink(missing_ok=True)
    for name in ours:
        (directory / name).unlink(missing_ok=True)


def _atomic_write(path: Path, parts) -> None:
    """Write ``parts`` to ``path`` via a temporary file of its own (``mkstemp``: no two writers share
    one), then rename it into place, so a crash never leaves a half file."""
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            for part in parts:
                f.write(part)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
