""" "Because you rated X (4★), Y (5★)": explanations from the rated movies that weigh most in a score.

An item-based recommender's score is a sum over the user's rated movies j of a weight
:math:`w_{ji}` (a similarity, an EASE coefficient). The explanation of a recommended movie i
names the ``explain_with`` rated movies with the largest positive :math:`w_{ji}` (ties: the
smaller movie index), with the user's stars.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cfutils.lists.lists import FALLBACK_REASON


def because_you_rated(
    weights: np.ndarray, names_of: Callable[[np.ndarray], list[str]], top: int, otherwise: str
) -> list[str]:
    """One reason per row of ``weights`` (recommendations x rated movies), naming the ``top`` rated
    movies j of largest positive weight (ties: smaller j); ``otherwise`` where none is positive.
    ``names_of(js)`` names rated movies ``js``; it is called once, for the movies some reason names."""
    picks = [[j for j in np.lexsort((np.arange(row.size), -row))[:top] if row[j] > 0] for row in weights]
    needed = np.unique(np.array([j for pick in picks for j in pick], dtype=np.int64))
    name = dict(zip(needed.tolist(), names_of(needed)))
    return ["because you rated " + ", ".join(name[j] for j in pick) if pick else otherwise for pick in picks]


class ExplainedByRatedMovies:
    """Mixin for :class:`~cfutils.lists.lists.ListRecommender` subclasses whose score is a
    weighted sum over rated movies: they define ``item_weights(user_idx, rated_idx, movie_idx)``,
    a dense (recommendations x rated) array of :math:`w_{ji}`."""

    explain_with = 2
    unexplained_reason = "users with similar taste"

    def item_weights(self, user_idx: int, rated_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def explain(self, user_idx: int, movie_idx: np.ndarray, from_fallback: np.ndarray) -> list[str]:
        if user_idx < 0:
            return [FALLBACK_REASON] * movie_idx.size
        row = self.matrix_.csr[user_idx]
        rated, stars = row.indices, row.data
        weights = self.item_weights(user_idx, rated, movie_idx)

        def names_of(js: np.ndarray) -> list[str]:
            titles = self.title_table_.titles_of(self.matrix_.movie_ids[rated[js]])
            return [f"{title} ({star:g}★)" for title, star in zip(titles, stars[js])]

        reasons = because_you_rated(weights, names_of, self.explain_with, self.unexplained_reason)
        return [FALLBACK_REASON if fallback else reason for reason, fallback in zip(reasons, from_fallback)]
