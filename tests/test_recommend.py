"""cfutils.lists: the list rules (never a rated movie, cold-start fallback), the baselines, and the
rating model blended with popularity against plain references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ratings_factory import random_ratings, ratings_frame, ratings_frames
from test_recommend_implicit import implicit_recommenders

from cfutils.core.train_data import TrainData
from cfutils.data.split import sample_ids, validation_cut, validation_folds
from cfutils.eval import one_standard_error
from cfutils.eval.metrics import ranking_metrics
from cfutils.lists import (
    EASE,
    FoldValidation,
    PopularRecommender,
    RandomRecommender,
    Recommender,
    TopRatedRecommender,
    candidate_counts,
    top_n_indices,
    validation_ndcg_by_user,
)
from cfutils.rating import SVD, BiasBaseline


def all_recommenders():
    return [
        Recommender(BiasBaseline()),
        Recommender(SVD(n_factors=2, n_epochs=5), popularity_weight=1.0),
        PopularRecommender(),
        TopRatedRecommender(damping=2, min_support=2),
        RandomRecommender(seed=3),
        *implicit_recommenders(),
    ]


# ---- the list rules, for every recommender ------------------------------------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ratings_frames(max_users=9, max_movies=8, min_size=4), st.integers(1, 6))
def test_lists_never_hold_a_rated_movie_and_are_as_long_as_possible(train, n):
    rated = set(zip(train["user_id"], train["movie_id"]))
    users = np.r_[np.unique(train["user_id"]), -5]  # -5: a user unknown to train
    n_movies = train["movie_id"].nunique()
    rated_count = train.groupby("user_id").size()
    for recommender in all_recommenders():
        lists = recommender.fit(train).top_n_batch(users, n)
        assert not any((u, m) in rated for u, m in zip(lists["user_id"], lists["movie_id"])), recommender
        assert set(lists["movie_id"]) <= set(train["movie_id"]), "only movies with train ratings"
        assert not lists.duplicated(["user_id", "movie_id"]).any()
        for user in users:  # candidates run short -> the fallback fills up to n
            expected = min(n, n_movies - int(rated_count.get(user, 0)))
            got = lists[lists["user_id"] == user]
            assert len(got) == expected and list(got["rank"]) == list(range(1, expected + 1))


@pytest.mark.parametrize("recommender", all_recommenders(), ids=lambda r: type(r).__name__)
def test_top_n_agrees_with_batch(recommender):
    train = random_ratings()
    recommender.fit(train)
    lists = recommender.top_n_batch(np.unique(train["user_id"]), 5)
    for user in np.unique(train["user_id"])[:8]:
        one = recommender.top_n(user, 5)
        batch = lists[lists["user_id"] == user]
        assert list(one["movie_id"]) == list(batch["movie_id"])
        np.testing.assert_allclose(one["score"], batch["score"])


def set_by_fit(estimator, fit) -> set[str]:
    """Names of the attributes that ``fit()`` adds to ``estimator`` or binds to a new object."""
    before = dict(vars(estimator))
    fit()
    return {name for name, value in vars(estimator).items() if name not in before or value is not before[name]}


@pytest.mark.parametrize("recommender", all_recommenders(), ids=lambda r: type(r).__name__)
def test_every_attribute_fit_sets_ends_in_an_underscore_and_no_parameter_does(recommender):
    train = random_ratings()
    assert not [name for name in vars(recommender) if name.endswith("_")]
    fitted = set_by_fit(recommender, lambda: recommender.fit(train))
    assert fitted and not [name for name in fitted if not name.endswith("_")]
    if hasattr(recommender, "served_"):  # the re-ranker's candidate stage follows the same rule
        stage = recommender.stage()
        fitted = set_by_fit(stage, lambda: stage.fit(TrainData(train)))
        assert fitted and not [name for name in fitted if not name.endswith("_")]


def test_new_user_gets_the_recent_popularity_fallback():
    # Movie 1: 3 old ratings; movie 2: 2 recent ones; movie 3: 1 recent one.
    train = ratings_frame([10, 11, 12, 13, 14, 15], [1, 1, 1, 2, 2, 3], [5, 5, 5, 4, 4, 4], [0, 0, 0, 95, 98, 99])
    recent = [
        Recommender(BiasBaseline(), fallback_days=10),
        PopularRecommender(window_days=10),
        TopRatedRecommender(fallback_days=10),
        RandomRecommender(fallback_days=10),
    ]
    for recommender in recent:
        lists = recommender.fit(train).top_n(999, 3)
        assert list(lists["movie_id"]) == [2, 3, 1], type(recommender).__name__
        assert lists["fallback"].all()
    assert list(PopularRecommender().fit(train).top_n(999, 3)["movie_id"]) == [1, 2, 3]


# ---- baselines ------------------------------------------------------------------------------------------


def test_popular_ranks_by_count_with_ties_to_the_smaller_id():
    train = ratings_frame([1, 2, 3, 1, 2, 1, 2, 4], [9, 9, 9, 7, 7, 8, 8, 3], [1] * 8)
    lists = PopularRecommender().fit(train)
    assert list(lists.top_n(4, 3)["movie_id"]) == [9, 7, 8]  # 7 and 8 tie at 2 ratings
    assert list(lists.top_n(1, 3)["movie_id"]) == [3]  # user 1 rated 7, 8 and 9


def test_top_rated_uses_the_damped_mean_and_minimum_support():
    # mu = 3.5 over 8 ratings. Movie 1: two 5s; movie 2: five ratings mean 3.2; movie 3: one 1.
    train = ratings_frame([1, 2, 1, 2, 3, 4, 5, 6], [1, 1, 2, 2, 2, 2, 2, 3], [5, 5, 4, 3, 3, 3, 3, 2])
    mu = train["rating"].mean()
    recommender = TopRatedRecommender(damping=3, min_support=2).fit(train)
    expected = {1: (10 + 3 * mu) / 5, 2: (16 + 3 * mu) / 8}
    lists = recommender.top_n(6, 3)  # user 6 rated only movie 3
    assert list(lists["movie_id"]) == sorted(expected, key=expected.get, reverse=True)
    np.testing.assert_allclose(lists["score"], sorted(expected.values(), reverse=True))


def test_random_is_seeded_and_independent_of_the_batch():
    train = random_ratings()
    users = np.unique(train["user_id"])
    a = RandomRecommender(seed=1).fit(train)
    together = a.top_n_batch(users, 5)
    alone = a.top_n_batch(users[3:4], 5)
    assert list(alone["movie_id"]) == list(together[together["user_id"] == users[3]]["movie_id"])
    other_seed = RandomRecommender(seed=2).fit(train).top_n_batch(users, 5)
    assert not together["movie_id"].equals(other_seed["movie_id"])


# ---- the rating model blended with popularity, against plain references ----------------------------------


class MeanModel:
    """A rating model with ``fit``: predicts the mean train rating of the movie (0 if unseen)."""

    def fit(self, train) -> MeanModel:
        ratings = train.ratings if isinstance(train, TrainData) else train
        self.means_ = ratings.groupby("movie_id")["rating"].mean()
        return self

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        assert list(pairs.columns) == ["user_id", "movie_id"]
        return self.means_.reindex(pairs["movie_id"]).fillna(0.0).to_numpy()


def slow_blend_list(model, train: pd.DataFrame, user: int, weight: float, n: int) -> list[tuple[int, float]]:
    """score(i) = model.predict((user, i)) + weight * log(1 + train count of i), one movie at a time, over
    the train movies the user did not rate; best first, ties to the smaller movie id."""
    counts = train["movie_id"].value_counts()
    rated = set(train.loc[train["user_id"] == user, "movie_id"])
    scored = []
    for movie in sorted(counts.index):
        if movie not in rated:
            predicted = model.predict(pd.DataFrame({"user_id": [user], "movie_id": [movie]}))[0]
            scored.append((-(predicted + weight * np.log(1 + counts[movie])), int(movie)))
    return [(movie, -negative) for negative, movie in sorted(scored)[:n]]


@pytest.mark.parametrize("make_model", [BiasBaseline, lambda: SVD(n_factors=3, n_epochs=5), MeanModel])
@pytest.mark.parametrize("weight", [0.0, 1.5])
def test_the_blend_ranks_every_unrated_movie_by_prediction_plus_popularity(make_model, weight):
    train = random_ratings(n_users=30, n_movies=25, n_ratings=300, seed=10)
    rec = Recommender(make_model(), popularity_weight=weight, chunk_pairs=37).fit(train)
    fitted = make_model().fit(train)
    for user in np.unique(train["user_id"])[:6]:
        expected = slow_blend_list(fitted, train, user, weight, 8)
        got = rec.top_n(user, 8)
        assert got["movie_id"].tolist() == [movie for movie, _ in expected]
        np.testing.assert_allclose(got["score"], [score for _, score in expected], rtol=1e-9)


def test_a_model_is_fit_as_a_copy_on_the_recommenders_own_train_unless_refit_is_off():
    train = random_ratings(seed=11)
    early = train[train["date"] < train["date"].median()]
    model = MeanModel()
    rec = Recommender(model).fit(early)
    assert not hasattr(model, "means_"), "the caller's model is left unfitted"
    users = rec.matrix_.user_index(np.unique(early["user_id"])[:3])
    expected = MeanModel().fit(early).predict(pd.DataFrame({"user_id": 0, "movie_id": rec.matrix_.movie_ids}))
    np.testing.assert_allclose(rec.predictions(users), np.repeat(expected[None, :], 3, axis=0))
    given = MeanModel().fit(train)
    as_given = Recommender(given, refit=False).fit(early)
    assert as_given.model_ is given


def test_tuning_the_weight_keeps_the_smallest_within_one_se_of_separately_fitted_blends():
    train = random_ratings(n_users=60, n_ratings=450, seed=9)
    folds = FoldValidation(train, "per_user_time", 0.2, n_folds=2, n=5)
    fitted = folds.fit(Recommender(BiasBaseline()))
    search = folds.search(fitted, "popularity_weight", (0.0, 1.0, 5.0))
    assert all(model.popularity_weight == 0.0 for model in fitted) and {0.0, 1.0, 5.0} <= set(search.table.index)
    by_user = {}
    for weight in search.table.index:  # each weight refit from scratch on each fold, averaged per user by hand
        per_fold = []
        for fit_part, validation in validation_folds(train, "per_user_time", 0.2, 2, lists=True):
            blend = Recommender(BiasBaseline(), popularity_weight=weight).fit(fit_part)
            users = np.unique(validation["user_id"])
            per_fold.append(validation_ndcg_by_user(blend, validation, 5))
            fold_mean = ranking_metrics(blend.top_n_batch(users, 5), validation, (5,))["ndcg@5"]
            assert per_fold[-1].mean() == pytest.approx(fold_mean)
        by_user[weight] = pd.concat(per_fold, axis=1).mean(axis=1)
        assert search.table.loc[weight, "mean"] == pytest.approx(by_user[weight].mean())
    assert search.chosen == one_standard_error(pd.DataFrame(by_user), sorted(by_user))


def test_fold_validation_keeps_the_validation_ratings_of_max_users_users():
    train = random_ratings(n_users=60, n_ratings=450, seed=9)
    every = FoldValidation(train, "per_user_time", 0.2, n_folds=2)
    some = FoldValidation(train, "per_user_time", 0.2, n_folds=2, max_users=10, seed=3)
    judged = np.unique(np.concatenate([held["user_id"] for _, held in every.folds]))  # users the folds validate
    users = set(sample_ids(judged, 10, 3))
    for all_fold, fold in zip(every.folds, some.folds):
        assert fold.train.equals(all_fold.train)  # fitting is unchanged; only who is judged
        assert set(fold.test["user_id"]) <= users and fold.test["user_id"].nunique() > 0
        assert fold.test.equals(all_fold.test[all_fold.test["user_id"].isin(users)])
    assert len(set().union(*(set(fold.test["user_id"]) for fold in some.folds))) == 10


@pytest.mark.parametrize("split", ["per_user_time", "global_time", "random"])
def test_fold_validation_scores_each_user_by_the_mean_over_the_folds_where_it_has_a_relevant_movie(split):
    train = random_ratings(n_users=60, n_movies=40, n_ratings=900, n_days=300, seed=11)
    folds = FoldValidation(train, split, 0.2, n_folds=2, seed=4, n=5)
    got = folds.score(EASE(30.0))
    # by hand: each fold's recommender fitted on its own fit part, each user's NDCG averaged in Python
    per_user: dict[int, list[float]] = {}
    for fit_part, validation in validation_folds(train, split, 0.2, 2, lists=True, seed=4):
        for user, value in validation_ndcg_by_user(EASE(30.0).fit(fit_part), validation, 5).items():
            per_user.setdefault(user, []).append(value)
    expected = pd.Series({user: sum(v) / len(v) for user, v in per_user.items()})
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False, check_index_type=False)
    assert any(len(v) == 1 for v in per_user.values()) and any(len(v) == 2 for v in per_user.values())
    # one fold is the single validation cut
    single = FoldValidation(train, split, 0.2, n_folds=1, seed=4, n=5).score(EASE(30.0))
    fit_part, validation = validation_cut(train, split, 0.2, lists=True, seed=4)
    pd.testing.assert_series_equal(
        single.sort_index(),
        validation_ndcg_by_user(EASE(30.0).fit(fit_part), validation, 5).sort_index(),
        check_names=False,
    )


class CountedCandidates(PopularRecommender):
    """A popularity list whose stage-1 candidates are the movies with a positive score."""

    def candidates(self, user_idx: np.ndarray) -> np.ndarray:
        return self.scores(user_idx) > 0


def test_candidate_counts_count_the_candidates_in_batches():
    train = random_ratings(seed=13)
    rec = CountedCandidates(window_days=20).fit(train)
    users = np.r_[np.unique(train["user_id"]), -5]  # -5: unknown to train
    expected = [int(rec.candidates(rec.matrix_.user_index([u]))[0].sum()) for u in users[:-1]]
    rec.budget_bytes = rec.matrix_.n_movies * 8 * 8 * 3  # three users per batch
    np.testing.assert_array_equal(candidate_counts(rec, users), np.r_[expected, 0])


def test_top_n_indices_matches_sorting():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, (30, 12)).astype(float)  # many ties
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    got = top_n_indices(scores, 5)
    for row, values in enumerate(scores):
        ranked = [c for c in sorted(range(12), key=lambda c: (-values[c], c)) if np.isfinite(values[c])][:5]
        assert list(got[row]) == ranked + [-1] * (5 - len(ranked))
