"""Movie titles: Netflix ``movie_titles.csv``/``.txt`` and MovieLens ``u.item``, ``movies.csv``, ``movies.dat``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cfutils.data.io.files import NOT_REGULAR, base_name, open_binary
from cfutils.data.io.schema import MAX_DIGITS, MAX_ID, DataFormatError

_YEAR_IN_TITLE = r"\s*\((\d{4})\)\s*$"


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
    if path.exists() and not path.is_file():
        raise DataFormatError(path, NOT_REGULAR)
    if not path.is_file():
        raise FileNotFoundError(f"No such titles file: {path}")
    name = base_name(path)
    if name not in _READERS:
        raise DataFormatError(path, f"unrecognised titles file; expected one of {sorted(_READERS)}")
    return _READERS[name](path)


def _read_lines(path: Path, encoding: str) -> pd.Series:
    """Lines of a small text file (CRLF or LF, final newline optional, trailing blanks dropped)."""
    with open_binary(path) as stream:
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
    # Strict integers: pd.to_numeric alone reads "1e3" as movie 1000 and "7.0" as movie 7.
    plain = fields["id"].str.fullmatch(rf"\s*\d{{1,{MAX_DIGITS}}}\s*").fillna(False).astype(bool)
    ids = pd.to_numeric(fields["id"].where(plain), errors="coerce")
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


#: The reader of each name of :data:`~cfutils.data.io.files.TITLES_FILE_NAMES`.
_READERS = {
    "movie_titles.csv": _read_netflix_titles,
    "movie_titles.txt": _read_netflix_titles,
    "u.item": _read_uitem_titles,
    "movies.csv": _read_movies_csv_titles,
    "movies.dat": _read_movies_dat_titles,
}
