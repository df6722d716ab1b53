"""cfutils.lists: the list rules (never a rated movie, cold-start fallback), the baselines, the
scorers against plain references, and the explanations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ratings_factory import random_ratings, ratings_frame, ratings_frames
from test_recommend_implicit import implicit_recommenders

from cfutils.core.memory import MemoryBudgetError
from cfutils.core.train_data import TrainData
from cfutils.data import split
from cfutils.data.split import make_split
from cfutils.lists import (
    FALLBACK_REASON,
    PopularRecommender,
    RandomRecommender,
    Recommender,
    TopRatedRecommender,
    candidate_counts,
    rating_blend,
    top_n_indices,
    tune_popularity_weight,
)

SMALL = dict(n_neighbours=3, n_factors=2, n_mf_candidates=3)


def all_recommenders():
    return [
        Recommender(**SMALL),
        Recommender(scorer="mf", popularity_weight=1.0, **SMALL),
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
        Recommender(fallback_days=10, **SMALL),
        PopularRecommender(window_days=10),
        TopRatedRecommender(fallback_days=10),
        RandomRecommender(fallback_days=10),
    ]
    for recommender in recent:
        lists = recommender.fit(train).top_n(999, 3)
        assert list(lists["movie_id"]) == [2, 3, 1], type(recommender).__name__
        assert (lists["because"] == FALLBACK_REASON).all()
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


# ---- the scorers against plain references ---------------------------------------------------------------


def test_item_knn_score_matches_a_loop_over_the_formula():
    train = random_ratings(seed=4)
    rec = Recommender(n_neighbours=4, n_factors=2).fit(train)
    m, sim = rec.matrix_, rec.similarity_.toarray()
    stars = m.csr.toarray()
    baseline = m.global_mean + rec.b_user_[:, None] + rec.b_item_[None, :]
    for u in range(0, m.n_users, 7):
        for i in range(m.n_movies):
            num = den = 0.0
            for j in range(m.n_movies):
                if stars[u, j] and sim[i, j]:
                    num += sim[i, j] * (stars[u, j] - baseline[u, j])
                    den += sim[i, j]
            expected = baseline[u, i] + (num / den if den else 0.0)
            assert rec.item_knn_scores(np.array([u]), np.array([i]))[0] == pytest.approx(expected, abs=1e-6)


def test_similarity_graph_is_symmetric_and_holds_each_movies_top_k():
    train = random_ratings(seed=5)
    rec = Recommender(n_neighbours=3).fit(train)
    sim = rec.similarity_.toarray()
    np.testing.assert_allclose(sim, sim.T)
    assert ((sim > 0).sum(axis=1) >= 3).all()


@pytest.mark.parametrize("dense_svd_max_cells", [10**9, 0], ids=["lapack", "arpack"])
def test_mf_score_is_the_rank_f_svd_of_the_residuals(monkeypatch, dense_svd_max_cells):
    monkeypatch.setattr(rating_blend, "DENSE_SVD_MAX_CELLS", dense_svd_max_cells)
    train = random_ratings(seed=6)
    rec = Recommender(n_factors=3, scorer="mf").fit(train)
    m = rec.matrix_
    residual = rec._residuals_.toarray()
    u, s, vt = np.linalg.svd(residual)
    low_rank = (u[:, :3] * s[:3]) @ vt[:3]
    users, movies = np.meshgrid(np.arange(m.n_users), np.arange(m.n_movies), indexing="ij")
    got = rec.mf_scores(users.ravel(), movies.ravel()).reshape(users.shape)
    np.testing.assert_allclose(got, m.global_mean + rec.b_user_[:, None] + rec.b_item_[None, :] + low_rank, atol=1e-6)


class MovieIdModel:
    """A stand-in for a notebook-05 model: predicts ``movie_id / 100`` for every pair."""

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        assert list(pairs.columns) == ["user_id", "movie_id"]
        return pairs["movie_id"].to_numpy() / 100.0


def test_a_model_re_ranks_the_candidates():
    train = random_ratings(seed=7)
    rec = Recommender(scorer=MovieIdModel(), **SMALL).fit(train)
    user = int(train["user_id"].iloc[0])
    user_idx = rec.matrix_.user_index([user])
    candidates = rec.matrix_.movie_ids[np.flatnonzero(rec.candidates(user_idx)[0])]
    lists = rec.top_n(user, 4)
    expected = sorted(candidates, reverse=True)[:4]  # the model's best candidates, not the best movies
    assert list(lists["movie_id"][: len(expected)]) == expected
    np.testing.assert_allclose(lists["score"][: len(expected)], np.array(expected) / 100)


def test_top_n_indices_matches_sorting():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, (30, 12)).astype(float)  # many ties
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    got = top_n_indices(scores, 5)
    for row, values in enumerate(scores):
        ranked = [c for c in sorted(range(12), key=lambda c: (-values[c], c)) if np.isfinite(values[c])][:5]
        assert list(got[row]) == ranked + [-1] * (5 - len(ranked))


# ---- explanations and titles ----------------------------------------------------------------------------


def test_explanation_names_a_movie_the_user_liked():
    train = random_ratings(seed=8, n_ratings=500)
    titles = pd.DataFrame(
        {
            "year": pd.array([1990 + m % 20 for m in range(200)], dtype="Int32"),
            "title": [f"Film {m}" for m in range(200)],
        },
        index=pd.Index(np.arange(200, dtype=np.int32), name="movie_id"),
    )
    rec = Recommender(**SMALL).fit(train, titles)
    explained = 0
    for user in np.unique(train["user_id"])[:5]:
        lists = rec.top_n(user, 5)
        mine = train[train["user_id"] == user]
        liked = mine[mine["rating"] >= min(mine["rating"].mean(), 4.0)]
        liked_titles = {f"Film {m} ({r:g}★)" for m, r in zip(liked["movie_id"], liked["rating"])}
        assert list(lists["title"]) == [f"Film {m}" for m in lists["movie_id"]]
        for because in lists["because"]:
            assert because.startswith("because you rated ") or because in (rec.unexplained_reason, FALLBACK_REASON)
            named = because.removeprefix("because you rated ").split(", ") if because.startswith("because") else []
            assert set(named) <= liked_titles
            explained += bool(named)
    assert explained > 0, "no recommendation was explained by a rated movie"


def test_tuning_picks_the_best_grid_weight_on_a_time_split_of_train_only(monkeypatch):
    train = random_ratings(n_users=60, n_ratings=450, seed=9)
    truths = []

    def spy(lists, truth, ks, threshold):
        truths.append(truth)
        return real(lists, truth, ks, threshold)

    real = rating_blend.ranking_metrics
    monkeypatch.setattr(rating_blend, "ranking_metrics", spy)
    best, table = tune_popularity_weight(Recommender(**SMALL), train, weights=(0.0, 1.0, 5.0))
    assert list(table["popularity_weight"]) == [0.0, 1.0, 5.0]
    assert best == table["popularity_weight"].iloc[int(table["ndcg@10"].to_numpy().argmax())]
    _, latest = make_split(train, "per_user_time", test_size=0.2)  # each user's latest ratings in train
    for truth in truths:
        pd.testing.assert_frame_equal(truth.reset_index(drop=True), latest.reset_index(drop=True))


def test_tuning_the_weight_cuts_validation_by_the_split_rule(monkeypatch):
    train = random_ratings(n_users=60, n_ratings=450, seed=9)
    rules, truths = [], []

    def rule(method, **options):
        rules.append((method, options))
        return real_rule(method, **options)

    def spy(lists, truth, ks, threshold):
        truths.append(truth)
        return real_metrics(lists, truth, ks, threshold)

    real_rule, real_metrics = split.validation_split_for, rating_blend.ranking_metrics
    monkeypatch.setattr(split, "validation_split_for", rule)
    monkeypatch.setattr(rating_blend, "ranking_metrics", spy)
    tune_popularity_weight(Recommender(**SMALL), train, weights=(0.0,), split="random", seed=5)
    _, held_out = make_split(train, "random", test_size=0.2, seed=5)  # lists validate by the test split's own rule
    assert rules == [("random", {"lists": True})]
    pd.testing.assert_frame_equal(truths[0].reset_index(drop=True), held_out.reset_index(drop=True))


@pytest.mark.parametrize("weight", [0.0, 2.0])
def test_mf_candidates_lose_nothing_against_ranking_every_movie(weight):
    train = random_ratings(n_users=50, n_movies=40, n_ratings=600, seed=10)
    rec = Recommender(scorer="mf", n_factors=3, n_mf_candidates=10, popularity_weight=weight).fit(train)
    movies = rec.matrix_.movie_ids
    for user in np.unique(train["user_id"])[:10]:
        scores = rec.score(pd.DataFrame({"user_id": user, "movie_id": movies}))
        scores[np.isin(movies, train.loc[train["user_id"] == user, "movie_id"])] = -np.inf
        exhaustive = movies[top_n_indices(scores[None, :], 10)[0]]
        assert list(rec.top_n(user, 10)["movie_id"]) == list(exhaustive)


class MeanModel:
    """A model with ``fit``: predicts the mean train rating of the movie (0 if unseen)."""

    def fit(self, train: pd.DataFrame) -> MeanModel:
        self.means_ = train.groupby("movie_id")["rating"].mean()
        return self

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        return self.means_.reindex(pairs["movie_id"]).fillna(0.0).to_numpy()


def test_a_model_with_fit_is_fit_on_the_recommenders_own_train():
    train = random_ratings(seed=11)
    model = MeanModel()
    early = train[train["date"] < train["date"].median()]
    rec = Recommender(scorer=model, **SMALL).fit(early)
    assert not hasattr(model, "means_"), "the caller's model is left unfitted"
    pairs = pd.DataFrame({"user_id": early["user_id"], "movie_id": early["movie_id"]})
    np.testing.assert_allclose(rec.score(pairs), MeanModel().fit(early).predict(pairs))


@pytest.mark.parametrize("scorer", ["item_knn", "mf"])
def test_score_is_the_same_in_many_small_batches_and_fails_clearly_without_memory(scorer):
    train = random_ratings(n_users=40, n_movies=25, seed=12)
    rec = Recommender(scorer=scorer, n_neighbours=4, n_factors=3).fit(train)
    rng = np.random.default_rng(0)
    pairs = pd.DataFrame(
        {"user_id": rng.choice(train["user_id"].unique(), 300), "movie_id": rng.choice(train["movie_id"].unique(), 300)}
    )
    whole = rec.score(pairs)
    rec.budget_bytes = 25 * 8 * 4 * 2  # two users (item-kNN) or a few pairs (MF) per batch
    np.testing.assert_array_equal(rec.score(pairs), whole)
    u, i = rec.matrix_.user_index(pairs["user_id"].to_numpy()), rec.matrix_.movie_index(pairs["movie_id"].to_numpy())
    reference = [
        rec.item_knn_scores(u[k : k + 1], i[k : k + 1])[0]
        if scorer == "item_knn"
        else rec.mf_scores(u[k : k + 1], i[k : k + 1])[0]
        for k in range(len(pairs))
    ]
    np.testing.assert_allclose(whole, np.array(reference) + rec.popularity_weight * rec.log_popularity_[i])
    rec.budget_bytes = 16
    with pytest.raises(MemoryBudgetError, match="budget_bytes"):
        rec.score(pairs)


def test_candidate_counts_count_the_candidates_in_batches():
    train = random_ratings(seed=13)
    rec = Recommender(**SMALL).fit(train)
    users = np.r_[np.unique(train["user_id"]), -5]  # -5: unknown to train
    expected = rec.candidates(rec.matrix_.user_index(users[:-1])).sum(axis=1)
    rec.budget_bytes = 25 * 8 * 8 * 3  # three users per batch
    np.testing.assert_array_equal(candidate_counts(rec, users), np.r_[expected, 0])


def test_tuning_scores_only_a_seeded_sample_of_validation_users(monkeypatch):
    train = random_ratings(n_users=60, n_ratings=450, seed=9)
    seen = []

    def spy(lists, truth, ks, threshold):
        seen.append((set(lists["user_id"]), set(truth["user_id"])))
        return real(lists, truth, ks, threshold)

    real = rating_blend.ranking_metrics
    monkeypatch.setattr(rating_blend, "ranking_metrics", spy)
    tune_popularity_weight(Recommender(**SMALL), train, weights=(0.0, 1.0), max_users=7, seed=1)
    first = seen[0][1]
    assert len(first) == 7 and all(lists <= truth == first for lists, truth in seen)
    seen.clear()
    tune_popularity_weight(Recommender(**SMALL), train, weights=(0.0,), max_users=7, seed=1)
    assert seen[0][1] == first, "the sample depends on the seed only"
