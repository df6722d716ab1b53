r"""Similarity measures between the rows of a sparse matrix: their formulas, the support rules
(``min_support``, shrinkage) and the prepared operands from which the top-k engine
(:mod:`cfutils.core.similarity.engine`) computes dense blocks of similarities.

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
:math:`s' = \dfrac{n_{uv} - 1}{n_{uv} - 1 + \lambda}\, s` when ``shrinkage`` :math:`= \lambda > 0`
(:func:`shrinkage_factor`, the one copy of that rule, also used by
:class:`cfutils.rating.models.KNNBaseline`).

Edge cases: an empty row (or, for centred measures, a constant one) has no neighbours and is
nobody's neighbour; ``k >= n_rows`` keeps every positive similarity; values are clipped at 1
(floating-point rounding can give 1.0000001 for identical rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from cfutils.core.matrix import with_data
from cfutils.core.memory import DEFAULT_BUDGET_BYTES, check_budget
from cfutils.core.similarity.kernels import Operand, operand, pattern_product, product
from cfutils.core.similarity.top_k import ExactCosine

MEASURES = ("cosine", "centered_cosine", "adjusted_cosine", "pearson")


def shrinkage_factor(n_common, shrinkage: float):
    r"""The shrinkage of a similarity computed on :math:`n_{uv}` common cells, the package's one copy:

    .. math:: f(n_{uv}) = \dfrac{\max(n_{uv} - 1, 0)}{\max(n_{uv} - 1, 0) + \lambda}, \qquad s' = f(n_{uv})\, s

    with :math:`\lambda` = ``shrinkage`` > 0 (Koren 2010, section 2.2; Surprise's ``pearson_baseline``).
    A pair with one common cell or none gets 0; :math:`f \to 1` as :math:`n_{uv}` grows. ``n_common``
    is an array of counts (float, exact integers); the result has its dtype and shape. Used by
    :func:`supported_block` (every measure of :func:`similarity_top_k`) and by
    :class:`cfutils.rating.models.KNNBaseline`, which shrinks Surprise's unshrunk ``pearson_baseline``
    with it. ``ValueError`` for ``shrinkage <= 0`` (0 is no shrinkage: skip the call; it would divide 0 by 0).
    """
    if not shrinkage > 0:
        raise ValueError(f"shrinkage must be > 0 here (0 means no shrinkage), got {shrinkage}")
    shared = np.maximum(n_common - 1, 0)
    return shared / (shared + shrinkage)


@dataclass(frozen=True)
class PreparedMeasure:
    """``block(rows)`` gives the dense similarity rows (before the support rules) and the support
    :math:`n_{uv}` when ``min_support``/``shrinkage`` need it (else ``None``)."""

    block: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]
    min_support: int
    shrinkage: float
    exact: ExactCosine | None = None


def supported_block(similarity: PreparedMeasure, rows: np.ndarray) -> np.ndarray:
    r"""Dense similarity rows after the support rules (0 below ``min_support``, times
    :math:`(n_{uv} - 1)/(n_{uv} - 1 + \lambda)` with shrinkage), clipped at 1."""
    S, support = similarity.block(rows)
    if support is not None:
        S[support < similarity.min_support] = 0
        if similarity.shrinkage > 0:
            S *= shrinkage_factor(support, similarity.shrinkage)
    return np.minimum(S, 1, out=S)


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
    rows = row_indices(rows, X.shape[0])
    check_arguments(X, 1, measure, min_support, shrinkage)
    check_budget(
        3 * 8 * rows.size * X.shape[1] + 3 * 8 * rows.size * X.shape[0],
        budget_bytes,
        f"{rows.size} dense similarity rows of {X.shape[0]:,}",
        "budget_bytes",
    )
    return supported_block(prepare_measure(X, measure, np.float64, min_support, shrinkage), rows)


def prepare_measure(X, measure: str, dtype, min_support: int, shrinkage: float) -> PreparedMeasure:
    """Prepared operands of ``measure`` (copies: the input is never modified) and their block function."""
    if not sp.issparse(X):
        Y = np.array(X, dtype=dtype)
        Y *= _inverse_norms(np.einsum("ij,ij->i", Y, Y, dtype=np.float64)).astype(dtype)[:, None]
        return PreparedMeasure(lambda rows: (Y[rows] @ Y.T, None), min_support, shrinkage)
    work_dtype = np.float64 if measure == "pearson" else dtype
    X = sp.csr_matrix(X, dtype=work_dtype, copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    needs_ones = measure == "pearson" or needs_support(min_support, shrinkage)
    ones = with_data(X, np.ones(X.nnz, work_dtype), copy=False) if needs_ones else None
    ones_t = operand(ones.T.tocsr()) if needs_ones else None
    if measure == "pearson":
        return PreparedMeasure(_pearson_block(X, ones, ones_t), min_support, shrinkage)
    _centre_in_place(X, measure)
    counts = np.diff(X.indptr)
    squared_norms = np.bincount(
        np.repeat(np.arange(X.shape[0]), counts), weights=X.data.astype(np.float64) ** 2, minlength=X.shape[0]
    )
    # One value in every stored cell (a binary pattern): the cosine is n_uv / sqrt(|I_u| |I_v|),
    # so the block counts shared cells (kernels.pattern_product) and scales them once. Its ties are
    # settled exactly whatever the value's sign (every product is the value squared).
    pattern = measure == "cosine" and ones_t is None and X.nnz > 0 and bool((X.data == X.data[0]).all())
    exact_ties = exact_ties_possible(measure, shrinkage) and (pattern or not (X.data < 0).any())
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

    return PreparedMeasure(block, min_support, shrinkage, exact)


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


def exact_ties_possible(measure: str, shrinkage: float) -> bool:
    """Whether ``"cosine"`` ties are settled exactly (for a sparse X without negative values)."""
    return measure == "cosine" and shrinkage == 0


def needs_support(min_support: int, shrinkage: float) -> bool:
    return min_support > 1 or shrinkage > 0


def row_indices(rows, n: int) -> np.ndarray:
    """``rows`` as sorted unique int64 indices; ``ValueError`` outside ``0 .. n - 1``."""
    rows = np.unique(np.asarray(rows, dtype=np.int64).ravel())
    if rows.size and (rows[0] < 0 or rows[-1] >= n):
        raise ValueError(f"rows must lie in 0 .. {n - 1}, got {rows[0] if rows[0] < 0 else rows[-1]}")
    return rows


def check_arguments(X, k: int, measure: str, min_support: int, shrinkage: float) -> None:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if shrinkage < 0:
        raise ValueError(f"shrinkage must be >= 0, got {shrinkage}")
    if not sp.issparse(X) and (measure != "cosine" or needs_support(min_support, shrinkage)):
        raise ValueError("a dense X has no rated cells: use measure='cosine' without min_support/shrinkage")
