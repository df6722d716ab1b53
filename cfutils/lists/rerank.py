r"""Two stages: candidates from EASE and item-kNN, re-ranked by a learned ranker (XGBoost's LambdaMART).

**Stage 1, candidates.** The ``n_candidates`` best unrated movies of EASE, united with those of
binary item-kNN. No re-ranker can recover a relevant movie that is not a candidate, so the
*candidate recall* (:func:`cfutils.lists.evaluation.candidate_recall`) caps it.

**Stage 2, features of each (user, candidate) pair** (:data:`FEATURES`): the EASE and kNN scores
and ranks (rank ``n_candidates + 1`` outside a generator's list), the summed kNN similarity to the
user's ``recent_items`` latest movies, the movie's share of all train ratings so far and of those in
the last ``window_days`` days (shares, not counts: the ratings a day brings change by an order of
magnitude over a data set's years; :meth:`~cfutils.lists.time_features.RatingClock.share`), its age in
days, the user's log number of ratings, and a rating model's
prediction (:class:`cfutils.rating.models.BiasBaseline` by default; notebook 05's models plug in the same
way). The time-based ones are computed as of the user's last train rating by default
(``as_of="user"``, :mod:`cfutils.lists.time_features`); ``as_of="train_end"`` is the leaky
version under ``per_user_time``.

**Training, never on test.** :meth:`ReRanker.fit` cuts a validation part from its train by the
package's one rule for lists under the test split ``split`` (:func:`cfutils.data.split.validation_cut`
with ``lists=True``: the test split's own rule, so its labels are the kind of movies test holds
out), fits the generators on the rest, labels each validation user's candidates (1: rated
``>= threshold`` in the validation part) and fits
``xgboost.XGBRanker(objective="rank:ndcg")`` with one query group per user. It then frees that
stage and refits the generators on the whole train, which is what the lists are served from.
Within a stage, EASE, item-kNN and the time features share one matrix
(:class:`~cfutils.core.train_data.TrainData`).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import xgboost

from cfutils.core.memory import DEFAULT_BUDGET_BYTES
from cfutils.core.train_data import TrainData
from cfutils.data.split import sample_ids, validation_cut
from cfutils.lists.ease import EASE
from cfutils.lists.item_knn import ItemKNN
from cfutils.lists.lists import ListRecommender, batch_size, top_n_indices
from cfutils.lists.time_features import rating_clock, train_recency_ranks
from cfutils.rating.models import BiasBaseline

FEATURES = [
    "ease_score",
    "ease_rank",
    "knn_score",
    "knn_rank",
    "recent_similarity",
    "popularity_share",
    "recent_share",
    "age_days",
    "user_log_ratings",
    "rating_prediction",
]


def _ranks(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(top-n column indices per row, dense 1-based rank of every column; n + 1 outside the top n)."""
    top = top_n_indices(scores, n)
    ranks = np.full(scores.shape, n + 1, dtype=np.float64)
    rows, cols = np.nonzero(top >= 0)
    ranks[rows, top[rows, cols]] = cols + 1
    return top, ranks


