r"""The list machinery every recommender shares: ``fit`` / ``top_n`` / ``top_n_batch``, the
cold-start fallback, tie-breaking and batching. Titles and explanations are the presentation
layer's (:mod:`cfutils.present.explain`), built from this output.

Every recommender is fit on a train ratings frame and answers two calls:

* ``top_n(user_id, n)``: one user's list as a frame ``[movie_id, score, fallback]``;
* ``top_n_batch(user_ids, n)``: the long frame ``[user_id, rank, movie_id, score]`` that
  :func:`cfutils.eval.metrics.ranking_metrics` evaluates.

Rules shared by all of them:

* A movie the user rated in train is never recommended.
* Ties in score go to the smaller movie id, so every list is reproducible.
* A user unknown to train (cold start) gets the *fallback*: the most rated movies of the
  last ``fallback_days`` days of train. Recent popularity is what a new visitor is most
  likely to watch next. Every recommender serves new users this same list.
* A movie with no train rating is never a candidate: no model here can recommend it.
* Padding: when fewer than ``n`` movies are left to recommend, the list is shorter.
* When a recommender's own candidates run short, the list is filled with the fallback,
  whose rows have ``fallback = True``; their ``score`` is the fallback's
  rating count, on another scale than the recommender's own score.

Fitted attributes follow scikit-learn's convention, as the rating models of :mod:`cfutils.rating.models`
do: every attribute ``fit`` sets ends in ``_`` (``matrix_``, ``weights_``, ``served_``), and the
constructor's parameters never do.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cfutils.core.matrix import RatingMatrix
from cfutils.core.memory import DEFAULT_BUDGET_BYTES, check_budget
from cfutils.core.train_data import TrainData, as_train_data

LIST_COLUMNS = ["movie_id", "score", "fallback"]
BATCH_COLUMNS = ["user_id", "rank", "movie_id", "score"]


def top_n_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Column indices of the ``n`` largest finite scores of each row, best first, padded with -1.

    Ties go to the smaller column index. ``-inf`` and NaN mark columns that may not be
    chosen. Costs one ``np.partition`` per row plus a sort of the (few) columns at or
    above the n-th largest value, never a full sort of the row.
    """
    n_rows, n_cols = scores.shape
    out = np.full((n_rows, n), -1, dtype=np.int64)
    if n_cols == 0 or n == 0:
        return out
    clean = np.where(np.isnan(scores), -np.inf, scores)
    kth = -np.partition(-clean, min(n, n_cols) - 1, axis=1)[:, min(n, n_cols) - 1]
    rows, cols = np.nonzero((clean >= kth[:, None]) & np.isfinite(clean))
    order = np.lexsort((cols, -clean[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(n_rows))
    rank = np.arange(rows.size) - starts[rows]
    keep = rank < n
    out[rows[keep], rank[keep]] = cols[keep]
    return out


def batch_size(n_movies: int, budget_bytes: float, dense_arrays: int = 8) -> int:
    """Users per batch so that ``dense_arrays`` float64 arrays of (batch x movies) fit the budget."""
    per_user = max(n_movies, 1) * 8 * dense_arrays
    check_budget(per_user, budget_bytes, "scoring one user against every movie", "budget_bytes")
    return int(max(1, min(4096, budget_bytes // per_user)))


def popularity_scores(train: pd.DataFrame, matrix: RatingMatrix, window_days: int | None) -> np.ndarray:
    """Number of train ratings of each movie (compact order) in the last ``window_days`` days of train (None = all)."""
    recent = train
    if window_days is not None and len(train):
        recent = train[train["date"] > train["date"].max() - pd.Timedelta(days=window_days)]
    counts = np.bincount(matrix.movie_index(recent["movie_id"].to_numpy()), minlength=matrix.n_movies)
    return counts.astype(np.float64)


def as_user_ids(user_ids: Iterable[int]) -> np.ndarray:
    """Any iterable of raw user ids as an int64 array."""
    return np.asarray(list(user_ids) if not isinstance(user_ids, np.ndarray) else user_ids, dtype=np.int64)


class ListRecommender:
    """Shared ``top_n`` / ``top_n_batch`` on top of a subclass's dense batch scores.

    Subclasses implement ``_fit(data)`` (``data`` a :class:`~cfutils.core.train_data.TrainData`) and
    ``scores(user_idx) -> (batch x movies)`` (``-inf`` = not a candidate) for users known to train;
    unknown users get the fallback. ``reason`` says in a few words what the score means (the
    presentation layer shows it where no rated movie explains a recommendation).
    """

    budget_bytes: float = DEFAULT_BUDGET_BYTES
    fallback_days: int | None = None
    reason = ""

    def fit(self, train: pd.DataFrame | TrainData):
        """Fit on a train ratings frame or a :class:`~cfutils.core.train_data.TrainData` (whose matrix and
        binary pattern every recommender fitted on it shares). Returns self."""
        data = as_train_data(train)
        self.matrix_ = data.matrix
        self.fallback_scores_ = popularity_scores(data.ratings, self.matrix_, self.fallback_days)
        self._fit(data)
        return self

    def _fit(self, data: TrainData) -> None:
        pass

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def rated_mask(self, user_idx: np.ndarray) -> np.ndarray:
        """Dense (batch x movies) True where the user rated the movie in train; all False for new users."""
        rated = np.zeros((user_idx.size, self.matrix_.n_movies), dtype=bool)
        known = np.flatnonzero(user_idx >= 0)
        if known.size:
            sub = self.matrix_.csr[user_idx[known]]
            rated[np.repeat(known, np.diff(sub.indptr)), sub.indices] = True
        return rated

    def _lists(self, user_idx: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(movie_idx, score, from_fallback) arrays of shape (batch, n), -1 / NaN padded."""
        rated = self.rated_mask(user_idx)
        scores = np.repeat(self.fallback_scores_[None, :], user_idx.size, axis=0)
        known = user_idx >= 0
        if known.any():
            scores[known] = self.scores(user_idx[known])
        scores[rated] = -np.inf
        chosen = top_n_indices(scores, n)
        from_fallback = np.repeat(~known[:, None], n, axis=1) & (chosen >= 0)
        short = np.flatnonzero(chosen[:, -1] < 0) if n else np.array([], dtype=np.int64)
        if short.size:
            fill = np.where(rated[short], -np.inf, self.fallback_scores_[None, :])
            rows, ranks = np.nonzero(chosen[short] >= 0)
            fill[rows, chosen[short][rows, ranks]] = -np.inf  # already in the list
            extra = top_n_indices(fill, n)
            for row, user_row in enumerate(short):  # only users with too few candidates
                have = int((chosen[user_row] >= 0).sum())
                add = extra[row, : n - have]
                chosen[user_row, have:] = add
                from_fallback[user_row, have:] = add >= 0
        picked = np.take_along_axis(scores, np.maximum(chosen, 0), axis=1)
        fallback_picked = self.fallback_scores_[np.maximum(chosen, 0)]
        score = np.where(chosen < 0, np.nan, np.where(from_fallback, fallback_picked, picked))
        return chosen, score, from_fallback

    def top_n_batch(self, user_ids: Iterable[int], n: int = 10, progress: bool = False) -> pd.DataFrame:
        """Lists of many users as the long frame ``[user_id, rank, movie_id, score]`` (rank 1-based).

        Users are processed in batches sized to ``budget_bytes``; padding is dropped. ``score``
        is the recommender's score on its own rows and the fallback's recent rating count on
        rows filled from the fallback: ranks are consistent, values are not comparable.
        """
        user_ids = as_user_ids(user_ids)
        size = batch_size(self.matrix_.n_movies, self.budget_bytes)
        parts = []
        for start in tqdm(range(0, user_ids.size, size), desc="top-N", unit="batch", disable=not progress):
            batch = user_ids[start : start + size]
            chosen, score, _ = self._lists(self.matrix_.user_index(batch), n)
            rows, ranks = np.nonzero(chosen >= 0)
            parts.append(
                pd.DataFrame(
                    {
                        "user_id": batch[rows].astype(np.int32),
                        "rank": (ranks + 1).astype(np.int16),
                        "movie_id": self.matrix_.movie_ids[chosen[rows, ranks]],
                        "score": score[rows, ranks],
                    }
                )
            )
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=BATCH_COLUMNS)

    def top_n(self, user_id: int, n: int = 10) -> pd.DataFrame:
        """One user's list: ``[movie_id, score, fallback]``, best first; ``fallback`` is True on rows
        filled from the fallback. A user unknown to train gets the fallback list."""
        chosen, score, from_fallback = self._lists(self.matrix_.user_index([user_id]), n)
        keep = chosen[0] >= 0
        return pd.DataFrame(
            {
                "movie_id": self.matrix_.movie_ids[chosen[0][keep]],
                "score": score[0][keep],
                "fallback": from_fallback[0][keep],
            }
        )


def candidate_counts(recommender, user_ids: Iterable[int], progress: bool = False) -> np.ndarray:
    """Number of stage-1 candidates (``recommender.candidates(user_idx)``, a dense boolean batch x
    movies array) of each raw user id; 0 for a user unknown to train. Batches follow ``budget_bytes``."""
    user_idx = recommender.matrix_.user_index(as_user_ids(user_ids))
    counts = np.zeros(user_idx.size, dtype=np.int64)
    known = np.flatnonzero(user_idx >= 0)
    size = batch_size(recommender.matrix_.n_movies, recommender.budget_bytes)
    for start in tqdm(range(0, known.size, size), desc="candidates", unit="batch", disable=not progress):
        rows = known[start : start + size]
        counts[rows] = recommender.candidates(user_idx[rows]).sum(axis=1)
    return counts
