r"""Item-kNN on binary interactions (who watched what, not the stars).

.. math:: \mathrm{score}(u, i) = \sum_{j \in I_u} s_{ji}, \qquad s_{j\cdot} = \text{the } k
          \text{ largest cosines of column } j \text{ of } X \text{ with the other columns},

with :math:`X` binary (users x movies) and :math:`I_u` the movies the user rated in train; the
graph is :func:`cfutils.core.similarity.engine.cosine_top_k` on :math:`X^T`, never a dense items x items
matrix. A movie with score 0 (no rated movie has it among its neighbours) is not a candidate.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from cfutils.core.memory import DEFAULT_BUDGET_BYTES
from cfutils.core.similarity.engine import cosine_top_k
from cfutils.core.train_data import TrainData
from cfutils.lists.fold_in import FoldIn
from cfutils.lists.lists import ListRecommender


def binary_item_similarity(binary: sp.csr_matrix, k: int, budget_bytes: float = DEFAULT_BUDGET_BYTES) -> sp.csr_matrix:
    """Items x items CSR: row j holds the ``k`` largest cosines of binary column j with the others."""
    return cosine_top_k(binary.T, k, budget_bytes=budget_bytes, dtype=np.float64).tocsr()


class ItemKNN(FoldIn, ListRecommender):
    """Binary item-kNN: the sum of the top-``n_neighbours`` cosines from the user's movies (module docstring).

    An unknown user gets the fallback.
    """

    reason = "similar to what you watched"

    def __init__(
        self, n_neighbours: int = 100, fallback_days: int | None = 30, budget_bytes: float = DEFAULT_BUDGET_BYTES
    ):
        self.n_neighbours = n_neighbours
        self.fallback_days = fallback_days
        self.budget_bytes = budget_bytes

    def _fit(self, data: TrainData) -> None:
        self.fit_users(data)
        self.similarity_ = data.neighbours(
            "movies", self.n_neighbours, binary=True, dtype=np.float64, budget_bytes=self.budget_bytes
        )

    def fit_users(self, data: TrainData) -> None:
        self.binary_ = data.binary

    def scores_of(self, vectors: sp.spmatrix) -> np.ndarray:
        r"""Dense :math:`\sum_j x_{uj} s_{ji}` of any user rows :math:`x_u` over the train movies (a
        recency-weighted or a last-k row as well as the binary one)."""
        return (vectors @ self.similarity_).toarray()

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        scores = self.scores_of(self.binary_[user_idx])
        scores[scores <= 0] = -np.inf
        return scores

    def item_weights(self, user_idx: int, rated_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        r"""Dense (recommendations x rated) :math:`w_{ji} = s_{ji}`, the cosine of rated movie
        ``rated_idx[j]`` to ``movie_idx[i]`` in the top-k graph (0 outside it); a row sums to the
        score over the rated movies given."""
        return self.similarity_[rated_idx][:, movie_idx].toarray().T
