"""The user x movie rating matrix with compact indices.

Raw ids are mapped to compact indices ``0..n-1`` in *sorted* raw-id order, so
"ties go to the smaller index" is the same rule as "ties go to the smaller id".

The tutorial built ``csr_matrix((rating, (user_id, movie_id)))`` on raw ids: on
Netflix, customer ids run to 2,649,429 for 480,189 users, so 2.2 million of the
rows were empty and every per-row array was 5.5 times too long.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: Lookups from which :func:`index_of` may build a table instead of searching (a single user's
#: list, asked one id at a time, never pays for a table).
TABLE_MIN_LOOKUPS = 4096


def index_of(sorted_ids: np.ndarray, raw_ids) -> np.ndarray:
    """Position (int64) of each of ``raw_ids`` in the sorted array ``sorted_ids``, or -1 when it is not there.

    Many lookups (at least ``TABLE_MIN_LOOKUPS``) among ids whose range is no larger than the
    number of lookups plus 2**20 (Netflix's 480,189 users have ids up to 2,649,429) read a dense
    table ``id - smallest id -> position``, no larger than the lookups' own array, instead of a
    binary search per id (21x faster for 80M ratings); the result is the same.
    """
    raw = np.asarray(raw_ids, dtype=np.int64)
    if len(sorted_ids) and raw.size >= TABLE_MIN_LOOKUPS:
        low, high = int(sorted_ids[0]), int(sorted_ids[-1])
        if high - low < raw.size + 2**20:
            table = np.full(high - low + 3, -1, dtype=np.int64)  # a -1 slot either side of the range
            table[np.asarray(sorted_ids, dtype=np.int64) - low + 1] = np.arange(len(sorted_ids))
            return table[np.clip(raw - (low - 1), 0, high - low + 2)]
    pos = np.searchsorted(sorted_ids, raw)
    pos_clipped = np.minimum(pos, max(len(sorted_ids) - 1, 0))
    if len(sorted_ids) == 0:
        return np.full(raw.shape, -1, dtype=np.int64)
    found = (pos < len(sorted_ids)) & (sorted_ids[pos_clipped] == raw)
    return np.where(found, pos, -1).astype(np.int64)


def _row_means(counts: np.ndarray, sums: np.ndarray, fallback: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return np.where(counts > 0, means, fallback)


@dataclass(frozen=True, eq=False)
class RatingMatrix:
    """A CSR user x movie matrix of ratings (0 = not rated) with the id maps both ways.

    Attributes
    ----------
    csr : scipy.sparse.csr_matrix, float32, shape (n_users, n_movies)
    user_ids, movie_ids : np.ndarray of int32
        Sorted raw ids: ``user_ids[u]`` is the raw id of compact row ``u``.
    """

    csr: sp.csr_matrix
    user_ids: np.ndarray
    movie_ids: np.ndarray

    @classmethod
    def from_ratings(cls, ratings: pd.DataFrame) -> RatingMatrix:
        """Build from a ratings frame (``user_id``, ``movie_id``, ``rating``).

        Duplicate (user, movie) pairs are an error: resolve them first (``cfutils.data.io``
        keeps the latest), since summing them would invent ratings above 5.
        """
        users = ratings["user_id"].to_numpy()
        movies = ratings["movie_id"].to_numpy()
        user_ids, rows = np.unique(users, return_inverse=True)
        movie_ids, cols = np.unique(movies, return_inverse=True)
        shape = (len(user_ids), len(movie_ids))
        csr = sp.csr_matrix(
            (ratings["rating"].to_numpy(dtype=np.float32), (rows.astype(np.int32), cols.astype(np.int32))),
            shape=shape,
        )
        if csr.nnz != len(ratings):
            raise ValueError(
                f"{len(ratings) - csr.nnz} duplicate (user_id, movie_id) pairs; resolve duplicates before "
                "building the matrix (cfutils.data.io.read_ratings keeps the latest rating)"
            )
        csr.sort_indices()
        return cls(csr, user_ids.astype(np.int32), movie_ids.astype(np.int32))

    @property
    def n_users(self) -> int:
        return self.csr.shape[0]

    @property
    def n_movies(self) -> int:
        return self.csr.shape[1]

    @property
    def nnz(self) -> int:
        return self.csr.nnz

    @cached_property
    def csc(self) -> sp.csc_matrix:
        """The same matrix in CSC layout, for fast column (movie) access."""
        csc = self.csr.tocsc()
        csc.sort_indices()
        return csc

    def user_index(self, raw_ids) -> np.ndarray:
        """Compact row of each raw user id, -1 for users not in the matrix (never a KeyError)."""
        return index_of(self.user_ids, raw_ids)

    def movie_index(self, raw_ids) -> np.ndarray:
        """Compact column of each raw movie id, -1 for movies not in the matrix."""
        return index_of(self.movie_ids, raw_ids)

    @cached_property
    def user_counts(self) -> np.ndarray:
        """Number of ratings of each user: :math:`|I_u|`."""
        return np.diff(self.csr.indptr).astype(np.int64)

    @cached_property
    def movie_counts(self) -> np.ndarray:
        """Number of ratings of each movie: :math:`|U_i|`."""
        return np.diff(self.csc.indptr).astype(np.int64)

    @cached_property
    def global_mean(self) -> float:
        r"""Mean of all ratings, :math:`\mu = \frac{1}{|R|}\sum_{(u,i) \in R} r_{ui}` (NaN if empty)."""
        return float(self.csr.data.astype(np.float64).mean()) if self.nnz else float("nan")

    def user_means(self) -> np.ndarray:
        r"""Per-user mean :math:`\bar r_u = \frac{1}{|I_u|}\sum_{i \in I_u} r_{ui}` over rated cells only (float64)."""
        sums = np.asarray(self.csr.sum(axis=1, dtype=np.float64)).ravel()
        return _row_means(self.user_counts, sums, self.global_mean)

    def movie_means(self) -> np.ndarray:
        r"""Per-movie mean :math:`\bar r_i = \frac{1}{|U_i|}\sum_{u \in U_i} r_{ui}` over rated cells only (float64)."""
        sums = np.asarray(self.csr.sum(axis=0, dtype=np.float64)).ravel()
        return _row_means(self.movie_counts, sums, self.global_mean)

    def memory_bytes(self) -> int:
        """Bytes held by the CSR arrays (data, indices, indptr)."""
        return int(self.csr.data.nbytes + self.csr.indices.nbytes + self.csr.indptr.nbytes)


def with_data(csr: sp.csr_matrix, data: np.ndarray, *, copy: bool = True) -> sp.csr_matrix:
    """A CSR matrix with the sparsity pattern of ``csr`` and new cell values ``data`` (one per stored cell).

    ``copy=True`` copies the pattern (``indices``, ``indptr``), so that the result never shares it
    with ``csr``; ``copy=False`` shares it, saving 4 bytes per cell, for a result used read-only
    beside ``csr``.
    """
    indices, indptr = (csr.indices.copy(), csr.indptr.copy()) if copy else (csr.indices, csr.indptr)
    return sp.csr_matrix((data, indices, indptr), shape=csr.shape)
