"""One call from a data source to ratings and titles: ``load_dataset("sample")`` or a path.

Two data sets are embedded, named by :data:`EMBEDDED`:

- ``"sample"``: the generated sample in ``<repo>/data/sample`` (Netflix Kaggle format,
  written by :func:`cfutils.data.synth.write_sample` on first use);
- ``"movielens-small"``: the real MovieLens latest-small data in
  ``<repo>/data/movielens-small`` (610 users, 9,742 movies, 100,836 ratings), shipped
  with the project under its licence (``data/movielens-small/NOTICE.md``). Real data
  is the judge of every default; the sample only mirrors the Netflix format.

Anything else is
a ratings file or folder that :func:`cfutils.data.io.read_ratings` understands, e.g.
``data/raw/netflix`` (Kaggle ``combined_data_*.txt`` or ``training_set/``) or
``data/raw/ml-100k``. Titles are read when a titles file sits next to the ratings, and
so are the Netflix Prize's ``probe.txt`` and ``qualifying.txt`` (:mod:`cfutils.data.io.prize`).

MovieLens 100K's fixed splits (``u1.base`` … ``u5.base``, ``ua.base``, ``ub.base``): a ``.base`` file
is read with the ``.test`` file of the same stem beside it (:func:`read_given`); the ratings are both
files together and ``probe`` holds the ``.test`` pairs, which ``SPLIT = "given"`` makes the test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cfutils.core.progress import interactive
from cfutils.data.io import TITLES_FILE_NAMES, DataFormatError, empty_titles, format_family, read_ratings, read_titles
from cfutils.data.io.prize import (
    PROBE_NAME,
    QUALIFYING_ANSWERS_NAME,
    QUALIFYING_NAME,
    read_probe,
    read_qualifying,
    read_qualifying_predictions,
)
from cfutils.data.synth import default_sample_dir, write_sample

SAMPLE_DIR = default_sample_dir()
MOVIELENS_SMALL_DIR = SAMPLE_DIR.parent / "movielens-small"
#: Names that ``load_dataset`` (and ``DATA`` in every notebook) accepts besides a path.
EMBEDDED = ("sample", "movielens-small")
#: A MovieLens 100K fixed split: the train file's suffix and its test file's (same stem, same folder).
GIVEN_SUFFIXES = (".base", ".test")


@dataclass(frozen=True)
class Dataset:
    """Ratings and titles of one data source.

    ``ratings`` is the contract ratings frame (see :mod:`cfutils.data.io`); ``titles`` is
    indexed by ``movie_id`` with ``year`` and ``title`` (no rows when no titles file
    was found); ``source`` is the path read; ``name`` is the embedded name or the name
    of that file or folder.

    ``probe`` (``user_id``, ``movie_id``) and ``qualifying`` (``user_id``, ``movie_id``,
    ``date``) are the Netflix Prize's held-out pairs, ``None`` without ``probe.txt`` /
    ``qualifying.txt``; for a MovieLens 100K ``.base`` file ``probe`` holds the pairs of its
    ``.test``. ``qualifying_answers`` holds the true ratings of the qualifying pairs, indexed
    like ``qualifying``: only generated data has them, else ``None``.
    """

    ratings: pd.DataFrame
    titles: pd.DataFrame
    source: str
    name: str
    probe: pd.DataFrame | None = None
    qualifying: pd.DataFrame | None = None
    qualifying_answers: pd.Series | None = None


def load_dataset(data: str | Path = "sample", cache: bool = True) -> Dataset:
    """Load ``data`` (a name in :data:`EMBEDDED` or a ratings file/folder) into a :class:`Dataset`.

    ``cache`` is passed to :func:`cfutils.data.io.read_ratings` (parquet cache under
    ``data/processed``); its progress bar shows only when someone can watch it
    (:func:`cfutils.core.progress.interactive`). Raises ``FileNotFoundError`` for a missing path and
    :class:`cfutils.data.io.DataFormatError` for unreadable data.
    """
    source = source_path(data)
    name = str(data) if str(data) in EMBEDDED else source.name
    ratings = read_ratings(source, cache=cache, progress=interactive())
    titles_path = find_titles(source)
    titles = read_titles(titles_path) if titles_path is not None else empty_titles()
    probe_path, qualifying_path = find_beside(source, (PROBE_NAME,)), find_beside(source, (QUALIFYING_NAME,))
    qualifying = read_qualifying(qualifying_path) if qualifying_path is not None else None
    probe = read_probe(probe_path) if probe_path is not None else None
    if source.suffix == GIVEN_SUFFIXES[0]:
        ratings, probe = read_given(source, ratings, cache)
    answers_path = find_beside(source, (QUALIFYING_ANSWERS_NAME,)) if qualifying is not None else None
    return Dataset(
        ratings=ratings,
        titles=titles,
        source=str(source),
        name=name,
        probe=probe,
        qualifying=qualifying,
        qualifying_answers=read_qualifying_predictions(answers_path, qualifying) if answers_path is not None else None,
    )


def read_given(base_path: Path, base: pd.DataFrame, cache: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(ratings, test_pairs)`` of a MovieLens 100K fixed split: ``base`` (read from ``base_path``,
    e.g. ``u1.base``) followed by the ratings of the ``.test`` file of the same stem, and that file's
    ``(user_id, movie_id)`` pairs, for ``SPLIT = "given"`` (:func:`cfutils.data.split.make_split`).

    Raises ``FileNotFoundError`` naming the missing ``.test`` file, and
    :class:`cfutils.data.io.DataFormatError` naming the ``.test`` file, the line and the rating when
    it holds a (user, movie) pair that the ``.base`` file rates too: then they are not one split.
    """
    test_path = base_path.with_suffix(GIVEN_SUFFIXES[1])
    if not test_path.is_file():
        raise FileNotFoundError(
            f"{base_path.name} is a fixed split's train part; its test part {test_path} is missing "
            f"(SPLIT='given' reads the .test file of the same stem beside the .base file)"
        )
    test = read_ratings(test_path, cache=cache, progress=False)
    shared = test.reset_index(drop=True).merge(
        base[["user_id", "movie_id"]].reset_index(drop=True), how="left", indicator=True
    )
    clash = shared.index[shared["_merge"].to_numpy() == "both"]
    if len(clash):
        row = int(clash[0])
        with open(test_path, encoding="latin-1") as lines:
            line = next(text for number, text in enumerate(lines) if number == row).rstrip("\r\n")
        raise DataFormatError(
            test_path,
            f"{len(clash):,} of its ratings rate a (user, movie) pair that {base_path.name} rates too; "
            f"a .test file must hold only pairs its .base lacks",
            row + 1,
            line,
        )
    ratings = pd.concat([base, test], ignore_index=True)
    return ratings, test[["user_id", "movie_id"]].reset_index(drop=True)


