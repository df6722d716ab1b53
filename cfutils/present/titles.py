"""Titles by movie id, for every list, explanation and explorer a person reads.

Recommenders work on movie ids; this module is where ids become titles. An id with no title (or
no titles loaded at all) reads "movie <id>": the only place a raw id is shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class TitleTable:
    """Title and year by movie id, held as arrays: looking up a list's ten movies, or the few rated
    movies an explanation names, costs microseconds whatever the size of the catalogue.

    ``titles`` is indexed by ``movie_id`` with ``title`` and ``year`` (None: no titles). An
    unknown movie is "movie <id>" with year <NA>.
    """

    def __init__(self, titles: pd.DataFrame | None):
        titles = (
            titles
            if titles is not None
            else pd.DataFrame({"title": [], "year": []}, index=pd.Index([], dtype=np.int64))
        )
        self.index = pd.Index(titles.index)
        self.titles = titles["title"].to_numpy(dtype=object)
        self.years = pd.array(titles["year"], dtype="Int32")

    def titles_of(self, movie_ids: np.ndarray) -> np.ndarray:
        """The title of each movie id (object array)."""
        return self.lookup(movie_ids)[0]

    def title(self, movie_id: int) -> str:
        """The title of one movie id."""
        return str(self.titles_of(np.array([movie_id]))[0])

    def frame(self, movie_ids: np.ndarray) -> pd.DataFrame:
        """``title`` and ``year`` of each movie id, one row each, in order."""
        title, year = self.lookup(movie_ids)
        return pd.DataFrame({"title": pd.array(title, dtype="str"), "year": year})

    def lookup(self, movie_ids: np.ndarray) -> tuple[np.ndarray, pd.api.extensions.ExtensionArray]:
        """(titles as an object array, years as nullable Int32) of the movie ids, in order."""
        movie_ids = np.asarray(movie_ids)
        positions = self.index.get_indexer(movie_ids) if len(self.index) else np.full(movie_ids.size, -1)
        known = positions >= 0
        title = np.array([f"movie {m}" for m in movie_ids], dtype=object)
        title[known] = self.titles[positions[known]]
        year = pd.array([pd.NA] * movie_ids.size, dtype="Int32")
        year[known] = self.years[positions[known]]
        return title, year


def as_title_table(titles: pd.DataFrame | TitleTable | None) -> TitleTable:
    """``titles`` as a :class:`TitleTable` (a frame indexed by ``movie_id``, a table, or None)."""
    return titles if isinstance(titles, TitleTable) else TitleTable(titles)
