r"""Time-based item features computed *as of* a day, so that a list never uses the future.

Under ``per_user_time`` a user's test period overlaps other users' train ratings: "the most
rated movies of the last 30 days of train" can count ratings dated after the user's last
train rating. The split allows it, a deployed system would not have them. Each feature here
takes the day :math:`t` it is computed at:

* ``popularity``: :math:`|\{v : r_{vi} \in \text{train}, d_{vi} \le t\}|`;
* ``recent popularity``: :math:`|\{v : r_{vi} \in \text{train}, t - w < d_{vi} \le t\}|`;
* ``age``: :math:`t - \min_v d_{vi}` in days, NaN when the movie's first rating is after :math:`t`;
* ``share``: a popularity over the number of *all* train ratings in the same period,
  :math:`|\{v : d_{vi} \le t\}| \,/\, |\{(v, j) : d_{vj} \le t\}|` (within the window likewise; 0 when
  the period holds no rating). How many ratings a day brings changes by an order of magnitude over the
  years of a data set, so a count as of one user's day is not comparable with a count as of another's;
  a share is.

:meth:`RatingClock.as_of` gives :math:`t` per user: ``"user"`` (default, honest) is the day of
the user's last train rating; ``"train_end"`` (the leaky version under ``per_user_time``) is
the last day of train for everyone. A user unknown to train always gets the last day of train.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cfutils.core.matrix import RatingMatrix
from cfutils.core.train_data import TrainData

AS_OF = ("user", "train_end")


def day_numbers(dates: pd.Series) -> np.ndarray:
    """Days since 1970-01-01 of each date (int64)."""
    return dates.to_numpy().astype("datetime64[D]").astype(np.int64)


class RatingClock:
    """When each movie and each user rated in train, to count ratings as of any day.

    Stores one sorted int64 key per rating, ``movie * span + (day - first_day)``; a count is two
    ``searchsorted`` calls, for any array of (movie, day) queries.
    """

    def __init__(self, train: pd.DataFrame, matrix: RatingMatrix):
        # Index arrays narrowed to int32 and each freed once used: at full Netflix size every
        # per-rating array is 320-640 MB.
        day = day_numbers(train["date"])
        self.first_day = int(day.min()) if day.size else 0
        self.last_day = int(day.max()) if day.size else 0
        self.span = self.last_day - self.first_day + 2
        # cumulative[k]: ratings of all movies dated before first_day + k (one int64 per day, not per rating)
        self.cumulative = np.concatenate([[0], np.cumsum(np.bincount(day - self.first_day, minlength=self.span))])
        self.user_last_day = np.full(matrix.n_users, self.first_day, dtype=np.int64)
        np.maximum.at(self.user_last_day, matrix.user_index(train["user_id"].to_numpy()).astype(np.int32), day)
        movie = matrix.movie_index(train["movie_id"].to_numpy()).astype(np.int32)
        self.movie_first_day = np.full(matrix.n_movies, np.iinfo(np.int64).max)
        np.minimum.at(self.movie_first_day, movie, day)
        keys = movie * np.int64(self.span)
        del movie
        keys += day - self.first_day
        del day
        keys.sort()
        self.keys = keys

    def as_of(self, user_idx: np.ndarray, as_of: str = "user") -> np.ndarray:
        """The day each user's features are computed at (see the module docstring)."""
        if as_of not in AS_OF:
            raise ValueError(f"as_of must be one of {AS_OF}, not {as_of!r}")
        user_idx = np.asarray(user_idx)
        if as_of == "train_end":
            return np.full(user_idx.shape, self.last_day, dtype=np.int64)
        return np.where(user_idx >= 0, self.user_last_day[np.maximum(user_idx, 0)], self.last_day)

    def _offset(self, day: np.ndarray) -> np.ndarray:
        return np.clip(day - self.first_day, -1, self.span - 2)

    def _rank(self, movie_idx: np.ndarray, day: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.keys, movie_idx.astype(np.int64) * self.span + self._offset(day), side="right")

    def total(self, day: np.ndarray, window_days: int | None = None) -> np.ndarray:
        """Ratings of all movies up to ``day`` (within the last ``window_days`` days if given)."""
        day = np.asarray(day)
        upto = self.cumulative[self._offset(day) + 1]
        if window_days is not None:
            upto = upto - self.cumulative[self._offset(day - window_days) + 1]
        return upto.astype(np.float64)

    def share(self, movie_idx: np.ndarray, day: np.ndarray, window_days: int | None = None) -> np.ndarray:
        """:meth:`popularity` over :meth:`total` of the same period (module docstring); 0 where that is 0."""
        movie_idx, day = np.broadcast_arrays(np.asarray(movie_idx), np.asarray(day))
        return self.popularity(movie_idx, day, window_days) / np.maximum(self.total(day, window_days), 1.0)

    def popularity(self, movie_idx: np.ndarray, day: np.ndarray, window_days: int | None = None) -> np.ndarray:
        """Ratings of each movie up to ``day`` (within the last ``window_days`` days if given);
        ``movie_idx`` and ``day`` broadcast against each other."""
        movie_idx, day = np.broadcast_arrays(np.asarray(movie_idx), np.asarray(day))
        start = day - window_days if window_days is not None else np.full(day.shape, self.first_day - 1)
        return (self._rank(movie_idx, day) - self._rank(movie_idx, start)).astype(np.float64)

    def age(self, movie_idx: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Days from each movie's first train rating to ``day``; NaN where that rating is later."""
        age = (np.asarray(day) - self.movie_first_day[np.asarray(movie_idx)]).astype(np.float64)
        return np.where(age >= 0, age, np.nan)


def recency_ranks(train: pd.DataFrame, matrix: RatingMatrix) -> sp.csr_matrix:
    """Users x movies CSR (pattern of ``matrix.csr``) holding :math:`1 + a_{uj}`, where :math:`a_{uj}`
    is the number of the user's train ratings dated after movie j (0: the latest; equal dates:
    the larger movie id counts as later). Stored off by one so the latest rating is not a zero.

    float32 values (exact: a user has far fewer than :math:`2^{24}` ratings); when ``train`` is the
    matrix's own ratings, the result shares ``matrix.csr``'s index arrays instead of copying them:
    4 bytes per rating instead of 16. Temporaries are freed as soon as they are used, since at full
    Netflix size each is 640 MB."""
    users = matrix.user_index(train["user_id"].to_numpy()).astype(np.int32)
    movies = matrix.movie_index(train["movie_id"].to_numpy()).astype(np.int32)
    days = day_numbers(train["date"])
    if days.size == 0:
        return sp.csr_matrix(matrix.csr.shape, dtype=np.float32)
    n_movies, span = np.int64(matrix.n_movies), np.int64(days.max() - days.min() + 1)
    # One int64 key per rating (user, then latest day first, then larger movie first), unique since a
    # user rates a movie once: one sort of it replaces a three-key lexsort.
    key = (users * span + (days.max() - days)) * n_movies + (n_movies - 1 - movies)
    del days
    order = np.argsort(key)
    del key
    users, movies = users[order], movies[order]
    del order
    indptr = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=matrix.n_users))])
    later = (np.arange(users.size) - indptr[users] + 1).astype(np.float32)
    by_movie = np.argsort(users * n_movies + movies)  # the CSR's order: movies ascending within a user
    del users
    later, movies = later[by_movie], movies[by_movie]
    del by_movie
    csr = matrix.csr
    if np.array_equal(indptr, csr.indptr) and np.array_equal(movies, csr.indices):
        indptr, movies = csr.indptr, csr.indices
    return sp.csr_matrix((later, movies, indptr), shape=csr.shape, copy=False)


def rating_clock(data: TrainData) -> RatingClock:
    """The :class:`RatingClock` of a train set, built once per :class:`~cfutils.core.train_data.TrainData`."""
    return data.cached("rating_clock", lambda: RatingClock(data.ratings, data.matrix))


def train_recency_ranks(data: TrainData) -> sp.csr_matrix:
    """:func:`recency_ranks` of a train set, built once per :class:`~cfutils.core.train_data.TrainData`
    (read-only: slice or copy it before changing its values)."""
    return data.cached("recency_ranks", lambda: recency_ranks(data.ratings, data.matrix))
