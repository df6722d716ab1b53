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

The measures, their support rules and shrinkage are in :mod:`cfutils.core.similarity.measures`;
neighbour lookups by id and title in :mod:`cfutils.core.similarity.neighbours`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from cfutils.core.memory import DEFAULT_BUDGET_BYTES, check_budget
from cfutils.core.progress import progress_bar
from cfutils.core.similarity.measures import (
    PreparedMeasure,
    check_arguments,
    exact_ties_possible,
    needs_support,
    prepare_measure,
    row_indices,
    supported_block,
)
from cfutils.core.similarity.top_k import select_exact_top_k, select_top_k

_BLOCKS_PER_THREAD = 4

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
    check_arguments(X, k, measure, min_support, shrinkage)
    n_threads = _thread_count(n_threads)
    n, m = X.shape
    r = n if rows is None else row_indices(rows, n).size
    item = 8 if measure == "pearson" else np.dtype(dtype).itemsize
    support = needs_support(min_support, shrinkage)
    if sp.issparse(X):
        n_operands, n_dense = (3, 6) if measure == "pearson" else (1 + support, 1 + 3 * support)
        operands = max(n_operands * 2 * (item + _INDEX_BYTES) * X.nnz, (item + _INDEX_BYTES + 16) * X.nnz)
        bytes_per_row = n * (n_dense * item + item + 1)
        if exact_ties_possible(measure, shrinkage):
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
    measure, min_support, shrinkage : formulas in :mod:`cfutils.core.similarity.measures`.
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
    similarity = prepare_measure(X, measure, dtype, min_support, shrinkage)
    n = X.shape[0]
    wanted = np.arange(n) if rows is None else row_indices(rows, n)
    blocks = [wanted[start : start + plan.block_rows] for start in range(0, wanted.size, plan.block_rows)]
    one_blas_thread = threadpool_limits(1, user_api="blas") if plan.n_threads > 1 else nullcontext()
    with one_blas_thread, ThreadPoolExecutor(plan.n_threads) as pool:
        work = pool.map(lambda rows: top_k_rows(similarity, rows, k), blocks)
        parts = list(
            progress_bar(work, total=len(blocks), disable=not progress, desc=f"top-{k} {measure}", unit="block")
        )
    return _assemble(parts, wanted, n, dtype)


def cosine_top_k(X, k: int, **options) -> sp.csr_matrix:
    """:func:`similarity_top_k` with ``measure="cosine"``: the k best cosines of every row of ``X``.

    ``options`` are those of :func:`similarity_top_k` (``min_support``, ``shrinkage``,
    ``budget_bytes``, ``rows`` ...) but ``measure``; another measure is :func:`similarity_top_k`'s.
    """
    return similarity_top_k(X, k, measure="cosine", **options)


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


def top_k_rows(similarity: PreparedMeasure, rows: np.ndarray, k: int):
    """Top-k of the given rows (int array): ``(counts per row, columns, values)``, each row best first."""
    S = supported_block(similarity, rows)
    if similarity.exact is not None:
        return select_exact_top_k(S, rows, k, similarity.exact)
    return select_top_k(S, rows, k)


def _thread_count(n_threads: int | None) -> int:
    return max(1, n_threads if n_threads is not None else len(os.sched_getaffinity(0)))