def source_path(data: str | Path) -> Path:
    """The ratings file or folder of ``data``: an embedded name's folder (the sample is
    generated when missing or stale), else ``data`` itself."""
    if str(data) == "sample":
        return _sample_dir()
    if str(data) == "movielens-small":
        return MOVIELENS_SMALL_DIR
    return Path(data)


def find_titles(ratings_path: Path | str) -> Path | None:
    """The titles file next to ratings, or None (see :func:`find_beside`)."""
    return find_beside(ratings_path, TITLES_FILE_NAMES)


def find_beside(ratings_path: Path | str, names: tuple[str, ...]) -> Path | None:
    """The first of ``names`` (or its ``.gz``) next to ratings and of the same family (Netflix
    or MovieLens), or None: MovieLens titles are never attached to Netflix ids, nor the reverse.

    Looked for in the ratings folder (or the file's folder) and, for a
    ``training_set`` folder or a file inside one, in its parent.
    """
    ratings_path = Path(ratings_path)
    family = format_family(ratings_path)
    folder = ratings_path if ratings_path.is_dir() else ratings_path.parent
    folders = [folder, folder.parent] if folder.name == "training_set" else [folder]
    for candidate_folder in folders:
        for name in names:
            for candidate in (candidate_folder / name, candidate_folder / f"{name}.gz"):
                if candidate.is_file() and format_family(candidate) == family:
                    return candidate
    return None


def _sample_dir() -> Path:
    """``SAMPLE_DIR``, (re)generated by :func:`cfutils.data.synth.write_sample` unless already up to date.

    ``write_sample`` returns at once when its marker file matches the generator, so a
    sample left by an older generator version is refreshed, never silently reused.
    """
    return write_sample(SAMPLE_DIR)
