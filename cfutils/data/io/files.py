"""Which files a path holds, of which data set and in which format; opening them (gzip included).

A file is recognised by its name (see :mod:`cfutils.data.io`), else by its first line. A folder
holds one data set: :func:`_one_data_set` refuses a mix of Netflix and MovieLens files, two
kinds of ratings files, or a file beside its own ``.gz`` copy.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gzip
import os
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cfutils.data.io.schema import MAX_DIGITS, DataFormatError

#: Why a FIFO, a device or a socket is refused: a FIFO would hang the reader, /dev/zero never ends.
NOT_REGULAR = "not a regular file or folder (a FIFO, device or socket is never read)"
MOVIE_HEADER = re.compile(rb"[ \t]*(\d{1,%d})[ \t]*:\r?" % MAX_DIGITS)

#: The titles files of each family, by name (a ``.gz`` copy is read too).
TITLES_BY_FAMILY = {
    "Netflix": ("movie_titles.csv", "movie_titles.txt"),
    "MovieLens": ("u.item", "movies.csv", "movies.dat"),
}
#: Every titles file name :func:`cfutils.data.io.read_titles` reads, in the order they are looked for.
TITLES_FILE_NAMES = (*TITLES_BY_FAMILY["Netflix"], *TITLES_BY_FAMILY["MovieLens"])


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
    ratings_format, _ = resolve_ratings_files(path)
    return "Netflix" if ratings_format == "netflix" else "MovieLens"


def base_name(path: Path) -> str:
    """File name without a ``.gz`` suffix."""
    return path.name[:-3] if path.name.endswith(".gz") else path.name


def resolve_ratings_files(path: Path) -> tuple[str, list[Path]]:
    """The format name and the files to read, in order, for a file or folder."""
    if not path.exists():
        raise FileNotFoundError(f"No such ratings file or folder: {path}")
    if path.is_file():
        return _detect_file_format(path), [path]
    if not path.is_dir():
        raise DataFormatError(path, NOT_REGULAR)
    entries = _one_data_set(path)
    kinds = {entry.ratings for entry in entries.values() if entry.ratings}
    if not kinds:
        raise DataFormatError(path, f"no ratings files found ({', '.join(_RATINGS_KINDS)})")
    (kind,) = kinds
    if kind == "training_set/":
        return resolve_ratings_files(path / "training_set")
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
    "Netflix": (*TITLES_BY_FAMILY["Netflix"], "probe.txt", "qualifying.txt", "qualifying_answers.txt"),
    "MovieLens": TITLES_BY_FAMILY["MovieLens"],
}


def _known_entry(name: str, is_dir: bool) -> _KnownEntry | None:
    """What a folder entry named ``name`` is (``.gz`` ignored for files), or None for other entries."""
    if is_dir:
        return _KnownEntry("Netflix", "training_set/") if name == "training_set" else None
    base = base_name(Path(name))
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
    name = base_name(path)
    if name.startswith(("combined_data_", "mv_")) and name.endswith(".txt"):
        return "netflix"
    if name in _MOVIELENS_FILE_NAMES:
        return _MOVIELENS_FILE_NAMES[name]
    with open_binary(path) as stream:
        first = stream.readline(4096).rstrip(b"\r\n")
    if not first.strip():
        raise DataFormatError(path, "empty file", 1, "")
    for format_name, looks_like in _SNIFFERS.items():
        if looks_like(first):
            return format_name
    raise DataFormatError(path, "unrecognised ratings format", 1, first.decode("latin-1"))


def open_binary(path: Path):
    """``path`` opened for reading bytes (gunzipped when it ends in ``.gz``). Only a regular file
    (or a link to one) is opened: a FIFO would hang the reader and ``/dev/zero`` never ends, so
    anything else raises :class:`DataFormatError` naming it."""
    if not Path(path).is_file():
        raise DataFormatError(path, NOT_REGULAR)
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


@dataclass(frozen=True)
class MovieLensLayout:
    """One MovieLens ratings file format: field separator and optional header line."""

    separator: bytes
    header: bytes | None = None
    #: The smallest step between two ratings: whole stars (u.data) or half stars (ratings.csv, ratings.dat).
    step: float = 1.0


MOVIELENS_LAYOUTS = {
    "movielens_udata": MovieLensLayout(b"\t"),
    "movielens_csv": MovieLensLayout(b",", b"userId,movieId,rating,timestamp", step=0.5),
    "movielens_dat": MovieLensLayout(b"::", step=0.5),  # ML-1M has whole stars, ML-10M half stars
}
_MOVIELENS_FILE_NAMES = {"u.data": "movielens_udata", "ratings.csv": "movielens_csv", "ratings.dat": "movielens_dat"}

_SNIFFERS: dict[str, Callable[[bytes], bool]] = {
    "netflix": lambda line: MOVIE_HEADER.fullmatch(line) is not None,
    "movielens_csv": lambda line: line.replace(b" ", b"") == MOVIELENS_LAYOUTS["movielens_csv"].header,
    "movielens_dat": lambda line: line.count(b"::") == 3,
    "movielens_udata": lambda line: line.count(b"\t") == 3,
}
