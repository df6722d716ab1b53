r"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data") and its recency-aware variant.

On binary interactions :math:`X` (users x movies, 1 where the user rated the movie, whatever the
stars), EASE learns an item-item weight matrix with a zero diagonal in closed form:

.. math:: P = (X^T X + \lambda I)^{-1}, \qquad B = I - P\,\mathrm{diag}(1/\mathrm{diag}(P)),
          \qquad \mathrm{score}(u, i) = \sum_j x_{uj} B_{ji}.

Cost: the Gram matrix and its inverse are two dense items x items float64 matrices
(:math:`16\,n^2` bytes, 5 GB at Netflix's 17,770 movies) and the inverse is :math:`O(n^3)`.
``max_items`` keeps the most rated movies only; the memory estimate is checked against
``budget_bytes`` before anything is allocated.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from cfutils.core.memory import DEFAULT_BUDGET_BYTES, check_budget
from cfutils.core.similarity.kernels import pattern_gram
from cfutils.core.train_data import TrainData
from cfutils.lists.fold_in import FoldIn
from cfutils.lists.item_knn import binary_item_similarity
from cfutils.lists.lists import ListRecommender
from cfutils.lists.time_features import train_recency_ranks


def ease_bytes(n_items: int) -> int:
    """Peak memory of :func:`ease_weights`: the Gram matrix and its inverse, float64."""
    return 2 * 8 * n_items * n_items


def ease_weights(X: sp.csr_matrix, lam: float, budget_bytes: float = DEFAULT_BUDGET_BYTES) -> np.ndarray:
    r""":math:`B = I - P\,\mathrm{diag}(1/\mathrm{diag}(P))`, :math:`P = (X^T X + \lambda I)^{-1}`, diagonal 0.

    ``X`` is users x items (binary: only its stored pattern is read, :math:`X^T X` being the
    co-rating counts of :func:`cfutils.core.similarity.kernels.pattern_gram`).
    :class:`cfutils.core.memory.MemoryBudgetError` when
    :func:`ease_bytes` exceeds ``budget_bytes``. :math:`X^T X + \lambda I` is symmetric positive
    definite, so :math:`P` comes from its Cholesky factor (LAPACK ``potrf``, ``potri``), in place:
    half the work of a general (LU) inverse and no second n x n array. The result is row-major, so
    that :math:`x_u B` reads B row by row. LAPACK runs on one BLAS thread: at n = 17,770 the
    multi-threaded OpenBLAS of numpy and scipy crashed the process with a segmentation fault (in a
    plain 17,770² ``gemm`` as well as in ``potrf``/``getrf``), while one thread inverts it
    (benchmarks/README.md); below a few thousand movies one thread costs under a second.
    """
    n = X.shape[1]
    check_budget(ease_bytes(n), budget_bytes, f"EASE on {n:,} movies (two {n:,}² float64 matrices)", "max_items")
    gram = pattern_gram(X)
    gram[np.diag_indices(n)] += lam
    # gram.T is the same symmetric matrix, column-major: LAPACK works on it in place.
    with threadpool_limits(1, user_api="blas"):
        factor, info = scipy.linalg.lapack.dpotrf(gram.T, lower=False, overwrite_a=True, clean=False)
        if info == 0:
            factor, info = scipy.linalg.lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"X^T X + lambda I is not positive definite (LAPACK info {info}); raise lambda")
    weights = _mirror_lower(factor.T)  # the upper triangle of a column-major array is the lower one row-major
    weights /= -np.diag(weights)[None, :]
    weights[np.diag_indices(n)] = 0.0
    weights.flags.writeable = False  # shared by every EASE fitted on the same TrainData
    return weights


def _mirror_lower(a: np.ndarray, block: int = 2048) -> np.ndarray:
    """``a`` (square, row-major) made symmetric from its lower triangle, in place, a block of rows at a time."""
    n = a.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        a[start:stop, stop:] = a[stop:, start:stop].T
        diagonal = a[start:stop, start:stop]
        diagonal[:] = np.tril(diagonal) + np.tril(diagonal, -1).T
    return a


def most_rated(counts: np.ndarray, max_items: int | None) -> np.ndarray:
    """Sorted indices of the ``max_items`` largest counts (ties: the smaller index); all when None."""
    if max_items is None or max_items >= counts.size:
        return np.arange(counts.size)
    return np.sort(np.lexsort((np.arange(counts.size), -counts))[:max_items])


