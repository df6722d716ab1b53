"""Neighbour lookups for people: the most similar movies or users of one id, as a table, and movies
found by title. Each reads a precomputed top-k (:func:`cfutils.core.similarity.engine.similarity_top_k`)
or computes the one row it needs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cfutils.core.similarity.engine import top_k_rows
from cfutils.core.similarity.measures import check_arguments, prepare_measure


def similar_movies(
    matrix,
    movie_id: int,
    k: int = 10,
    titles: pd.DataFrame | None = None,
    top_k: sp.csr_matrix | None = None,
    *,
    measure: str = "cosine",
    min_support: int = 1,
    shrinkage: float = 0.0,
) -> pd.DataFrame:
    """The k movies most similar to ``movie_id``, best first: columns ``movie_id, title, year,
    similarity, n_ratings, n_common`` (the neighbour's number of raters, raters in common).

    ``matrix`` is a :class:`cfutils.core.matrix.RatingMatrix`. ``top_k`` is a precomputed movie-movie
    ``similarity_top_k(matrix.csc.T, ...)``: its row is read (then ``measure`` and the support rules
    are those it was computed with). Without it only this movie's row is computed, exactly as
    :func:`similarity_top_k` would, with ``measure``, ``min_support`` and ``shrinkage``.
    ``titles`` is indexed by ``movie_id`` with ``title`` and ``year``; titles it lacks are NA.
    An unknown ``movie_id`` raises ``KeyError``.
    """
    index = _compact_index(matrix.movie_index([movie_id])[0], "movie_id", movie_id)
    options = dict(measure=measure, min_support=min_support, shrinkage=shrinkage)
    table = _neighbour_table(matrix.csc.T.tocsr(), index, k, top_k, options, matrix.movie_ids, "movie_id")
    found = (titles if titles is not None else pd.DataFrame(columns=["title", "year"])).reindex(table["movie_id"])
    table.insert(1, "title", found["title"].to_numpy())
    table.insert(2, "year", found["year"].to_numpy())
    return table


def find_movies(matrix, titles: pd.DataFrame, text: str = "", *, exact: bool = False) -> np.ndarray:
    """Raw ids of the movies of ``matrix`` whose title contains ``text``, ignoring case; most-rated first.

    ``exact=True`` keeps only the titles equal to ``text`` (ignoring case). ``matrix`` is a
    :class:`cfutils.core.matrix.RatingMatrix`: only its movies are searched, so each found movie has
    neighbours to show. ``titles`` is indexed by ``movie_id`` with a ``title`` column; a movie it
    lacks has the empty title, so the empty ``text`` finds every movie. Ties in the number of
    ratings go to the smaller movie id.
    """
    ids = matrix.movie_ids[np.argsort(-matrix.movie_counts, kind="stable")]
    names = titles["title"].reindex(ids).fillna("").astype(str).str.casefold()
    wanted = text.casefold()
    found = (names == wanted) if exact else names.str.contains(wanted, regex=False)
    return ids[found.to_numpy()]


def pick_movie(matrix, titles: pd.DataFrame, title: str | None = None) -> int:
    """The most-rated movie of ``matrix`` titled ``title`` (ignoring case), or the most-rated movie
    of all for ``None``; :func:`find_movies` decides. ``ValueError`` when no movie has that title."""
    found = find_movies(matrix, titles, "" if title is None else title, exact=title is not None)
    if not found.size:
        raise ValueError(f"no movie titled {title!r} in the training data")
    return int(found[0])


def similar_users(
    matrix,
    user_id: int,
    k: int = 10,
    top_k: sp.csr_matrix | None = None,
    *,
    measure: str = "cosine",
    min_support: int = 1,
    shrinkage: float = 0.0,
) -> pd.DataFrame:
    """The k users most similar to ``user_id``, best first: columns ``user_id, similarity,
    n_ratings, n_common``. Same rules as :func:`similar_movies`, with a user-user ``top_k``
    (``similarity_top_k(matrix.csr, ...)``)."""
    index = _compact_index(matrix.user_index([user_id])[0], "user_id", user_id)
    options = dict(measure=measure, min_support=min_support, shrinkage=shrinkage)
    return _neighbour_table(matrix.csr, index, k, top_k, options, matrix.user_ids, "user_id")


def _compact_index(index: int, name: str, raw_id) -> int:
    if index < 0:
        raise KeyError(f"{name} {raw_id} is not in the rating matrix")
    return int(index)


def _neighbour_table(
    rows: sp.csr_matrix, index: int, k: int, top_k, options: dict, raw_ids: np.ndarray, id_column: str
) -> pd.DataFrame:
    """Neighbours of row ``index`` of ``rows`` (read from ``top_k`` or computed) as a table, best first."""
    if top_k is not None:
        start, stop = top_k.indptr[index], top_k.indptr[index + 1]
        neighbours, values = top_k.indices[start:stop], top_k.data[start:stop]
        order = np.lexsort((neighbours, -values.astype(np.float64)))[:k]
        neighbours, values = neighbours[order], values[order]
    else:
        check_arguments(rows, k, **options)
        _, neighbours, values = top_k_rows(prepare_measure(rows, dtype=np.float32, **options), np.array([index]), k)
    pattern = (rows != 0).astype(np.int64)
    return pd.DataFrame(
        {
            id_column: raw_ids[neighbours],
            "similarity": values.astype(np.float64),
            "n_ratings": np.diff(pattern.indptr)[neighbours],
            "n_common": (pattern[neighbours] @ pattern[index].T).toarray().ravel(),
        }
    )
