"""The tutorial's per-rating feature loop, re-implemented from its description (the README's original tutorial).

``tutorial_features(..., fixed=False)`` is faithful, quirks included, because they shape its cost
and its output:

* the matrix is indexed by raw ids (``csr_matrix((rating, (user, movie)))``), so it has
  ``max(user_id) + 1`` rows, mostly empty on Netflix ids;
* averages live in Python dicts; the "global average" column holds the *movie* average;
* for every pair: ``cosine_similarity(row, whole matrix)``, ``argsort()[::-1][1:]`` (the first
  entry is *assumed* to be the user itself), read the movie's column for those users, keep the
  non-zero ratings, take the first five; the same over movies;
* the padding bug: it pads with ``5 - len(top_ratings)`` copies of the average, where
  ``top_ratings`` is the movie's column read for *every* similar user (zeros included), instead
  of ``5 - len(top five)``: the count is negative, nothing is padded, and a pair with fewer
  than five rating neighbours gets a short (ragged) row.

``fixed=True`` is the same loop with the bugs fixed, used only to check that cfutils computes
the *same values* (the timing uses the faithful loop). The fixes:

* padding to exactly five; ``GAvg`` is the mean of all ratings;
* the matrix is the *train* matrix for every pair (the tutorial built test features from the
  test matrix: that is leakage, and it also changes the values);
* self is dropped by id, not by position (with a duplicate user, position 0 may be the twin);
* only neighbours with cosine > 0 count (for a pair absent from train, a user with no movie in
  common can still have rated the movie);
* ties go to the smaller id (``argsort()[::-1]`` puts the *larger* index first), and equal
  cosines are detected exactly: sklearn's float cosines split some mathematical ties by
  rounding noise (4/sqrt(21) comes out as ...694 for one user and ...696 for another), so the
  order uses ``dot**2 / |x_v|**2``, the key cfutils uses (see ``cfutils.rating.features``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics.pairwise import cosine_similarity

N_SIMILAR = 5


def raw_id_matrix(ratings: pd.DataFrame) -> sp.csr_matrix:
    """The tutorial's ``csr_matrix((rating, (user_id, movie_id)))``: rows and columns are raw ids."""
    return sp.csr_matrix(
        (ratings["rating"].to_numpy(np.float64), (ratings["user_id"].to_numpy(), ratings["movie_id"].to_numpy()))
    )


def _averages(matrix: sp.csr_matrix, axis: int) -> dict:
    sums = np.asarray(matrix.sum(axis=axis)).ravel()
    counts = np.diff(matrix.indptr if axis == 1 else matrix.tocsc().indptr)
    return {i: sums[i] / counts[i] for i in np.flatnonzero(counts)}


def tutorial_features(matrix: sp.csr_matrix, pairs: pd.DataFrame, fixed: bool = False) -> list[list[float]]:
    """One row ``[user, movie, GAvg, sur1..5, smr1..5, UAvg, MAvg]`` per pair, computed one pair at a time.

    ``matrix`` is :func:`raw_id_matrix` of the ratings the features are built from. With
    ``fixed=False`` rows may be ragged (the padding bug) and pairs whose user or movie is not in
    the matrix raise ``KeyError`` (the tutorial never met one: it built test features from the
    test matrix). ``fixed=True`` follows the cfutils definition, unseen ids included.
    """
    global_avg = matrix.sum() / matrix.count_nonzero()
    user_avg, movie_avg = _averages(matrix, axis=1), _averages(matrix, axis=0)
    if fixed:
        matrix_T = matrix.T.tocsr()
        user_sq = np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()
        movie_sq = np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel()
    rows = []
    for user, movie in zip(pairs["user_id"].to_numpy(), pairs["movie_id"].to_numpy()):
        if not fixed:
            sur, smr = _faithful_similar(matrix, user, movie, user_avg[user], movie_avg[movie])
            rows.append([user, movie, movie_avg[movie], *sur, *smr, user_avg[user], movie_avg[movie]])
            continue
        uavg, mavg = user_avg.get(user, global_avg), movie_avg.get(movie, global_avg)
        if user in user_avg and movie in movie_avg:
            sur = _fixed_similar(matrix, user_sq, user, movie, mavg)
            smr = _fixed_similar(matrix_T, movie_sq, movie, user, uavg)
        else:
            sur, smr = [mavg] * N_SIMILAR, [uavg] * N_SIMILAR
        rows.append([user, movie, global_avg, *sur, *smr, uavg, mavg])
    return rows


def _faithful_similar(matrix, user, movie, user_average, movie_average) -> tuple[list, list]:
    """The tutorial's two steps, bugs and all: argsort()[::-1][1:], then the padding bug."""
    user_sim = cosine_similarity(matrix[user], matrix).ravel()
    top_users = user_sim.argsort()[::-1][1:]
    ratings = matrix[top_users, movie].toarray().ravel()
    sur = list(ratings[ratings != 0][:N_SIMILAR])
    sur.extend([movie_average] * (N_SIMILAR - len(ratings)))  # the bug: len of the whole column

    movie_sim = cosine_similarity(matrix[:, movie].T, matrix.T).ravel()
    top_movies = movie_sim.argsort()[::-1][1:]
    ratings = matrix[user, top_movies].toarray().ravel()
    smr = list(ratings[ratings != 0][:N_SIMILAR])
    smr.extend([user_average] * (N_SIMILAR - len(ratings)))
    return sur, smr


def _fixed_similar(matrix, squared_norms, row, column, average) -> list[float]:
    """The same step with the bugs fixed (module docstring)."""
    dots = (matrix[row] @ matrix.T).toarray().ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        key = np.where(dots > 0, dots * dots / squared_norms, 0.0)
    key[row] = 0.0
    order = np.lexsort((np.arange(len(key)), -key))
    ratings = matrix[order, column].toarray().ravel()
    top = list(ratings[(ratings != 0) & (key[order] > 0)][:N_SIMILAR])
    return top + [average] * (N_SIMILAR - len(top))
