r"""A rating model turned into a list: its predicted rating blended with popularity (notebook 06 measures
whether a model trained for RMSE makes a good list on its own).

.. math:: \mathrm{score}(u, i) = \hat r_{ui} + \lambda \log(1 + |U_i|)

:math:`\hat r_{ui}` is the ``predict`` of a rating model of :mod:`cfutils.rating` (e.g. its
:class:`~cfutils.rating.models.SVD`, the project's one matrix factorisation, or
:class:`~cfutils.rating.models.KNNBaseline`, its one rating item-kNN), :math:`\lambda` is
``popularity_weight`` and :math:`|U_i|` the train count of movie i. A rating predictor alone favours
obscure movies with few, high ratings; the blend trades that against what people actually watch.
:math:`\lambda` only acts at ranking time, so it is tuned on one fitted model per validation fold
(:meth:`cfutils.lists.evaluation.FoldValidation.search`).

Every movie with a train rating that the user has not rated is a candidate, so a list is the
exact top of the blended score over the catalogue. Cost: one prediction per (user, movie) pair,
made ``chunk_pairs`` at a time.

Edge cases: a user unknown to train gets the fallback (the most rated movies of the last
``fallback_days`` days of train); a movie unknown to train is never a candidate; what the model
predicts for a movie or user it does not know is its own rule (its docstring).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from cfutils.core.memory import DEFAULT_BUDGET_BYTES
from cfutils.core.train_data import TrainData
from cfutils.lists.lists import ListRecommender
from cfutils.rating.models import unfitted_copy


class RatingModel(Protocol):
    """Anything with ``fit(train)`` and ``predict(pairs) -> np.ndarray`` for a frame ``[user_id, movie_id]``:
    the models of :mod:`cfutils.rating.models` (baseline, Surprise adapters, the stack)."""

    def fit(self, train: pd.DataFrame | TrainData): ...

    def predict(self, pairs: pd.DataFrame) -> np.ndarray: ...


class Recommender(ListRecommender):
    r"""A rating model blended with popularity, :math:`\hat r_{ui} + \lambda \log(1 + |U_i|)` (module docstring).

    ``model`` is a rating model; :meth:`fit` fits an unfitted copy of it on the same train
    (``model_``), so tuning on a validation cut never sees validation ratings. With
    ``refit=False`` ``model`` is used as given: it must already be fitted on the train the
    recommender is fitted on. A user unknown to train gets the fallback.
    """

    reason = "predicted rating and popularity"

    def __init__(
        self,
        model: RatingModel,
        popularity_weight: float = 0.0,
        refit: bool = True,
        fallback_days: int | None = 30,
        chunk_pairs: int = 250_000,
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
    ):
        self.model = model
        self.popularity_weight = popularity_weight
        self.refit = refit
        self.fallback_days = fallback_days
        self.chunk_pairs = chunk_pairs
        self.budget_bytes = budget_bytes

    def _fit(self, data: TrainData) -> None:
        self.model_ = unfitted_copy(self.model).fit(data) if self.refit else self.model
        self.log_popularity_ = np.log1p(self.matrix_.movie_counts.astype(np.float64))

    def predictions(self, user_idx: np.ndarray) -> np.ndarray:
        r"""Dense (batch x movies) :math:`\hat r_{ui}` of known users, ``chunk_pairs`` pairs per ``predict`` call."""
        users = np.repeat(self.matrix_.user_ids[user_idx], self.matrix_.n_movies)
        movies = np.tile(self.matrix_.movie_ids, user_idx.size)
        out = np.empty(users.size)
        for start in range(0, users.size, self.chunk_pairs):
            part = slice(start, start + self.chunk_pairs)
            pairs = pd.DataFrame({"user_id": users[part], "movie_id": movies[part]})
            out[part] = np.asarray(self.model_.predict(pairs), dtype=np.float64)
        return out.reshape(user_idx.size, self.matrix_.n_movies)

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        return self.predictions(user_idx) + self.popularity_weight * self.log_popularity_[None, :]
