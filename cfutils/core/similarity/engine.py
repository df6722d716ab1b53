r"""Top-k similarity between all rows of a rating matrix, memory-bounded, as a sparse matrix.

The tutorial computed ``cosine_similarity(row, whole matrix)`` one user at a time and kept a
dense 617 x 100 array; the case study computed all movie pairs at once with sklearn. Either way
the full similarity matrix is quadratic: 480,189² float32 cells are 922 GB for Netflix users.
:func:`similarity_top_k` keeps, for every row, only its k best neighbours (:func:`cosine_top_k`
is its cosine case):

* rows are processed in blocks ``B``; the dense block ``B @ X.T`` (``block_rows x n`` cells,
  sized by ``budget_bytes``, see :func:`plan_top_k`) is accumulated by a compiled (numba) kernel:
  for each stored cell :math:`x_{ic}` of a block row, add :math:`x_{ic} x_{jc}` for every stored
  :math:`x_{jc}` of column c. That is the work of the sparse product, :math:`\sum_c d_c^2` over
  the block's columns, without scipy's sparse intermediate (about 2x faster, and less memory).
  Each cell sums its terms in column order, so identical rows give bit-identical similarities;
* a binary pattern (one value in every stored cell, as item-kNN's who-watched-what) is counted
  instead: the kernel adds 1 per shared cell without reading values (exact in float32), and
  :math:`\cos(u, v) = n_{uv} / \sqrt{|I_u| |I_v|}` scales the counts once (the whole top-k
  1.2-1.3x faster on Netflix-like data, ``benchmarks/bench_similarity.py`` part 3);
* the k-th largest value of each block row comes from ``np.partition``; the cells at or above
  it are taken in column order, so exact ties at the k-th place go to the smaller index
  (``argpartition`` alone would cut a tie anywhere);
* for ``"cosine"`` on ratings, the boundary and the ties are then settled exactly (next section);
* blocks run on a small thread pool (the kernel and numpy release the GIL).
* ``rows`` restricts the work to some rows' neighbour lists (against all rows).

Rows of the result are stored in descending similarity, ties by ascending column index, so
``S.indices[S.indptr[i]:S.indptr[i+1]]`` is row i's neighbour list in rank order. Such a
matrix has ``has_sorted_indices == False``: scipy operations that canonicalise it (``sort_indices``,
``sum_duplicates``, arithmetic) put the row back in column order.

How ties stay exact (``"cosine"``)
-------------------------------------
Two mathematically equal cosines can round apart in the float products (rows [2,1,1,1,0]:
rows [2,0,1,2,0] and [2,2,1,0,0] both have :math:`\cos^2 = 7/9`), so the float values alone
would break such ties by noise. With ``measure="cosine"``, a sparse X with no negative values
and ``shrinkage=0``, the float block only proposes: per row a, every cell whose float value
:math:`s` can be off by at most :math:`\gamma_a s`, :math:`\gamma_a = 2 (|I_a| + 8) u` (``u``
the unit roundoff of ``dtype``: a recursive sum of at most :math:`|I_a|` non-negative terms,
plus the normalisation), is certainly in or certainly out of the top k unless it lies within
that error of the k-th value or of another kept value. Only those uncertain cells (usually a
few per row) are re-ranked by the exact key of :mod:`cfutils.rating.features`,
:math:`d_v^2 / \lVert x_v \rVert^2` with :math:`d_v = x_a \cdot x_v` summed in float64 from the
raw stored values (exact for whole or half stars up to Netflix scale: every partial sum is a
multiple of 1/4 below :math:`2^{53}`), one correctly rounded division; equal cosines give equal
keys, broken by the smaller index. Their stored value becomes
:math:`\min(1, \sqrt{\text{key} / \lVert x_a \rVert^2})` cast to ``dtype``, so that equal cosines
also store equal values and each row stays in descending value. Limit: the other measures,
``shrinkage > 0``, negative values (unless every stored cell holds the same one) and dense X rank
by the float values alone (float64 with ``dtype=np.float64``), so exactly equal similarities
there may still split by rounding.

Measures (:data:`MEASURES`), with :math:`I_u` the stored (rated) cells of row u,
:math:`I_{uv} = I_u \cap I_v` and :math:`n_{uv} = |I_{uv}|`:

* ``"cosine"`` (default, the tutorial's and sklearn's):
  :math:`\dfrac{\sum_{i \in I_{uv}} r_{ui} r_{vi}}{\sqrt{\sum_{i \in I_u} r_{ui}^2}\sqrt{\sum_{i \in I_v} r_{vi}^2}}`.
  Surprise's ``cosine`` differs: its norms run over :math:`I_{uv}` only.
* ``"centered_cosine"``: the same on :math:`r_{ui} - \mu_u`, with :math:`\mu_u` the mean of row u
  over :math:`I_u` (mean-centred cosine).
* ``"adjusted_cosine"``: the same on :math:`r_{ui} - \mu_i`, with :math:`\mu_i` the mean of column i
  over its stored cells: Sarwar et al. (2001)'s adjusted cosine when the rows are items
  (``similarity_top_k(R.T, k, measure="adjusted_cosine")`` centres each rating by its user's mean).
* ``"pearson"`` (Surprise's ``pearson``, on co-rated cells only):
  :math:`\dfrac{\sum_{i \in I_{uv}} (r_{ui} - \bar r_u)(r_{vi} - \bar r_v)}
  {\sqrt{\sum_{i \in I_{uv}} (r_{ui} - \bar r_u)^2}\sqrt{\sum_{i \in I_{uv}} (r_{vi} - \bar r_v)^2}}`
  with :math:`\bar r_u, \bar r_v` the means over :math:`I_{uv}`; 0 when a denominator is 0.

Every measure then takes ``min_support`` and ``shrinkage`` as Surprise's ``pearson_baseline``
does: :math:`s = 0` if :math:`n_{uv} <` ``min_support``, and
:math:`s' = \dfrac{n_{uv} - 1}{n_{uv} - 1 + \lambda}\, s` when ``shrinkage`` :math:`= \lambda > 0`.

Edge cases: an empty row (or, for centred measures, a constant one) has no neighbours and is
nobody's neighbour; ``k >= n_rows`` keeps every positive similarity; values are clipped at 1
(floating-point rounding can give 1.0000001 for identical rows).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from cfutils.core.matrix import with_data
from cfutils.core.memory import DEFAULT_BUDGET_BYTES, check_budget
from cfutils.core.progress import progress_bar
from cfutils.core.similarity.kernels import Operand, operand, pattern_product, product
from cfutils.core.similarity.top_k import ExactCosine, select_exact_top_k, select_top_k

MEASURES = ("cosine", "centered_cosine", "adjusted_cosine", "pearson")
#: Blocks per thread at least, so that threads finish together and the bar moves.
_BLOCKS_PER_THREAD = 4
#: Index bytes of one stored cell (int32 in the operands).
_INDEX_BYTES = 4


class TopKPlan(NamedTuple):
    """How :func:`similarity_top_k` cuts its work to stay within ``budget_bytes``.

    ``fixed_bytes`` (prepared copies of the input and the result) plus ``n_threads`` blocks of
    ``block_rows * bytes_per_row`` in flight at once is the estimated peak, ``peak_bytes``.
    """

    block_rows: int
    n_blocks: int
    n_threads: int
    bytes_per_row: int
    fixed_bytes: int

    @property
    def peak_bytes(self) -> int:
        return self.fixed_bytes + self.n_threads * self.block_rows * self.bytes_per_row


def block_rows(n_rows: int, bytes_per_row: int, fixed_bytes: int, budget_bytes: float, n_threads: int = 1) -> int:
    """Rows per block: the most with ``fixed_bytes + n_threads * rows * bytes_per_row <= budget_bytes``.

    Capped at ``n_rows``. Raises :class:`cfutils.core.memory.MemoryBudgetError` (naming
    ``budget_bytes``) when not even one row per thread fits.
    """
    check_budget(
        fixed_bytes + n_threads * bytes_per_row,
        budget_bytes,
        f"top-k similarity (prepared input and result, plus one block row on each of {n_threads} threads)",
        "budget_bytes",
    )
    return int(min(max(n_rows, 1), (budget_bytes - fixed_bytes) // (n_threads * bytes_per_row)))


def plan_top_k(
    X,
    k: int,
    *,
    measure: str = "cosine",
    min_support: int = 1,
    shrinkage: float = 0.0,
    budget_bytes: float = DEFAULT_BUDGET_BYTES,
    n_threads: int | None = None,
    dtype=np.float32,
    rows=None,
) -> TopKPlan:
    """The block plan of ``similarity_top_k(X, k, ...)`` with the same arguments, computing nothing.

    Memory model, in bytes, with ``s`` the itemsize of the working dtype (8 for Pearson), ``n``
    rows, ``m`` columns and ``nnz`` stored cells of X:

    * fixed: the larger of the prepared operands, ``p * 2 (s + 4) nnz`` (each of ``p`` operands and
      its CSR transpose; p = 1 for the cosines, 2 with a support rule, 3 for Pearson; ``n m s``
      for a dense X) and the preparation scratch ``(s + 4 + 16) nnz``; plus the result, twice
      ``r k (s + 4)`` while it is assembled (``r`` computed rows: ``n``, or the size of ``rows``);
      for the exact ties of ``"cosine"`` (sparse, no shrinkage) the raw values ``8 nnz``, two
      ``8 n`` row arrays and, per thread, an ``8 m`` scatter buffer;
    * per block row: ``n`` cells in each of ``d`` dense arrays of ``s`` (d = 1 for the cosines: the
      kernel's accumulator; 4 with a support rule, 6 for Pearson), the partition copy ``s`` and
      a mask byte.

    The budget is ``fixed + n_threads * block_rows * bytes_per_row`` (:attr:`TopKPlan.peak_bytes`).
    Blocks are also cut to at least 4 per thread, for balance and a moving progress bar;
    ``n_blocks`` covers the ``r`` computed rows.
    """
    _check_arguments(X, k, measure, min_support, shrinkage)
    n_threads = _thread_count(n_threads)
    n, m = X.shape
    r = n if rows is None else _row_indices(rows, n).size
    item = 8 if measure == "pearson" else np.dtype(dtype).itemsize
    support = _needs_support(min_support, shrinkage)
    if sp.issparse(X):
        n_operands, n_dense = (3, 6) if measure == "pearson" else (1 + support, 1 + 3 * support)
        operands = max(n_operands * 2 * (item + _INDEX_BYTES) * X.nnz, (item + _INDEX_BYTES + 16) * X.nnz)
        bytes_per_row = n * (n_dense * item + item + 1)
        if _exact_ties_possible(measure, shrinkage):
            operands += 8 * X.nnz + 16 * n + n_threads * 8 * m
    else:
        operands = n * m * item
        bytes_per_row = n * (item + item + 1)
    result = 2 * r * min(k, max(n - 1, 0)) * (np.dtype(dtype).itemsize + _INDEX_BYTES)
    fixed = operands + 8 * (n + m + 2) + result
    per_block = block_rows(r, max(bytes_per_row, 1), fixed, budget_bytes, n_threads)
    per_block = max(1, min(per_block, -(-r // (_BLOCKS_PER_THREAD * n_threads))))
    return TopKPlan(per_block, -(-r // per_block), n_threads, max(bytes_per_row, 1), fixed)


def similarity_top_k(
    X,
    k: int,
    *,
    measure: str = "cosine",
    min_support: int = 1,
    shrinkage: float = 0.0,
    budget_bytes: float = DEFAULT_BUDGET_BYTES,
    n_threads: int | None = None,
    progress: bool = False,
    dtype=np.float32,
    rows=None,
) -> sp.csr_matrix:
    """The k most similar other rows of every row of ``X``, as an ``n x n`` CSR matrix.

    Row i holds the k largest similarities ``s(i, j)``, ``j != i``, that are ``> 0`` (fewer when
    fewer are positive), in descending order, ties broken by the smaller ``j``. Movie-movie
    neighbours of a users x movies matrix ``R`` are ``similarity_top_k(R.T, k)``;
    :func:`cosine_top_k` is the cosine case.

    Parameters
    ----------
    X : scipy sparse matrix (any format) or dense 2-D array, n_rows x n_features
        Stored non-zero cells are the rated ones. A dense array (e.g. an embedding) supports
        only ``measure="cosine"`` without ``min_support`` / ``shrinkage``.
    k : int >= 1
    measure, min_support, shrinkage : see the module docstring for the formulas.
    budget_bytes : estimated peak working memory (:func:`plan_top_k`); the block size follows it.
        :class:`cfutils.core.memory.MemoryBudgetError` if not even one row per thread fits.
    n_threads : blocks computed at once (default: the CPUs this process may use).
    progress : show a tqdm bar over blocks.
    dtype : float type of the products and of the result (float32 default). Pearson's sums
        are always formed in float64 (they cancel), then cast.
    rows : optional int array of row indices (any order, duplicates ignored). Only these rows'
        neighbour lists are computed, against all rows; the other rows of the result are empty
        (the listed rows equal those of the full result). ``ValueError`` for an index outside
        ``0 .. n_rows - 1`` (negative ones too: ``-1`` is the "unknown id" of ``RatingMatrix``).
    """
    plan = plan_top_k(
        X,
        k,
        measure=measure,
        min_support=min_support,
        shrinkage=shrinkage,
        budget_bytes=budget_bytes,
        n_threads=n_threads,
        dtype=dtype,
        rows=rows,
    )
    similarity = _prepare(X, measure, dtype, min_support, shrinkage)
    n = X.shape[0]
    wanted = np.arange(n) if rows is None else _row_indices(rows, n)
    blocks = [wanted[start : start + plan.block_rows] for start in range(0, wanted.size, plan.block_rows)]
    one_blas_thread = threadpool_limits(1, user_api="blas") if plan.n_threads > 1 else nullcontext()
    with one_blas_thread, ThreadPoolExecutor(plan.n_threads) as pool:
        work = pool.map(lambda rows: _top_k_rows(similarity, rows, k), blocks)
        parts = list(
            progress_bar(work, total=len(blocks), disable=not progress, desc=f"top-{k} {measure}", unit="block")
        )
    return _assemble(parts, wanted, n, dtype)


def cosine_top_k(X, k: int, *, measure: str = "cosine", **options) -> sp.csr_matrix:
    """:func:`similarity_top_k` with ``measure="cosine"``: the k best cosines of every row of ``X``.

    ``options`` are those of :func:`similarity_top_k` (``min_support``, ``shrinkage``,
    ``budget_bytes``, ``rows`` ...). Another ``measure`` is not a cosine: ``ValueError``,
    naming :func:`similarity_top_k`, which computes it.
    """
    if measure != "cosine":
        raise ValueError(f"cosine_top_k computes cosines; for measure={measure!r} call similarity_top_k")
    return similarity_top_k(X, k, **options)


def _assemble(parts: list, wanted: np.ndarray, n: int, dtype) -> sp.csr_matrix:
    """The ``n x n`` CSR of the ``(counts, columns, values)`` of each block of the rows ``wanted``."""
    counts = np.zeros(n, np.int64)
    counts[wanted] = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.int32)
    data = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, dtype)
    result = sp.csr_matrix((data.astype(dtype, copy=False), indices, indptr), shape=(n, n))
    result.has_sorted_indices = False  # each row is best first, not by column
    return result


def svd_cosine_top_k(X, k: int, *, n_components: int = 64, seed: int = 0, **top_k_options) -> sp.csr_matrix:
    r"""Approximate cosine top-k through a rank-r truncated SVD, :math:`X \approx U \Sigma V^T`.

    Returns ``cosine_top_k(U @ diag(Σ), k)``: since :math:`V` has orthonormal columns, the cosine
    of rows u, v of :math:`U\Sigma` equals the cosine of rows u, v of the rank-r reconstruction
    :math:`\hat X = U \Sigma V^T`. It trades the sparse product (cost :math:`\sum_i d_i^2`) for
    a dense one (:math:`n^2 r`) and finds the neighbours of the best rank-r picture of the
    ratings: tastes shared along the top r directions, not the exact co-ratings (two users
    who rated nothing in common can come out similar). The values are those of :math:`\hat X`.
    With ``n_components >= rank(X)`` it equals the exact top-k (up to float rounding).
    ``top_k_options`` go to :func:`cosine_top_k` (``budget_bytes``, ``progress`` ...).
    """
    from sklearn.utils.extmath import randomized_svd  # here: it takes seconds to load, for this shortcut only

    n_components = max(1, min(n_components, *X.shape))
    U, sigma, _ = randomized_svd(sp.csr_matrix(X, dtype=np.float64), n_components, random_state=seed)
    return cosine_top_k(U * sigma, k, **top_k_options)


def neighbour_recall(exact: sp.csr_matrix, approximate: sp.csr_matrix, rows=None) -> float:
    r"""Recall@k of approximate neighbour lists: the mean, over ``rows`` (default all) that have exact
    neighbours, of :math:`|N_{approx}(i) \cap N_{exact}(i)| / |N_{exact}(i)|`; NaN if no row has any."""
    rows = np.arange(exact.shape[0]) if rows is None else np.asarray(rows)
    shares = [
        np.isin(
            exact.indices[exact.indptr[i] : exact.indptr[i + 1]],
            approximate.indices[approximate.indptr[i] : approximate.indptr[i + 1]],
        ).mean()
        for i in rows
        if exact.indptr[i + 1] > exact.indptr[i]
    ]
    return float(np.mean(shares)) if shares else float("nan")


def similarity_rows(
    X,
    rows,
    *,
    measure: str = "cosine",
    min_support: int = 1,
    shrinkage: float = 0.0,
    budget_bytes: float = DEFAULT_BUDGET_BYTES,
) -> np.ndarray:
    """The similarities of ``rows`` (indices) with every row of X, as a dense float64 array
    ``(len(rows), n_rows)``: the values :func:`similarity_top_k` ranks, with the same ``measure``,
    ``min_support`` and ``shrinkage`` (module docstring), but none dropped: negative values, zeros
    and each row with itself (1 for a non-empty row) stay. For looking at a few rows or pairs; the
    dense result is checked against ``budget_bytes`` first. A dense X is read as sparse (0 = not rated).
    The result's rows follow ``rows`` in ascending order, without repeats.
    """
    X = sp.csr_matrix(X)
    rows = _row_indices(rows, X.shape[0])
    _check_arguments(X, 1, measure, min_support, shrinkage)
    check_budget(
        3 * 8 * rows.size * X.shape[1] + 3 * 8 * rows.size * X.shape[0],
        budget_bytes,
        f"{rows.size} dense similarity rows of {X.shape[0]:,}",
        "budget_bytes",
    )
    return _supported_block(_prepare(X, measure, np.float64, min_support, shrinkage), rows)


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
        _check_arguments(rows, k, **options)
        _, neighbours, values = _top_k_rows(_prepare(rows, dtype=np.float32, **options), np.array([index]), k)
    pattern = (rows != 0).astype(np.int64)
    return pd.DataFrame(
        {
            id_column: raw_ids[neighbours],
            "similarity": values.astype(np.float64),
            "n_ratings": np.diff(pattern.indptr)[neighbours],
            "n_common": (pattern[neighbours] @ pattern[index].T).toarray().ravel(),
        }
    )


# --- the engine: prepared operands -> dense similarity blocks -> exact top-k -------------------


@dataclass(frozen=True)
class _Similarity:
    """``block(rows)`` gives the dense similarity rows (before the support rules) and the support
    :math:`n_{uv}` when ``min_support``/``shrinkage`` need it (else ``None``)."""

    block: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]
    min_support: int
    shrinkage: float
    exact: ExactCosine | None = None


def _top_k_rows(similarity: _Similarity, rows: np.ndarray, k: int):
    """Top-k of the given rows (int array): ``(counts per row, columns, values)``, each row best first."""
    S = _supported_block(similarity, rows)
    if similarity.exact is not None:
        return select_exact_top_k(S, rows, k, similarity.exact)
    return select_top_k(S, rows, k)


def _supported_block(similarity: _Similarity, rows: np.ndarray) -> np.ndarray:
    r"""Dense similarity rows after the support rules (0 below ``min_support``, times
    :math:`(n_{uv} - 1)/(n_{uv} - 1 + \lambda)` with shrinkage), clipped at 1."""
    S, support = similarity.block(rows)
    if support is not None:
        S[support < similarity.min_support] = 0
        if similarity.shrinkage > 0:
            shared = np.maximum(support - 1, 0)
            S *= shared / (shared + similarity.shrinkage)
    return np.minimum(S, 1, out=S)


def _prepare(X, measure: str, dtype, min_support: int, shrinkage: float) -> _Similarity:
    """Prepared operands of ``measure`` (copies: the input is never modified) and their block function."""
    if not sp.issparse(X):
        Y = np.array(X, dtype=dtype)
        Y *= _inverse_norms(np.einsum("ij,ij->i", Y, Y, dtype=np.float64)).astype(dtype)[:, None]
        return _Similarity(lambda rows: (Y[rows] @ Y.T, None), min_support, shrinkage)
    work_dtype = np.float64 if measure == "pearson" else dtype
    X = sp.csr_matrix(X, dtype=work_dtype, copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    needs_ones = measure == "pearson" or _needs_support(min_support, shrinkage)
    ones = with_data(X, np.ones(X.nnz, work_dtype), copy=False) if needs_ones else None
    ones_t = operand(ones.T.tocsr()) if needs_ones else None
    if measure == "pearson":
        return _Similarity(_pearson_block(X, ones, ones_t), min_support, shrinkage)
    _centre_in_place(X, measure)
    counts = np.diff(X.indptr)
    squared_norms = np.bincount(
        np.repeat(np.arange(X.shape[0]), counts), weights=X.data.astype(np.float64) ** 2, minlength=X.shape[0]
    )
    # One value in every stored cell (a binary pattern): the cosine is n_uv / sqrt(|I_u| |I_v|),
    # so the block counts shared cells (kernels.pattern_product) and scales them once. Its ties are
    # settled exactly whatever the value's sign (every product is the value squared).
    pattern = measure == "cosine" and ones_t is None and X.nnz > 0 and bool((X.data == X.data[0]).all())
    exact_ties = _exact_ties_possible(measure, shrinkage) and (pattern or not (X.data < 0).any())
    # A pattern's values are never scaled, so its raw values are X's own (no copy).
    raw = X.data.astype(np.float64, copy=not pattern) if exact_ties else None
    scale = _inverse_norms((counts if pattern else squared_norms).astype(np.float64)).astype(work_dtype)
    if not pattern:
        X.data *= np.repeat(scale, counts)
    if pattern:  # the counting kernel reads no values: transpose the pattern alone (one byte a cell), keep none
        X_t = operand(with_data(X, np.ones(X.nnz, np.int8), copy=False).T.tocsr())._replace(data=None)
        X = operand(X)._replace(data=raw)
    else:
        X_t = operand(X.T.tocsr())
        X = operand(X)
    ones = None if ones_t is None else X._replace(data=ones.data)
    exact = None
    if exact_ties:
        gamma = 2 * (counts + 8) * np.finfo(work_dtype).eps / 2
        exact = ExactCosine(X._replace(data=raw), squared_norms, gamma)

    def block(rows):
        if pattern:
            S = pattern_product(X, X_t, rows, work_dtype)
            S *= scale[rows, None]
            S *= scale
            return S, None
        return product(X, X_t, rows), None if ones_t is None else product(ones, ones_t, rows)

    return _Similarity(block, min_support, shrinkage, exact)


def _pearson_block(X: sp.csr_matrix, ones: sp.csr_matrix, ones_t: Operand):
    """Block function of Surprise's ``pearson`` from the co-rated sums (six sparse products)."""
    squares = with_data(X, X.data**2, copy=False)
    X_t, squares_t = operand(X.T.tocsr()), operand(squares.T.tocsr())
    X = operand(X)
    ones, squares = X._replace(data=ones.data), X._replace(data=squares.data)

    def block(rows):
        n = product(ones, ones_t, rows)
        sum_x, sum_y = product(X, ones_t, rows), product(ones, X_t, rows)
        numerator = n * product(X, X_t, rows) - sum_x * sum_y
        denominator = n * product(squares, ones_t, rows) - sum_x**2
        denominator *= n * product(ones, squares_t, rows) - sum_y**2
        np.sqrt(np.maximum(denominator, 0, out=denominator), out=denominator)
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0), n

    return block