class CandidateStage:
    """Fitted generators and the feature table of (user, candidate) pairs (module docstring)."""

    def __init__(
        self, ease: EASE, knn: ItemKNN, rating_model, n_candidates: int, recent_items: int, window_days: int, as_of: str
    ):
        self.ease, self.knn, self.rating_model = copy.deepcopy(ease), copy.deepcopy(knn), copy.deepcopy(rating_model)
        self.n_candidates, self.recent_items, self.window_days, self.as_of = (
            n_candidates,
            recent_items,
            window_days,
            as_of,
        )

    def fit(self, data: TrainData) -> CandidateStage:
        """Fit the generators and the rating model on one train set; they share its matrix, binary
        pattern and recency ranks (:class:`~cfutils.core.train_data.TrainData`)."""
        self.ease.fit(data)
        self.knn.fit(data)
        self.rating_model.fit(data)
        self.matrix_ = data.matrix
        self.clock_ = rating_clock(data)
        self.later_ = train_recency_ranks(data)
        return self

    def features(self, user_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """(row in ``user_idx``, movie index, feature frame) of every candidate of known users, by user."""
        rated = self.ease.rated_mask(user_idx)
        ease, knn = self.ease.scores(user_idx), self.knn.scores(user_idx)
        ease[rated], knn[rated] = -np.inf, -np.inf
        ease_top, ease_rank = _ranks(ease, self.n_candidates)
        knn_top, knn_rank = _ranks(knn, self.n_candidates)
        chosen = np.zeros(rated.shape, dtype=bool)
        for top in (ease_top, knn_top):
            rows, cols = np.nonzero(top >= 0)
            chosen[rows, top[rows, cols]] = True
        rows, movies = np.nonzero(chosen)
        recent = self.later_[user_idx]
        recent.data = (recent.data <= self.recent_items).astype(np.float64)
        similar = self.knn.scores_of(recent)
        days = self.clock_.as_of(user_idx, self.as_of)[rows]
        pairs = pd.DataFrame(
            {"user_id": self.matrix_.user_ids[user_idx[rows]], "movie_id": self.matrix_.movie_ids[movies]}
        )
        frame = pd.DataFrame(
            {
                "ease_score": np.where(np.isfinite(ease[rows, movies]), ease[rows, movies], np.nan),
                "ease_rank": ease_rank[rows, movies],
                "knn_score": np.where(np.isfinite(knn[rows, movies]), knn[rows, movies], 0.0),
                "knn_rank": knn_rank[rows, movies],
                "recent_similarity": similar[rows, movies],
                "popularity_share": self.clock_.share(movies, days),
                "recent_share": self.clock_.share(movies, days, self.window_days),
                "age_days": self.clock_.age(movies, days),
                "user_log_ratings": np.log1p(self.matrix_.user_counts[user_idx[rows]]),
                "rating_prediction": np.asarray(self.rating_model.predict(pairs), dtype=np.float64),
            }
        )
        return rows, movies, frame[FEATURES]

    def batched_features(
        self, user_idx: np.ndarray, budget_bytes: float
    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """:meth:`features` of any number of users, in batches sized to ``budget_bytes``."""
        size = batch_size(self.matrix_.n_movies, budget_bytes, dense_arrays=12)
        rows, movies, frames = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [pd.DataFrame(columns=FEATURES)]
        for start in range(0, user_idx.size, size):
            part_rows, part_movies, frame = self.features(user_idx[start : start + size])
            rows.append(part_rows + start)
            movies.append(part_movies)
            frames.append(frame)
        return np.concatenate(rows), np.concatenate(movies), pd.concat(frames[1:] or frames, ignore_index=True)


class ReRanker(ListRecommender):
    """Candidates from EASE and item-kNN, re-ranked by ``XGBRanker`` trained on a validation cut (module docstring).

    An unknown user gets the fallback. When the validation cut holds no relevant candidate to
    learn from, the ranker is not trained (``skipped_`` says why) and the candidates keep EASE's order.
    """

    reason = "re-ranked"

    def __init__(
        self,
        ease: EASE | None = None,
        knn: ItemKNN | None = None,
        rating_model=None,
        n_candidates: int = 100,
        recent_items: int = 20,
        window_days: int = 30,
        as_of: str = "user",
        split: str = "per_user_time",
        validation_size: float = 0.2,
        threshold: float = 4.0,
        max_train_users: int = 1500,
        n_estimators: int = 100,
        max_depth: int = 3,
        seed: int = 0,
        fallback_days: int | None = 30,
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
    ):
        self.ease = ease if ease is not None else EASE()
        self.knn = knn if knn is not None else ItemKNN()
        self.rating_model = rating_model if rating_model is not None else BiasBaseline()
        self.n_candidates, self.recent_items, self.window_days = n_candidates, recent_items, window_days
        self.as_of, self.split, self.validation_size, self.threshold = as_of, split, validation_size, threshold
        self.max_train_users, self.n_estimators, self.max_depth, self.seed = (
            max_train_users,
            n_estimators,
            max_depth,
            seed,
        )
        self.fallback_days, self.budget_bytes = fallback_days, budget_bytes

    def stage(self) -> CandidateStage:
        return CandidateStage(
            self.ease, self.knn, self.rating_model, self.n_candidates, self.recent_items, self.window_days, self.as_of
        )

    def _fit(self, data: TrainData) -> None:
        # The validation-cut stage is local to _train_ranker, so its matrices are freed before the
        # served stage is fitted on all of train: the two never hold memory at once.
        self._train_ranker(data)
        self.served_ = self.stage().fit(data)

    def _train_ranker(self, data: TrainData) -> None:
        """Fit ``ranker_`` on the candidates of a validation cut of the train data (module docstring)."""
        fit_part, validation = validation_cut(
            data.ratings, self.split, self.validation_size, lists=True, seed=self.seed
        )
        # Only the users and the relevant pairs of the validation part are needed: the rest of it is
        # freed before the stage is fitted (16M ratings at full Netflix size).
        users = np.unique(validation["user_id"].to_numpy())
        relevant = validation.loc[validation["rating"].to_numpy() >= self.threshold, ["user_id", "movie_id"]]
        del validation
        learn = self.stage().fit(TrainData(fit_part))
        users = users[learn.matrix_.user_index(users) >= 0]
        users = sample_ids(users, self.max_train_users, self.seed)
        rows, movies, frame = learn.batched_features(learn.matrix_.user_index(users), self.budget_bytes)
        keys = pd.MultiIndex.from_arrays([users[rows], learn.matrix_.movie_ids[movies]])
        label = keys.isin(pd.MultiIndex.from_frame(relevant)).astype(np.float64)
        self.ranker_, self.skipped_ = None, None
        if label.sum() == 0:
            self.skipped_ = "no relevant candidate in the validation cut: candidates keep EASE's order"
        else:
            self.ranker_ = xgboost.XGBRanker(
                objective="rank:ndcg",
                n_estimators=self.n_estimators,
                max_depth=self.max_depth,
                learning_rate=0.05,
                subsample=0.8,
                random_state=self.seed,
                n_jobs=2,
                tree_method="hist",
            )
            self.ranker_.fit(frame, label, qid=rows)
            # Scoring runs on one thread: a list's few hundred candidates take about a millisecond
            # there, while starting two threads per call cost tens of milliseconds on a busy machine.
            self.ranker_.get_booster().set_param({"nthread": 1})

    def candidates(self, user_idx: np.ndarray) -> np.ndarray:
        """Dense (batch x movies) True for the stage-1 candidates of known users."""
        rows, movies, _ = self.served_.features(user_idx)
        mask = np.zeros((user_idx.size, self.matrix_.n_movies), dtype=bool)
        mask[rows, movies] = True
        return mask

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        rows, movies, frame = self.served_.features(user_idx)
        scores = np.full((user_idx.size, self.matrix_.n_movies), -np.inf)
        if self.ranker_ is None:
            scores[rows, movies] = frame["ease_score"].fillna(-np.inf).to_numpy()
        else:
            scores[rows, movies] = self.ranker_.get_booster().inplace_predict(frame.to_numpy(np.float32))
        return scores

    def item_weights(self, user_idx: int, rated_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        r"""EASE's :math:`w_{ji} = x_{uj} B_{ji}` (:meth:`cfutils.lists.ease.EASE.item_weights`): the ranker's
        trees have no per-movie weights, so a re-ranked movie is explained by the candidate
        generator that weighs rated movies."""
        return self.served_.ease.item_weights(user_idx, rated_idx, movie_idx)

    def feature_importance(self) -> pd.Series:
        """Gain of each feature in the ranker (empty when it was not trained)."""
        if self.ranker_ is None:
            return pd.Series(dtype=np.float64)
        gain = self.ranker_.get_booster().get_score(importance_type="gain")
        return pd.Series({name: gain.get(name, 0.0) for name in FEATURES}).sort_values(ascending=False)
