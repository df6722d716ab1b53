"""The k largest entries of each row of a dense block of similarities, ties to the smaller column.

:func:`select_top_k` uses ``np.partition``; :func:`select_exact_top_k` settles the cosines that
float rounding may have tied or split (:class:`ExactCosine`), so that two mathematically equal
cosines are always a tie, broken by the smaller column.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cfutils.core.similarity.kernels import Operand, row_dots


def select_top_k(S: np.ndarray, self_columns: np.ndarray, k: int):
    """Per row of ``S`` (modified): the ``k`` largest values > 0 outside column ``self_columns[i]``.

    Ties at the k-th value go to the smaller column: ``np.partition`` gives the k-th largest
    value t; all cells > t are kept, then cells == t in column order until k are taken.
    Returns ``(counts, columns, values)``; each row's cells are in descending value, ascending column.
    """
    b, n = S.shape
    S[np.arange(b), self_columns] = 0
    k = min(k, n - 1)
    if k <= 0 or b == 0:
        return np.zeros(b, np.int64), np.zeros(0, np.int32), np.zeros(0, S.dtype)
    # np.partition slows down several-fold on many equal values (the zeros of sparse rows); cells
    # <= 0 are never kept, so they enter the partition as distinct negative stand-ins.
    candidates = np.where(S > 0, S, -np.arange(1, n + 1, dtype=S.dtype))
    candidates.partition(n - k, axis=1)
    kth = np.maximum(candidates[:, n - k], np.finfo(S.dtype).smallest_subnormal)  # only values > 0 are kept
    del candidates
    row, col = np.nonzero(S >= kth[:, None])  # row-major: columns ascend within a row
    value = S[row, col]
    tied = value == kth[row]
    above = np.bincount(row[~tied], minlength=b)
    tied_so_far = np.concatenate([[0], np.cumsum(tied)])  # tied cells before each candidate
    rank_in_tie = tied_so_far[1:] - tied_so_far[np.searchsorted(row, row)]  # 1-based, within its row
    keep = ~tied | (rank_in_tie <= k - above[row])
    row, col, value = row[keep], col[keep], value[keep]
    order = np.lexsort((col, -value, row))
    return np.bincount(row, minlength=b), col[order].astype(np.int32), value[order]


class ExactCosine(NamedTuple):
    """What the exact re-ranking of ``"cosine"`` needs: the raw rows (float64 values), their squared
    norms and each row's relative error bound ``gamma`` of a float cosine (module docstring)."""

    raw: Operand
    squared_norms: np.ndarray
    gamma: np.ndarray


def select_exact_top_k(S: np.ndarray, self_columns: np.ndarray, k: int, exact: ExactCosine):
    r""":func:`select_top_k` with exact ranking: per row a (= ``self_columns[i]``), the k cells v
    with the largest :math:`d_v > 0` key :math:`d_v^2 / \lVert x_v \rVert^2`, ties to the smaller v.

    Candidates are the cells :math:`s \ge t (1 - 2\gamma_a)` (t: the k-th largest value): no
    cell below can beat the k cells at or above t. A candidate is re-computed exactly when
    its error interval :math:`s (1 \pm \gamma_a)` meets that of t or of the next candidate in
    value order; any other candidate is certainly kept, in its float order, and ranks by the
    stand-in key :math:`s^2 \lVert x_a \rVert^2`.
    """
    b, n = S.shape
    S[np.arange(b), self_columns] = 0
    k = min(k, n - 1)
    if k <= 0 or b == 0:
        return np.zeros(b, np.int64), np.zeros(0, np.int32), np.zeros(0, S.dtype)
    candidates = np.where(S > 0, S, -np.arange(1, n + 1, dtype=S.dtype))  # see select_top_k
    candidates.partition(n - k, axis=1)
    kth = np.maximum(candidates[:, n - k].astype(np.float64), np.finfo(S.dtype).smallest_subnormal)
    del candidates
    gamma = exact.gamma[self_columns]
    row, col = np.nonzero(S >= (kth * (1 - 2 * gamma))[:, None])  # S > 0 too: the bound is > 0
    value = S[row, col].astype(np.float64)
    order = np.lexsort((col, -value, row))
    row, col, value = row[order], col[order], value[order]
    error = gamma[row] * value
    uncertain = value - error <= (kth * (1 + gamma))[row]
    overlap = (row[1:] == row[:-1]) & (value[:-1] - error[:-1] <= value[1:] + error[1:])
    uncertain[:-1] |= overlap
    uncertain[1:] |= overlap
    own_squared_norm = exact.squared_norms[self_columns][row]
    key = value**2 * own_squared_norm
    where = np.flatnonzero(uncertain)
    dots = row_dots(
        exact.raw.indptr, exact.raw.indices, exact.raw.data, exact.raw.n_columns, self_columns[row[where]], col[where]
    )
    positive = dots > 0
    key[where] = np.where(positive, dots**2 / exact.squared_norms[col[where]], -np.inf)
    value[where[positive]] = np.minimum(np.sqrt(key[where[positive]] / own_squared_norm[where[positive]]), 1)
    keep = key > -np.inf
    row, col, key, value = row[keep], col[keep], key[keep], value[keep]
    order = np.lexsort((col, -key, row))
    row, col, value = row[order], col[order], value[order]
    rank = np.arange(row.size) - np.searchsorted(row, row)
    keep = rank < k
    return np.bincount(row[keep], minlength=b), col[keep].astype(np.int32), value[keep].astype(S.dtype)