def _centre_in_place(X: sp.csr_matrix, measure: str) -> None:
    """Stored cells minus their row mean (``centered_cosine``) or column mean (``adjusted_cosine``)."""
    if measure == "cosine":
        return
    by_row = measure == "centered_cosine"
    owner = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr)) if by_row else X.indices
    size = X.shape[0] if by_row else X.shape[1]
    counts = np.bincount(owner, minlength=size)
    sums = np.bincount(owner, weights=X.data, minlength=size)
    means = np.divide(sums, counts, out=np.zeros(size), where=counts > 0)
    X.data -= means[owner].astype(X.dtype)


def _inverse_norms(squared_norms: np.ndarray) -> np.ndarray:
    """1 / sqrt(squared_norms), and 0 where the norm is 0 (empty rows stay empty)."""
    norms = np.sqrt(squared_norms)
    return np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)


def _exact_ties_possible(measure: str, shrinkage: float) -> bool:
    """Whether ``"cosine"`` ties are settled exactly (for a sparse X without negative values)."""
    return measure == "cosine" and shrinkage == 0


def _needs_support(min_support: int, shrinkage: float) -> bool:
    return min_support > 1 or shrinkage > 0


def _row_indices(rows, n: int) -> np.ndarray:
    """``rows`` as sorted unique int64 indices; ``ValueError`` outside ``0 .. n - 1``."""
    rows = np.unique(np.asarray(rows, dtype=np.int64).ravel())
    if rows.size and (rows[0] < 0 or rows[-1] >= n):
        raise ValueError(f"rows must lie in 0 .. {n - 1}, got {rows[0] if rows[0] < 0 else rows[-1]}")
    return rows


def _thread_count(n_threads: int | None) -> int:
    return max(1, n_threads if n_threads is not None else len(os.sched_getaffinity(0)))


def _check_arguments(X, k: int, measure: str, min_support: int, shrinkage: float) -> None:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if shrinkage < 0:
        raise ValueError(f"shrinkage must be >= 0, got {shrinkage}")
    if not sp.issparse(X) and (measure != "cosine" or _needs_support(min_support, shrinkage)):
        raise ValueError("a dense X has no rated cells: use measure='cosine' without min_support/shrinkage")
