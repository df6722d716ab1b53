"""Fast, strict readers for Netflix Prize and MovieLens ratings and titles.

:func:`read_ratings` detects the format and returns the **ratings frame** of the
project contract (columns ``user_id``, ``movie_id``, ``rating``, ``date``; 20 bytes per rating,
each (user, movie) pair once; see :mod:`cfutils.data.io.schema`).

The package's modules, one job each: :mod:`~cfutils.data.io.schema` (the frame, its bounds and
:class:`DataFormatError`), :mod:`~cfutils.data.io.files` (which files, which format),
:mod:`~cfutils.data.io.pieces` (whole lines in pieces, the faulty line located),
:mod:`~cfutils.data.io.ratings` (the ratings formats), :mod:`~cfutils.data.io.cache` (the parquet cache)
and :mod:`~cfutils.data.io.titles` (the titles formats). Their public names are importable from here.

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

from cfutils.data.io.cache import (
    CACHE_DIR_ENV,
    CACHE_VERSION,
    CHECKOUT_CACHE_DIR,
    ORPHAN_SECONDS,
    default_cache_dir,
    ratings_cache_path,
)
from cfutils.data.io.files import MOVIELENS_LAYOUTS, TITLES_FILE_NAMES, format_family, resolve_ratings_files
from cfutils.data.io.pieces import PIECE_BYTES, line_number
from cfutils.data.io.prize import read_probe, read_qualifying
from cfutils.data.io.ratings import read_ratings
from cfutils.data.io.schema import FIRST_DATE, LAST_DATE, MAX_ID, RATINGS_DTYPES, DataFormatError
from cfutils.data.io.titles import empty_titles, read_titles

__all__ = [
    "CACHE_DIR_ENV",
    "CACHE_VERSION",
    "CHECKOUT_CACHE_DIR",
    "FIRST_DATE",
    "LAST_DATE",
    "MOVIELENS_LAYOUTS",
    "MAX_ID",
    "ORPHAN_SECONDS",
    "PIECE_BYTES",
    "RATINGS_DTYPES",
    "TITLES_FILE_NAMES",
    "DataFormatError",
    "default_cache_dir",
    "empty_titles",
    "format_family",
    "line_number",
    "ratings_cache_path",
    "read_probe",
    "read_qualifying",
    "read_ratings",
    "read_titles",
    "resolve_ratings_files",
]
