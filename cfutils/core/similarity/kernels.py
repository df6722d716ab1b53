"""The numba kernels of the sparse dot products, once, for :mod:`cfutils.core.similarity.engine` and
:mod:`cfutils.rating.features`.

Both read CSR arrays (``indptr``, ``indices``, ``data``) directly, loop over stored cells only, and
never allocate per cell; numpy cannot express either without materialising a sparse product.
:class:`Operand` is a CSR matrix as the kernel reads it best, and :func:`product` the dense product
of rows through the kernel.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
import scipy.sparse as sp


@numba.njit(cache=True, nogil=True)
def accumulate_product(indptr, indices, data, t_indptr, t_indices, t_data, rows, out):  # pragma: no cover
    """``out[i, j] += sum_c A[rows[i], c] * B_t[c, j]`` over the stored cells, c ascending.

    ``A`` is (``indptr``, ``indices``, ``data``) and ``B_t`` the right factor already in CSR
    (``t_*``): with ``B_t`` = X in CSC layout, row i of ``out`` gains :math:`x_{rows[i]} \\cdot x_v`
    for every row v. Each product is formed in the operands' dtype and added in ``out``'s (exact
    in float32 for ratings in half stars, summed in float64 when ``out`` is float64).
    """
    for i in range(rows.size):
        target = out[i]
        for p in range(indptr[rows[i]], indptr[rows[i] + 1]):
            x = data[p]
            column = indices[p]
            for q in range(t_indptr[column], t_indptr[column + 1]):
                target[t_indices[q]] += x * t_data[q]


@numba.njit(cache=True, nogil=True)
def accumulate_count(indptr, indices, t_indptr, t_indices, rows, out):  # pragma: no cover
    """``out[i, j] += |{c : A[rows[i], c] and B_t[c, j] both stored}|``: the product of the two
    stored patterns (every stored value taken as 1).

    The loops of :func:`accumulate_product` without reading or multiplying any value: per term
    it reads one narrow column index instead of an index and a value. Exact in a float32
    ``out`` below 2**24 terms per cell.
    """
    for i in range(rows.size):
        target = out[i]
        for p in range(indptr[rows[i]], indptr[rows[i] + 1]):
            column = indices[p]
            for q in range(t_indptr[column], t_indptr[column + 1]):
                target[t_indices[q]] += 1


@numba.njit(cache=True, nogil=True)
def row_dots(indptr, indices, data, n_columns, rows, columns):  # pragma: no cover
    """``sum_c X[rows[i], c] * X[columns[i], c]`` in float64 for each i.

    ``rows`` must be grouped (equal values adjacent): each row is scattered once into a dense
    buffer of ``n_columns``, then each of its partners' stored cells is read.
    """
    dense = np.zeros(n_columns)
    out = np.empty(rows.size)
    current = -1
    for i in range(rows.size):
        if rows[i] != current:
            if current >= 0:
                for p in range(indptr[current], indptr[current + 1]):
                    dense[indices[p]] = 0.0
            current = rows[i]
            for p in range(indptr[current], indptr[current + 1]):
                dense[indices[p]] = data[p]
        total = 0.0
        for q in range(indptr[columns[i]], indptr[columns[i] + 1]):
            total += data[q] * dense[indices[q]]
        out[i] = total
    return out


class Operand(NamedTuple):
    """A CSR matrix as the kernel reads it: its column indices unsigned and as narrow as
    ``n_columns`` allows (measured 1.4x faster than int32 from the dropped negative-index check,
    1.8x with uint16: less memory traffic)."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_columns: int


def operand(M: sp.csr_matrix) -> Operand:
    """``M`` for the kernel (built right after each transpose, so that two index copies never pile up)."""
    narrow = np.uint16 if M.shape[1] <= np.iinfo(np.uint16).max + 1 else np.uint32
    return Operand(M.indptr, M.indices.astype(narrow), M.data, M.shape[1])


def product(A: Operand, B_t: Operand, rows: np.ndarray) -> np.ndarray:
    """Dense ``A[rows] @ B_t`` (``B_t``: the right factor, already transposed to CSR; same dtype as A)."""
    out = np.zeros((rows.size, B_t.n_columns), A.data.dtype)
    accumulate_product(A.indptr, A.indices, A.data, B_t.indptr, B_t.indices, B_t.data, rows, out)
    return out


def pattern_product(A: Operand, B_t: Operand, rows: np.ndarray, dtype=None) -> np.ndarray:
    """Dense count of the stored cells ``A[rows]`` and ``B_t`` share (the product of their patterns),
    counted in float32 (exact up to 2**24, and half the memory traffic of float64 sums), in float64
    when a count could pass 2**24; returned in ``dtype``, or as counted when ``dtype`` is None."""
    exact_in_float32 = A.n_columns < 2**24
    out = np.zeros((rows.size, B_t.n_columns), np.float32 if exact_in_float32 else np.float64)
    accumulate_count(A.indptr, A.indices, B_t.indptr, B_t.indices, rows, out)
    return out if dtype is None else out.astype(dtype, copy=False)


def pattern_gram(X: sp.csr_matrix, n_threads: int | None = None) -> np.ndarray:
    r"""Dense float64 :math:`G = P^T P` of the stored pattern :math:`P` of ``X`` (users x items):
    :math:`g_{ij}` is the number of rows that store both column i and column j. Values are not read.

    :func:`pattern_product` of :math:`P^T` with :math:`P`, the items dealt round-robin to
    ``n_threads`` threads (default: the CPUs this process may use) so that popular and rare items
    spread evenly: :math:`\sum_u n_u^2` increments, no value read and no sparse result built, where
    scipy's ``X.T @ X`` builds and sums a sparse product (EASE's Gram: benchmarks/README.md). Each
    thread counts in float32 (exact below :math:`2^{24}` rows), written into the float64 result:
    :math:`12 n^2` bytes at most, within :func:`cfutils.lists.ease.ease_bytes`.
    """
    X = sp.csr_matrix(X)
    n = X.shape[1]
    A, B = operand(X.T.tocsr()), operand(X)
    n_threads = max(1, min(n_threads or len(os.sched_getaffinity(0)), n))
    parts = [np.arange(first, n, n_threads) for first in range(n_threads)]
    gram = np.empty((n, n))
    with ThreadPoolExecutor(n_threads) as pool:
        for rows, counts in zip(parts, pool.map(lambda rows: pattern_product(A, B, rows), parts)):
            gram[rows] = counts
    return gram
