"""The baselines every recommender is judged against: most popular, top-rated, random."""

from __future__ import annotations

import numpy as np

from cfutils.core.memory import DEFAULT_BUDGET_BYTES
from cfutils.core.train_data import TrainData
from cfutils.lists.lists import ListRecommender
from cfutils.lists.time_features import rating_clock


class PopularRecommender(ListRecommender):
    r"""Most popular: :math:`\mathrm{score}(u, i) = |\{v : r_{vi} \in \text{train}, t_u - w < d_{vi} \le t_u\}|`.

    The number of train ratings of the movie over the ``window_days`` days (``None``: all of
    train) up to the day :math:`t_u` the list is computed at. ``as_of="user"`` (default):
    :math:`t_u` is the day of the user's last train rating, so no rating dated after it is
    counted; ``as_of="train_end"``: the last day of train for everyone, which under
    ``per_user_time`` counts other users' ratings from the user's test period
    (:mod:`cfutils.lists.time_features`). The same list for everyone with the same
    :math:`t_u`, minus what each user rated. Unknown users get the fallback, the most rated
    movies of the last ``fallback_days`` days of train (default: the same window).
    """

    reason = "popular"

    def __init__(
        self,
        window_days: int | None = None,
        as_of: str = "user",
        fallback_days: int | None | str = "window",
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
    ):
        self.window_days = window_days
        self.fallback_days = window_days if fallback_days == "window" else fallback_days
        self.as_of = as_of
        self.budget_bytes = budget_bytes

    def _fit(self, data: TrainData) -> None:
        self.clock_ = rating_clock(data)

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        days = self.clock_.as_of(user_idx, self.as_of)
        return self.clock_.popularity(np.arange(self.matrix_.n_movies)[None, :], days[:, None], self.window_days)


class TopRatedRecommender(ListRecommender):
    r"""Highest damped mean: :math:`\mathrm{score}(i) = \frac{\sum_{u} r_{ui} + m\,\mu}{|U_i| + m}`.

    The movie's mean rating shrunk toward the global mean :math:`\mu` by ``damping`` = m
    pseudo-ratings, so a movie with two 5-star ratings does not top the chart. Movies with
    fewer than ``min_support`` ratings are not candidates. Cold-start users get the
    popularity fallback (``fallback_days``), like every recommender here.
    """

    reason = "highly rated"

    def __init__(
        self,
        damping: float = 10.0,
        min_support: int = 5,
        fallback_days: int | None = None,
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
    ):
        self.damping = damping
        self.min_support = min_support
        self.fallback_days = fallback_days
        self.budget_bytes = budget_bytes

    def _fit(self, data: TrainData) -> None:
        counts = self.matrix_.movie_counts
        sums = np.asarray(self.matrix_.csc.sum(axis=0, dtype=np.float64)).ravel()
        damped = (sums + self.damping * self.matrix_.global_mean) / (counts + self.damping)
        self.item_scores_ = np.where(counts >= self.min_support, damped, -np.inf)

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        return np.repeat(self.item_scores_[None, :], user_idx.size, axis=0)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a fixed, well-mixed uint64 hash of each entry."""
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class RandomRecommender(ListRecommender):
    """Uniformly random unrated movies: :math:`\\mathrm{score}(u, i) = h(\\text{seed}, u, i) \\in [0, 1)`.

    The score is a hash of (seed, user id, movie id), so a user's list depends only on
    the seed, never on which other users share the batch. The floor every model must beat.
    A user unknown to train gets the popularity fallback like every recommender, not a
    random list.
    """

    reason = "random pick"

    def __init__(self, seed: int = 0, fallback_days: int | None = None, budget_bytes: float = DEFAULT_BUDGET_BYTES):
        self.seed = seed
        self.fallback_days = fallback_days
        self.budget_bytes = budget_bytes

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        raw_users = self.matrix_.user_ids[user_idx].astype(np.uint64)
        with np.errstate(over="ignore"):
            key = _mix64(np.uint64(self.seed) * np.uint64(0x9E3779B97F4A7C15) + raw_users)
        hashed = _mix64(key[:, None] ^ self.matrix_.movie_ids.astype(np.uint64)[None, :])
        return (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)
