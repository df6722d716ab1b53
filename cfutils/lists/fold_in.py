r"""Fold one user's changed ratings into a fitted item model, without refitting it.

EASE, item-kNN and their variants score a user with a fixed item side :math:`W` (EASE's
:math:`B`, item-kNN's cosine graph :math:`s`) applied to the user's row :math:`x_u`:

.. math:: \mathrm{score}(u, i) = \sum_j x_{uj} W_{ji}.

Folding in a user rebuilds :math:`x_u` from that user's ratings alone (binary, or recency
weighted) and keeps :math:`W`. Adding a rating of movie :math:`j` to a binary row is then the
update :math:`\mathrm{score}'(u, \cdot) = \mathrm{score}(u, \cdot) + W_{j\cdot}`; changing the
stars of a movie already rated leaves a binary row, and so the list, as it was (only the
explanation's stars change).

Against a refit from scratch on train plus the change: a new star value of a rated movie gives
exactly the refit's list (the binary matrix, hence :math:`W`, is unchanged). An added rating
also moves :math:`W` in a refit (one more co-rating in the Gram matrix, one more rater in a
movie's norm), which a fold-in ignores; for a new user's first rating under item-kNN the refit
only rescales row :math:`j` of :math:`s`, so the list is the same.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cfutils.core.matrix import RatingMatrix
from cfutils.core.train_data import TrainData


class FoldIn:
    """Mixin for list recommenders whose per-user state is built by ``fit_users(data)`` (a
    :class:`~cfutils.core.train_data.TrainData`) after the item side is fitted (module docstring)."""

    def fit_users(self, data: TrainData) -> None:
        raise NotImplementedError

    def folded_in(self, user_id: int, history: pd.DataFrame):
        """A shallow copy that knows one user, ``user_id``, whose train ratings are ``history``
        (``movie_id, rating, date``); the item side and the fallback are shared, not refit.

        Every movie of ``history`` must have a train rating (``ValueError`` otherwise): a movie
        outside the fitted model has no weights to fold in.
        """
        movie_idx = self.matrix_.movie_index(history["movie_id"].to_numpy())
        if (movie_idx < 0).any():
            unknown = history["movie_id"].to_numpy()[movie_idx < 0].tolist()
            raise ValueError(f"movies {unknown} have no train rating: the fitted model cannot use them")
        if np.unique(movie_idx).size != movie_idx.size:
            raise ValueError(f"user {user_id}'s history rates a movie twice")
        csr = sp.csr_matrix(
            (history["rating"].to_numpy(dtype=np.float32), (np.zeros(movie_idx.size, dtype=np.int32), movie_idx)),
            shape=(1, self.matrix_.n_movies),
        )
        csr.sort_indices()
        copied = copy.copy(self)
        copied.matrix_ = RatingMatrix(csr, np.array([user_id], dtype=np.int32), self.matrix_.movie_ids)
        copied.fit_users(TrainData(history.assign(user_id=user_id), copied.matrix_))
        return copied
