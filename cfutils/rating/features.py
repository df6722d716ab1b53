r"""The tutorial's 13 similarity features, exact, fast and leak-free.

For a (user u, movie m) pair and a training set T with rating matrix R (users x movies,
0 = not rated), :func:`similarity_features` returns

=================  ==========================================================================
``GAvg``           :math:`\mu`, the mean of all ratings in T
``sur1..surN``     the ratings given to m by the N users most similar to u: among the users
                   :math:`v \ne u` who rated m with :math:`\cos(u, v) > 0`, ordered by
                   :math:`\cos(u, v)` descending, ties to the smaller ``user_id``;
                   missing ones are ``MAvg``
``smr1..smrN``     u's ratings of the N movies most similar to m: among the movies
                   :math:`n \ne m` rated by u with :math:`\cos(m, n) > 0`, ordered by
                   :math:`\cos(m, n)` descending, ties to the smaller ``movie_id``;
                   missing ones are ``UAvg``
``UAvg``           :math:`\bar r_u`, u's mean rating in T, or :math:`\mu` if u is not in T
``MAvg``           :math:`\bar r_m`, m's mean rating in T, or :math:`\mu` if m is not in T
=================  ==========================================================================

:math:`\cos` is the cosine of the raw rating rows (users) or columns (movies) of R. If u or m
is not in T, every ``sur`` is ``MAvg`` and every ``smr`` is ``UAvg``. Only ``train`` is read,
so test features cannot leak test ratings.

Both halves are one problem. ``sur`` asks, for the pair (u, m), for the ratings in column m of
R of the rows most similar to row u; ``smr`` asks the same question of the transposed matrix
for the pair (m, u). :func:`neighbour_ratings` answers it for any matrix.

How ties stay exact
-------------------
Within one query the candidates v are ranked by :math:`d_v^2 / \lVert x_v \rVert^2` with
:math:`d_v = x_a \cdot x_v`, which is :math:`\cos^2(a, v)\,\lVert x_a \rVert^2`: the same order
as the cosine, since only :math:`\cos > 0` counts. In float64 with ratings that are whole or
half stars, :math:`d_v^2` and :math:`\lVert x_v \rVert^2` are exact (below :math:`2^{53}` up to
Netflix scale), and one correctly rounded division maps equal fractions to equal floats: two
mathematically equal cosines are always a tie, broken by the smaller id. (Two *different*
cosines closer than :math:`2^{-52}` relative would also tie; with denominators below
:math:`2^{26}` that cannot happen.) A plain ``dot / (norm * norm)`` rounds twice and may
split such ties by noise.

Speed
-----
``k=None`` (exact): queries are grouped by their row entity; for a block of them the dot
products with all rows are accumulated into a dense float64 block that fits ``budget_bytes``
(the flops of the sparse product :math:`X_B X^T`, without its sparse intermediate); a
compiled loop then scans, per query, the raters of its column (a CSC column) and keeps the
best N in a small sorted buffer. Work: :math:`\sum_q |\text{raters}(b_q)|`.

Finite ``k``: neighbours come from :func:`cfutils.core.similarity.engine.cosine_top_k` (row a's k most
similar rows, self excluded, only cosines > 0), through
:meth:`TrainData.neighbours <cfutils.core.train_data.TrainData.neighbours>`, so a train set passed as
one :class:`~cfutils.core.train_data.TrainData` computes them once for every call. Queries are
grouped by column; the column's ratings are scattered into a dense vector, and each query
walks its row's neighbour list in order and stops at the N-th hit. Work: at most :math:`k`
steps per query, so it scales to all 80M Netflix training ratings. Neighbours outside a row's top-k list are ignored, so
more slots are padded with the average than in the exact definition, and a pair whose
neighbours rated its movie less often than k allows loses the far ones. Only the *set* comes
from ``cosine_top_k`` (float32, so which of several equal cosines make the cut at the k-th
place follows its rounding); within the list the order uses the exact key above, computed
once per listed pair (work :math:`\sum_{(a, v)} |x_v|_0`). With ``k >= n_users`` and
``k >= n_movies`` nothing is cut, and the result equals ``k=None`` exactly.

The per-query loops are compiled with numba: each keeps N items out of a variable-length
candidate list and stops early, which numpy can only express as a sort of all candidates
(benchmarks/README.md gives the measurement).
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp

from cfutils.core.memory import DEFAULT_BUDGET_BYTES, check_budget
from cfutils.core.progress import progress_bar
from cfutils.core.similarity.kernels import accumulate_product, row_dots
from cfutils.core.train_data import SIDES, TrainData, as_train_data

#: Bytes per cell of the exact path's block of dot products (float64).
_BLOCK_BYTES_PER_CELL = 8
#: Queries per call of the compiled top-k walk (one progress-bar step).
_WALK_CHUNK = 1 << 20


def feature_names(n: int = 5) -> list[str]:
    """Column names of :func:`similarity_features`: ``GAvg, sur1..surN, smr1..smrN, UAvg, MAvg``."""
    return ["GAvg", *(f"sur{i}" for i in range(1, n + 1)), *(f"smr{i}" for i in range(1, n + 1)), "UAvg", "MAvg"]


def similarity_features(
    train: pd.DataFrame | TrainData,
    pairs: pd.DataFrame,
    n: int = 5,
    k: int | None = None,
    *,
    budget_bytes: float = DEFAULT_BUDGET_BYTES,
    progress: bool = False,
) -> pd.DataFrame:
    """The 13 features (for ``n=5``) of each (``user_id``, ``movie_id``) row of ``pairs``, from ``train`` only.

    See the module docstring for the exact definition. Returns a float32 frame with the columns
    :func:`feature_names` ``(n)``, on ``pairs.index``, row for row. Ratings are stored exactly in
    float32; the averages are rounded to float32.

    Parameters
    ----------
    train : ratings frame (``user_id``, ``movie_id``, ``rating``), duplicates resolved (a
        duplicate (user, movie) pair raises ``ValueError``); ratings must be non-zero, since
        0 means "not rated". Must hold at least one rating. Or a
        :class:`~cfutils.core.train_data.TrainData` of it, whose matrix and neighbour lists are
        then built once for every call (a frame is wrapped in a new one each call).
    pairs : any frame with ``user_id`` and ``movie_id``; a ``rating`` column is never read.
    n : number of ``sur`` and of ``smr`` columns.
    k : ``None`` for the exact definition, or an integer to look only among each user's and
        each movie's top-k neighbours, ``train.neighbours("users", k)`` and
        ``train.neighbours("movies", k)`` (faster; more padding, see the module docstring).
    budget_bytes : working-memory budget of one step; ``MemoryBudgetError`` names it when too small.
    progress : show tqdm progress bars.

    Edge cases: a user or movie not in ``train`` gets ``UAvg`` or ``MAvg`` = ``GAvg``, and then
    every ``sur`` is ``MAvg`` and every ``smr`` is ``UAvg``.
    """
    data = as_train_data(train)
    _check_arguments(data.ratings, n, k)
    matrix = data.matrix
    users = matrix.user_index(pairs["user_id"].to_numpy())
    movies = matrix.movie_index(pairs["movie_id"].to_numpy())
    global_mean = matrix.global_mean
    user_avg = np.where(users >= 0, matrix.user_means()[users], global_mean).astype(np.float32)
    movie_avg = np.where(movies >= 0, matrix.movie_means()[movies], global_mean).astype(np.float32)

    warm = (users >= 0) & (movies >= 0)
    sur = np.full((len(pairs), n), np.nan, dtype=np.float32)
    smr = np.full((len(pairs), n), np.nan, dtype=np.float32)
    user_lists = movie_lists = None
    if k is not None:
        user_lists, movie_lists = (
            data.neighbours(side, k, budget_bytes=budget_bytes, progress=progress) for side in SIDES
        )
    by_user = (matrix.csr, matrix.csc, user_lists)
    by_movie = (matrix.csc.T.tocsr(), matrix.csr.T.tocsc(), movie_lists)
    sur[warm] = neighbour_ratings(*by_user, users[warm], movies[warm], n, budget_bytes=budget_bytes, progress=progress)
    smr[warm] = neighbour_ratings(*by_movie, movies[warm], users[warm], n, budget_bytes=budget_bytes, progress=progress)

    sur = np.where(np.isnan(sur), movie_avg[:, None], sur)
    smr = np.where(np.isnan(smr), user_avg[:, None], smr)
    values = np.column_stack([np.full(len(pairs), global_mean, dtype=np.float32), sur, smr, user_avg, movie_avg])
    return pd.DataFrame(values, columns=feature_names(n), index=pairs.index)


def _check_arguments(train: pd.DataFrame, n: int, k: int | None) -> None:
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if k is not None and k < 1:
        raise ValueError(f"k must be None or at least 1, got {k}")
    if len(train) == 0:
        raise ValueError("train holds no ratings; the features need at least one")


def neighbour_ratings(
    X: sp.csr_matrix,
    X_csc: sp.csc_matrix,
    top_k: sp.csr_matrix | None,
    rows: np.ndarray,
    cols: np.ndarray,
    n: int,
    *,
    budget_bytes: float = DEFAULT_BUDGET_BYTES,
    progress: bool = False,
) -> np.ndarray:
    r"""For each query (a, b) = (``rows[q]``, ``cols[q]``): the entries :math:`X_{vb}` of the n rows v most like row a.

    The candidates are the rows :math:`v \ne a` with :math:`X_{vb} \ne 0` and
    :math:`\cos(x_a, x_v) > 0`, ordered by cosine descending, then smaller v. With ``top_k``
    (a CSR whose row a lists a's neighbours, e.g. from ``cosine_top_k``; its values are not
    read) only the v listed in row a count, in the same exact order. Returns a float32 array
    (len(rows), n), NaN where there are fewer than n candidates. ``X_csc`` is ``X`` in CSC
    layout; ``rows`` and ``cols`` must be valid indices (no -1).
    """
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    out = np.full((len(rows), n), np.nan, dtype=np.float32)
    if len(rows) == 0:
        return out
    if not X_csc.has_sorted_indices:  # the scans rely on ascending rows within a column
        X_csc = X_csc.sorted_indices()
    if top_k is None:
        _exact_neighbour_ratings(X, X_csc, rows, cols, out, budget_bytes, progress)
    else:
        _top_k_neighbour_ratings(X, X_csc, top_k, rows, cols, out, budget_bytes, progress)
    return out


def _exact_neighbour_ratings(X, X_csc, rows, cols, out, budget_bytes, progress) -> None:
    """Exact path: blocks of query rows, their dense dot products with every row, a compiled scan per query."""
    n_rows = X.shape[0]
    check_budget(_BLOCK_BYTES_PER_CELL * n_rows, budget_bytes, "one row of the similarity block", "budget_bytes")
    squared_norms = np.asarray(X.multiply(X).sum(axis=1, dtype=np.float64)).ravel()
    order = np.argsort(rows, kind="stable")
    block_ids, first_query = np.unique(rows[order], return_index=True)
    block_rows = max(1, int(budget_bytes // (_BLOCK_BYTES_PER_CELL * n_rows)))
    dots = np.empty((min(block_rows, len(block_ids)), n_rows), dtype=np.float64)
    for start in progress_bar(range(0, len(block_ids), block_rows), desc="similar-row blocks", disable=not progress):
        ids = block_ids[start : start + block_rows]
        q_stop = first_query[start + block_rows] if start + block_rows < len(block_ids) else len(order)
        queries = order[first_query[start] : q_stop]
        dots[: len(ids)] = 0.0
        accumulate_product(X.indptr, X.indices, X.data, X_csc.indptr, X_csc.indices, X_csc.data, ids, dots)
        out[queries] = _scan_raters(
            dots,
            squared_norms,
            np.searchsorted(ids, rows[queries]),
            rows[queries],
            cols[queries],
            X_csc.indptr,
            X_csc.indices,
            X_csc.data,
            out.shape[1],
        )


def _top_k_neighbour_ratings(X, X_csc, top_k, rows, cols, out, budget_bytes, progress) -> None:
    """Top-k path: order each neighbour list once by the exact key, then walk it per query, grouped by column."""
    n_rows = X.shape[0]
    if top_k.shape != (n_rows, n_rows):
        raise ValueError(f"neighbour matrix has shape {top_k.shape}, expected {(n_rows, n_rows)} for this train")
    top_k = sp.csr_matrix(top_k)
    check_budget(40 * top_k.nnz, budget_bytes, "ordering the top-k neighbour lists", "budget_bytes")
    X64 = sp.csr_matrix(X, dtype=np.float64)
    squared_norms = np.asarray(X64.multiply(X64).sum(axis=1)).ravel()
    indptr = top_k.indptr.astype(np.int64)
    list_of_entry = np.repeat(np.arange(n_rows), np.diff(indptr))
    dots = row_dots(X64.indptr, X64.indices, X64.data, X.shape[1], list_of_entry, top_k.indices)
    keys = np.zeros_like(dots)  # dot(x_a, x_v)^2 / |x_v|^2 for every listed neighbour v of a (0 if dot <= 0)
    np.divide(dots * dots, squared_norms[top_k.indices], out=keys, where=dots > 0)
    del dots
    positive = keys > 0  # a listed neighbour with cos <= 0 does not count, as in the definition
    order = np.lexsort((top_k.indices[positive], -keys[positive], list_of_entry[positive]))
    neighbours_sorted = top_k.indices[positive][order].astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(list_of_entry[positive], minlength=n_rows))])
    order = np.argsort(cols, kind="stable")
    scratch = np.zeros(n_rows, dtype=np.float32)
    for start in progress_bar(range(0, len(order), _WALK_CHUNK), desc="top-k walks", disable=not progress):
        queries = order[start : start + _WALK_CHUNK]
        out[queries] = _walk_neighbours(
            indptr,
            neighbours_sorted,
            X_csc.indptr,
            X_csc.indices,
            X_csc.data,
            rows[queries],
            cols[queries],
            out.shape[1],
            scratch,
        )


@numba.njit(cache=True, nogil=True)
def _scan_raters(dots, squared_norms, local, rows, cols, col_indptr, col_indices, col_data, n):  # pragma: no cover
    """Per query: the n raters v != a of column b with the largest dot^2/|x_v|^2 > 0, ties to smaller v."""
    out = np.full((len(rows), n), np.nan, dtype=np.float32)
    keys = np.empty(n, dtype=np.float64)
    for q in range(len(rows)):
        a, b, r = rows[q], cols[q], local[q]
        found = 0
        for p in range(col_indptr[b], col_indptr[b + 1]):
            v = col_indices[p]
            d = dots[r, v]
            if v == a or d <= 0.0:
                continue
            key = d * d / squared_norms[v]
            if found == n and key <= keys[n - 1]:
                continue  # v ascends, so an equal key loses to the smaller v already kept
            j = min(found, n - 1)
            while j > 0 and keys[j - 1] < key:
                keys[j] = keys[j - 1]
                out[q, j] = out[q, j - 1]
                j -= 1
            keys[j] = key
            out[q, j] = col_data[p]
            found = min(found + 1, n)
    return out


@numba.njit(cache=True, nogil=True)
def _walk_neighbours(indptr, neighbours, col_indptr, col_indices, col_data, rows, cols, n, scratch):  # pragma: no cover
    """Per query, grouped by column b: the first n neighbours of a (in list order) with X[v, b] != 0."""
    out = np.full((len(rows), n), np.nan, dtype=np.float32)
    q = 0
    while q < len(rows):
        b = cols[q]
        for p in range(col_indptr[b], col_indptr[b + 1]):
            scratch[col_indices[p]] = col_data[p]
        while q < len(rows) and cols[q] == b:
            a = rows[q]
            found = 0
            for p in range(indptr[a], indptr[a + 1]):
                v = neighbours[p]
                if scratch[v] != 0.0 and v != a:
                    out[q, found] = scratch[v]
                    found += 1
                    if found == n:
                        break
            q += 1
        for p in range(col_indptr[b], col_indptr[b + 1]):
            scratch[col_indices[p]] = 0.0
    return out