class EASE(FoldIn, ListRecommender):
    r"""EASE on binary interactions: :math:`\mathrm{score}(u, i) = \sum_j x_{uj} B_{ji}` (module docstring).

    Only the ``max_items`` most rated train movies (None: all) are in the model; the others are
    not candidates, so a list whose candidates run short is filled with the fallback. An
    unknown user gets the fallback. ``lam`` is :math:`\lambda`.
    """

    reason = "EASE"

    def __init__(
        self,
        lam: float = 500.0,
        max_items: int | None = 3000,
        fallback_days: int | None = 30,
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
    ):
        self.lam = lam
        self.max_items = max_items
        self.fallback_days = fallback_days
        self.budget_bytes = budget_bytes

    def _fit(self, data: TrainData) -> None:
        self.items_ = most_rated(self.matrix_.movie_counts, self.max_items)
        self.fit_users(data)
        # Kept with the train set: EASE and its recency-aware variants fitted on the same TrainData
        # (notebook 06, the re-ranker's candidates) share one B instead of inverting again.
        self.weights_ = data.cached(
            ("ease_weights", self.lam, self.max_items), lambda: ease_weights(self.binary_, self.lam, self.budget_bytes)
        )

    def fit_users(self, data: TrainData) -> None:
        self.binary_ = data.binary if self.items_.size == self.matrix_.n_movies else data.binary[:, self.items_]

    def user_vectors(self, user_idx: np.ndarray) -> sp.csr_matrix:
        """Rows :math:`x_u` over the model's movies (binary here; weighted in :class:`RecencyEASE`)."""
        return self.binary_[user_idx]

    def item_scores(self, user_idx: np.ndarray) -> np.ndarray:
        """Dense (batch x model movies) :math:`x_u B`."""
        return np.asarray(self.user_vectors(user_idx) @ self.weights_)

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        scores = np.full((user_idx.size, self.matrix_.n_movies), -np.inf)
        scores[:, self.items_] = self.item_scores(user_idx)
        return scores

    def item_weights(self, user_idx: int, rated_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        r"""Dense (recommendations x rated) :math:`w_{ji} = x_{uj} B_{ji}` of rated movie ``rated_idx[j]``
        for ``movie_idx[i]``, so that a row sums to the score over the rated movies given
        (:class:`RecencyEASE` adds its kNN term). 0 where either movie is outside the model."""
        position = np.full(self.matrix_.n_movies, -1)
        position[self.items_] = np.arange(self.items_.size)
        rows, cols = position[movie_idx], position[rated_idx]
        weights = self.weights_[np.ix_(np.maximum(cols, 0), np.maximum(rows, 0))].T  # B_ji, one row per i
        vector = self.user_vectors(np.array([user_idx])).toarray()[0][np.maximum(cols, 0)]
        return weights * vector[None, :] * (rows >= 0)[:, None] * (cols >= 0)[None, :]


class RecencyEASE(EASE):
    r"""EASE fed with what the user watched last.

    .. math:: \mathrm{score}(u, i) = \sum_j x_{uj} B_{ji} + \gamma \sum_{j \in L_u} s_{ji},
              \qquad x_{uj} = 1 + \beta \, 2^{-a_{uj}/h},

    where :math:`a_{uj}` counts the user's train ratings after j (0: the latest), :math:`h` is
    ``half_life`` (in ratings), :math:`L_u` the user's ``recent_items`` latest movies and
    :math:`s` the binary item-kNN cosine graph (``n_neighbours``,
    :func:`~cfutils.lists.item_knn.binary_item_similarity`). :math:`\beta` =
    ``recent_weight`` and :math:`\gamma` = ``knn_weight`` act at ranking time only, so they
    can be tuned on one fit. With both 0 it is EASE.
    """

    reason = "EASE, recent movies first"

    def __init__(
        self,
        lam: float = 500.0,
        recent_weight: float = 1.0,
        half_life: float = 10.0,
        knn_weight: float = 0.0,
        recent_items: int = 20,
        n_neighbours: int = 100,
        **options,
    ):
        super().__init__(lam, **options)
        self.recent_weight = recent_weight
        self.half_life = half_life
        self.knn_weight = knn_weight
        self.recent_items = recent_items
        self.n_neighbours = n_neighbours

    def _fit(self, data: TrainData) -> None:
        super()._fit(data)
        self.similarity_ = data.cached(
            ("ease_items_knn", self.max_items, self.n_neighbours),
            lambda: binary_item_similarity(self.binary_, self.n_neighbours, self.budget_bytes),
        )

    def fit_users(self, data: TrainData) -> None:
        super().fit_users(data)
        self.later_ = sp.csr_matrix(train_recency_ranks(data)[:, self.items_])

    def user_vectors(self, user_idx: np.ndarray) -> sp.csr_matrix:
        rows = self.later_[user_idx]
        rows.data = 1.0 + self.recent_weight * np.exp2(-(rows.data.astype(np.float64) - 1.0) / self.half_life)
        return rows

    def item_scores(self, user_idx: np.ndarray) -> np.ndarray:
        scores = super().item_scores(user_idx)
        if self.knn_weight:
            recent = self.later_[user_idx]
            recent.data = (recent.data <= self.recent_items).astype(np.float64)
            scores += self.knn_weight * (recent @ self.similarity_).toarray()
        return scores

    def item_weights(self, user_idx: int, rated_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        r""":math:`w_{ji} = x_{uj} B_{ji} + \gamma\,[j \in L_u]\, s_{ji}`: EASE's weight on the recency
        weighted row plus the kNN term of the user's ``recent_items`` latest movies; a row sums to
        the score over the rated movies given. 0 where either movie is outside the model."""
        weights = super().item_weights(user_idx, rated_idx, movie_idx)
        if self.knn_weight:
            position = np.full(self.matrix_.n_movies, -1)
            position[self.items_] = np.arange(self.items_.size)
            rows, cols = position[movie_idx], position[rated_idx]
            recent = self.later_[user_idx].toarray()[0][np.maximum(cols, 0)]
            recent = (recent > 0) & (recent <= self.recent_items) & (cols >= 0)
            knn = self.similarity_[np.maximum(cols, 0)][:, np.maximum(rows, 0)].toarray().T
            weights += self.knn_weight * knn * recent[None, :] * (rows >= 0)[:, None]
        return weights
