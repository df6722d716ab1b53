r"""Recency done in the user vector: what the user watched *last* decides the list.

Both recommenders read :math:`a_{uj}`, the number of the user's train ratings dated after movie j
(0: the latest; equal dates: the larger movie id counts as later;
:func:`~cfutils.lists.time_features.recency_ranks`).

* :class:`RecentKNN`, item-kNN over the user's last :math:`m` movies only:

  .. math:: \mathrm{score}(u, i) = \sum_{j :\, a_{uj} < m} s_{ji},

  with :math:`s` the binary item-kNN cosine graph of :mod:`cfutils.lists.item_knn`.
* :class:`DecayedEASE`, EASE with a recency-decayed user vector (half-life :math:`h` in items):

  .. math:: \mathrm{score}(u, i) = \sum_j x_{uj} B_{ji}, \qquad x_{uj} = 2^{-a_{uj}/h};

  :math:`h = \infty` is EASE. Unlike :class:`~cfutils.lists.ease.RecencyEASE`
  (:math:`x_{uj} = 1 + \beta 2^{-a_{uj}/h}`), old movies fade out instead of keeping weight 1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from cfutils.core.train_data import TrainData
from cfutils.lists.ease import EASE
from cfutils.lists.item_knn import ItemKNN
from cfutils.lists.time_features import train_recency_ranks


class RecentKNN(ItemKNN):
    r"""Item-kNN from the user's ``recent_items`` latest train movies (module docstring).

    A movie no recent movie has among its neighbours is not a candidate; an unknown user gets the
    fallback. The explanation names the recent movies most similar to the recommendation.
    """

    reason = "similar to what you watched last"

    def __init__(self, recent_items: int = 20, n_neighbours: int = 100, **options):
        super().__init__(n_neighbours, **options)
        self.recent_items = recent_items

    def fit_users(self, data: TrainData) -> None:
        later = train_recency_ranks(data)  # 1 + a_uj; shares the matrix's index arrays
        is_recent = (later.data <= self.recent_items).astype(np.float64)
        recent = sp.csr_matrix((is_recent, later.indices, later.indptr), shape=later.shape).copy()
        recent.eliminate_zeros()  # on the copy's own index arrays
        self.binary_ = recent

    def item_weights(self, user_idx: int, rated_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        is_recent = self.binary_[user_idx].toarray()[0][rated_idx]
        return super().item_weights(user_idx, rated_idx, movie_idx) * is_recent[None, :]


class DecayedEASE(EASE):
    r"""EASE on the decayed user vector :math:`x_{uj} = 2^{-a_{uj}/h}`, ``half_life`` = :math:`h` (module docstring).

    ``half_life`` acts at ranking time only (tune it with :func:`~cfutils.lists.evaluation.variant`
    on one fit); ``float("inf")`` gives EASE's scores.
    """

    reason = "EASE, what you watched last first"

    def __init__(self, lam: float = 500.0, half_life: float = 20.0, **options):
        super().__init__(lam, **options)
        self.half_life = half_life

    def fit_users(self, data: TrainData) -> None:
        super().fit_users(data)
        self.later_ = sp.csr_matrix(train_recency_ranks(data)[:, self.items_])

    def user_vectors(self, user_idx: np.ndarray) -> sp.csr_matrix:
        rows = self.later_[user_idx]
        rows.data = np.exp2(-(rows.data.astype(np.float64) - 1.0) / self.half_life)
        return rows
