"""cfutils.lists: EASE, binary item-kNN, the recency variant, ALS/BPR, the time features, the
re-ranker and the evaluation helpers, each against a slow, obviously right reference."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from hypothesis import given, settings
from ratings_factory import random_ratings as shared_random_ratings
from ratings_factory import ratings_frame, ratings_frames
from threadpoolctl import threadpool_info, threadpool_limits

import cfutils.data.split
from cfutils.core.matrix import RatingMatrix
from cfutils.core.memory import MemoryBudgetError
from cfutils.core.train_data import TrainData
from cfutils.lists import PopularRecommender
from cfutils.lists.ease import EASE, RecencyEASE, _mirror_lower
from cfutils.lists.evaluation import candidate_recall, example_users, list_reports, variant
from cfutils.lists.factors import ALS, BPR
from cfutils.lists.item_knn import ItemKNN
from cfutils.lists.rerank import FEATURES, ReRanker
from cfutils.lists.time_features import RatingClock, day_numbers, recency_ranks


def random_ratings(n_users=30, n_movies=20, seed=0) -> pd.DataFrame:
    """The shared factory at this module's size: 35 % of a 30 x 20 grid, over 200 days."""
    return shared_random_ratings(n_users, n_movies, round(0.35 * n_users * n_movies), seed=seed, n_days=200)


def implicit_recommenders():
    return [
        EASE(lam=2.0, max_items=None),
        EASE(lam=2.0, max_items=4),
        ItemKNN(n_neighbours=3),
        RecencyEASE(
            lam=2.0, recent_weight=1.0, half_life=2.0, knn_weight=0.3, recent_items=3, n_neighbours=3, max_items=None
        ),
        ALS(factors=3, iterations=3),
        BPR(factors=3, iterations=5),
        ReRanker(EASE(2.0, None), ItemKNN(3), n_candidates=4, n_estimators=5, split="per_user_time"),
    ]


def dense_binary(rec) -> np.ndarray:
    return (rec.matrix_.csr.toarray() != 0).astype(float)


def ranked(scores: np.ndarray, allowed: np.ndarray, n: int) -> list[int]:
    """Column indices of the n best allowed finite scores, ties to the smaller index (a plain sort)."""
    order = sorted(
        (c for c in range(scores.size) if allowed[c] and np.isfinite(scores[c])), key=lambda c: (-scores[c], c)
    )
    return order[:n]


@pytest.mark.parametrize("recommender", implicit_recommenders(), ids=lambda r: type(r).__name__)
def test_a_new_user_gets_the_same_fallback_from_every_recommender(recommender):
    train = random_ratings(seed=13)
    fallback = PopularRecommender(window_days=30).fit(train).top_n(999, 6)
    got = recommender.fit(train).top_n(999, 6)
    assert list(got["movie_id"]) == list(fallback["movie_id"]) and got["fallback"].all()


# ---- EASE and item-kNN against their formulas ------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.5, 10.0])
def test_ease_matches_the_dense_closed_form(lam):
    rec = EASE(lam=lam, max_items=None).fit(random_ratings(seed=1))
    X = dense_binary(rec)
    P = np.linalg.inv(X.T @ X + lam * np.eye(X.shape[1]))
    B = np.eye(X.shape[1]) - P / np.diag(P)[None, :]
    np.testing.assert_allclose(rec.weights_, B, atol=1e-10)
    assert np.all(np.diag(rec.weights_) == 0)
    for u in range(0, rec.matrix_.n_users, 4):
        expected = ranked(X[u] @ B, X[u] == 0, 5)
        got = rec.top_n_batch([rec.matrix_.user_ids[u]], 5)["movie_id"]
        assert list(got) == list(rec.matrix_.movie_ids[expected])


def test_ease_inverts_on_one_blas_thread(monkeypatch):
    """Multi-threaded OpenBLAS crashed the process at 17,770 movies; one thread did not (ease_weights)."""
    seen = []
    factorise = scipy.linalg.lapack.dpotrf

    def recording(*args, **kwargs):
        seen.extend(pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas")
        return factorise(*args, **kwargs)

    monkeypatch.setattr(scipy.linalg.lapack, "dpotrf", recording)
    with threadpool_limits(2, user_api="blas"):
        EASE(2.0, None).fit(random_ratings(seed=3))
    assert seen and set(seen) == {1}


def test_ease_keeps_the_most_rated_movies_and_checks_its_memory():
    train = random_ratings(seed=2)
    rec = EASE(lam=1.0, max_items=5).fit(train)
    counts = train["movie_id"].value_counts()
    top = sorted(counts.index, key=lambda m: (-counts[m], m))[:5]
    assert sorted(rec.matrix_.movie_ids[rec.items_]) == sorted(top)
    with pytest.raises(MemoryBudgetError, match="max_items"):
        EASE(max_items=None, budget_bytes=1000).fit(train)


def test_item_knn_matches_a_loop_over_cosines():
    k = 3
    rec = ItemKNN(n_neighbours=k).fit(random_ratings(seed=3))
    X = dense_binary(rec)
    n = X.shape[1]
    S = np.zeros((n, n))
    for j in range(n):
        cos = [
            (X[:, j] @ X[:, i]) / np.sqrt((X[:, j] @ X[:, j]) * (X[:, i] @ X[:, i])) if i != j else -1 for i in range(n)
        ]
        for i in sorted((i for i in range(n) if i != j and cos[i] > 0), key=lambda i: (-cos[i], i))[:k]:
            S[j, i] = cos[i]
    for u in range(rec.matrix_.n_users):
        scores = np.array([sum(S[j, i] for j in range(n) if X[u, j]) for i in range(n)])
        scores[scores <= 0] = -np.inf
        got = rec.top_n_batch([rec.matrix_.user_ids[u]], 4)
        own = got["score"].to_numpy()[: len(ranked(scores, X[u] == 0, 4))]
        assert list(got["movie_id"][: own.size]) == list(rec.matrix_.movie_ids[ranked(scores, X[u] == 0, 4)])
        np.testing.assert_allclose(own, np.sort(scores[X[u] == 0])[::-1][: own.size], rtol=1e-6)


def test_recency_ease_weights_the_latest_ratings_as_its_formula():
    train = random_ratings(seed=4)
    rec = RecencyEASE(
        lam=3.0, recent_weight=2.0, half_life=3.0, knn_weight=0.5, recent_items=4, n_neighbours=3, max_items=None
    ).fit(train)
    S = rec.similarity_.toarray()
    for u in range(0, rec.matrix_.n_users, 5):
        mine = train[train["user_id"] == rec.matrix_.user_ids[u]]
        latest_first = sorted(zip(mine["date"], mine["movie_id"]), reverse=True)  # equal dates: larger id later
        x, recent = np.zeros(rec.matrix_.n_movies), np.zeros(rec.matrix_.n_movies)
        for later, (_, movie) in enumerate(latest_first):
            j = rec.matrix_.movie_index([movie])[0]
            x[j] = 1 + 2.0 * 2 ** (-later / 3.0)
            recent[j] = later < 4
        np.testing.assert_allclose(rec.item_scores(np.array([u]))[0], x @ rec.weights_ + 0.5 * recent @ S, atol=1e-9)
    plain = EASE(lam=3.0, max_items=None).fit(train)
    off = variant(rec, recent_weight=0.0, knn_weight=0.0)
    users = np.unique(train["user_id"])
    pd.testing.assert_frame_equal(off.top_n_batch(users, 5), plain.top_n_batch(users, 5))
    assert rec.recent_weight == 2.0, "a variant leaves the fitted recommender unchanged"
    with pytest.raises(AttributeError, match="no knob"):
        variant(rec, recent_weigth=1.0)


def test_als_and_bpr_are_seeded_and_score_by_the_factor_product():
    train = random_ratings(seed=5)
    users = np.unique(train["user_id"])
    for make in (lambda: ALS(factors=4, iterations=4, seed=1), lambda: BPR(factors=4, iterations=10, seed=1)):
        a, b = make().fit(train), make().fit(train)
        pd.testing.assert_frame_equal(a.top_n_batch(users, 5), b.top_n_batch(users, 5))
        u = np.arange(3)
        np.testing.assert_allclose(a.scores(u), a.user_factors_[u] @ a.item_factors_.T)


# ---- time features: as of a day, never after ------------------------------------------------------------


def test_rating_clock_counts_only_ratings_up_to_the_day():
    train = random_ratings(seed=6)
    rec = PopularRecommender(window_days=30).fit(train)
    clock = RatingClock(train, rec.matrix_)
    days, movies = day_numbers(train["date"]), rec.matrix_.movie_index(train["movie_id"].to_numpy())
    for movie in range(0, rec.matrix_.n_movies, 3):
        for day in (days.min() - 1, days.min() + 50, days.max(), days.max() + 5):
            mine = days[movies == movie]
            assert clock.popularity(np.array([movie]), np.array([day]))[0] == (mine <= day).sum()
            assert (
                clock.popularity(np.array([movie]), np.array([day]), 30)[0] == ((mine <= day) & (mine > day - 30)).sum()
            )
            age = clock.age(np.array([movie]), np.array([day]))[0]
            assert (np.isnan(age) and mine.min() > day) or age == day - mine.min()
            # shares: the same counts over all movies' ratings in the period (0 when it holds none)
            everyone, recent = (days <= day).sum(), ((days <= day) & (days > day - 30)).sum()
            assert clock.total(np.array([day]))[0] == everyone and clock.total(np.array([day]), 30)[0] == recent
            share = clock.share(np.array([movie]), np.array([day]))[0]
            assert share == pytest.approx((mine <= day).sum() / everyone if everyone else 0.0)
            recent_share = clock.share(np.array([movie]), day, 30)[0]
            assert recent_share == pytest.approx(((mine <= day) & (mine > day - 30)).sum() / recent if recent else 0.0)
    user_last = train.groupby("user_id")["date"].max()
    idx = rec.matrix_.user_index(user_last.index.to_numpy())
    np.testing.assert_array_equal(clock.as_of(idx), day_numbers(user_last))
    assert (clock.as_of(idx, "train_end") == days.max()).all() and clock.as_of(np.array([-1]))[0] == days.max()


@settings(max_examples=60, deadline=None)
@given(ratings_frames(max_users=6, max_movies=8))
def test_recency_ranks_count_each_users_later_ratings(train):
    # a_uj: the user's ratings dated after movie j; on equal dates the larger movie id counts as later
    matrix = RatingMatrix.from_ratings(train)
    expected = np.zeros(matrix.csr.shape)
    for user, mine in train.groupby("user_id"):
        latest_first = sorted(zip(mine["date"], mine["movie_id"]), reverse=True)
        for later, (_, movie) in enumerate(latest_first):
            expected[matrix.user_index([user])[0], matrix.movie_index([movie])[0]] = later + 1
    ranks = recency_ranks(train, matrix)
    np.testing.assert_array_equal(ranks.toarray(), expected)
    assert ranks.has_canonical_format and ranks.dtype == np.float32
    # The matrix's own pattern: its index arrays are shared, not copied.
    assert np.shares_memory(ranks.indices, matrix.csr.indices) and np.shares_memory(ranks.indptr, matrix.csr.indptr)


def test_recent_popularity_as_of_the_user_ignores_later_ratings():
    # User 1 rated last on day 10. Movie 7 is rated by many users later (days 50-60), movie 8 early.
    train = ratings_frame([1, 1, 2, 3, 4, 5, 6], [9, 10, 8, 7, 7, 7, 8], [4] * 7, [5, 10, 8, 50, 55, 60, 9])
    honest = PopularRecommender(window_days=30).fit(train)
    leaky = PopularRecommender(window_days=30, as_of="train_end").fit(train)
    assert list(honest.top_n(1, 1)["movie_id"]) == [8]
    assert list(leaky.top_n(1, 1)["movie_id"]) == [7]
    assert honest.top_n(99, 1)["fallback"].tolist() == [True]
    all_time = PopularRecommender(fallback_days=30).fit(train)
    assert all_time.window_days is None and list(all_time.top_n(99, 7)["movie_id"]) == list(
        honest.top_n(99, 7)["movie_id"]
    )


# ---- the re-ranker and the evaluation helpers -----------------------------------------------------------


def test_reranker_candidates_are_the_union_of_its_generators_top_lists():
    train = random_ratings(n_users=40, seed=7)
    rec = ReRanker(EASE(2.0, None), ItemKNN(3), n_candidates=3, n_estimators=5).fit(train)
    users = np.arange(rec.matrix_.n_users)
    mask = rec.candidates(users)
    for u in users[::6]:
        raw = rec.matrix_.user_ids[u]
        expected = set(rec.served_.ease.top_n_batch([raw], 3)["movie_id"]) | set(
            rec.served_.knn.top_n_batch([raw], 3)["movie_id"]
        )
        fallback = set(rec.served_.knn.matrix_.movie_ids[rec.served_.knn.fallback_scores_ > -1])  # fills never count
        got = set(rec.matrix_.movie_ids[np.flatnonzero(mask[u])])
        assert got <= expected and got >= (expected - fallback) | (got & expected)
    _, _, frame = rec.served_.features(users[:5])
    assert list(frame.columns) == FEATURES


def test_reranker_without_relevant_validation_items_keeps_ease_order():
    train = random_ratings(seed=8)
    train["rating"] = np.float32(2.0)  # nothing is relevant (>= 4 stars)
    rec = ReRanker(EASE(2.0, None), ItemKNN(3), n_candidates=4).fit(train)
    assert rec.ranker_ is None and "no relevant" in rec.skipped_ and rec.feature_importance().empty
    user = rec.matrix_.user_ids[0]
    assert list(rec.top_n(user, 3)["movie_id"]) == list(rec.served_.ease.top_n(user, 3)["movie_id"])


@pytest.mark.parametrize("split", ["random", "global_time", "per_user_time"])
def test_reranker_cuts_its_validation_part_by_the_test_splits_own_rule(monkeypatch, split):
    methods = []
    cut = cfutils.data.split.make_split
    monkeypatch.setattr(
        cfutils.data.split, "make_split", lambda train, method, **kw: methods.append(method) or cut(train, method, **kw)
    )
    ReRanker(EASE(2.0, None), ItemKNN(3), n_candidates=3, n_estimators=5, split=split).fit(random_ratings(seed=7))
    assert [str(method) for method in methods] == [split]


def test_reranker_builds_one_matrix_per_stage_and_shares_it(monkeypatch):
    built = []
    original = RatingMatrix.from_ratings.__func__
    monkeypatch.setattr(
        RatingMatrix,
        "from_ratings",
        classmethod(lambda cls, ratings: built.append(len(ratings)) or original(cls, ratings)),
    )
    train = random_ratings(n_users=40, seed=7)
    rec = ReRanker(EASE(2.0, None), ItemKNN(3), n_candidates=3, n_estimators=5, split="global_time").fit(train)
    assert len(built) == 2 and built[0] == len(train) and built[1] < len(train)  # train's, then the validation cut's
    served = rec.served_
    assert served.ease.matrix_ is served.knn.matrix_ is served.matrix_ is rec.matrix_
    assert served.ease.binary_ is served.knn.binary_  # all movies in EASE: one binary pattern


def test_ease_models_on_one_train_data_share_their_weights_and_keep_them_read_only():
    data = TrainData(random_ratings(seed=12))
    ease = EASE(2.0, None).fit(data)
    recency = RecencyEASE(2.0, knn_weight=0.5, n_neighbours=3, max_items=None).fit(data)
    other_lambda = EASE(3.0, None).fit(data)
    assert recency.weights_ is ease.weights_ and other_lambda.weights_ is not ease.weights_
    assert not np.allclose(other_lambda.weights_, ease.weights_)
    with pytest.raises(ValueError, match="read-only"):
        ease.weights_[0, 1] = 1.0
    assert RecencyEASE(2.0, knn_weight=0.5, n_neighbours=3, max_items=None).fit(data).similarity_ is recency.similarity_


@pytest.mark.parametrize("recommender", implicit_recommenders(), ids=lambda r: type(r).__name__)
def test_fit_on_train_data_gives_the_lists_of_fit_on_the_frame(recommender):
    train = random_ratings(seed=11)
    users = np.unique(train["user_id"])[:8]
    from_frame = copy.deepcopy(recommender).fit(train).top_n_batch(users, 5)
    data = TrainData(train)
    from_data = copy.deepcopy(recommender).fit(data).top_n_batch(users, 5)
    pd.testing.assert_frame_equal(from_frame, from_data)
    assert copy.deepcopy(recommender).fit(data).matrix_ is data.matrix


def test_candidate_recall_matches_a_loop():
    train, test = random_ratings(seed=9), random_ratings(seed=10)
    rec = ItemKNN(3).fit(train)
    rec.candidates = lambda user_idx: np.isfinite(rec.scores(user_idx)) & ~rec.rated_mask(user_idx)
    got = candidate_recall(rec, test)
    shares = []
    for user, rows in test[test["rating"] >= 4].groupby("user_id"):
        u = rec.matrix_.user_index([user])[0]
        if u < 0:
            continue
        allowed = rec.candidates(np.array([u]))[0]
        shares.append(np.mean([m in set(rec.matrix_.movie_ids[allowed]) for m in rows["movie_id"]]))
    assert got["n_users"] == len(shares) and got["candidate_recall"] == pytest.approx(np.mean(shares))


def test_list_reports_split_known_and_new_users():
    train = random_ratings(seed=11)
    test = pd.concat([random_ratings(seed=12), ratings_frame([999, 999], [5, 7], [5, 5], [300, 301])])
    lists = EASE(2.0, None).fit(train).top_n_batch(np.unique(test["user_id"]), 10)
    popularity = train["movie_id"].value_counts()
    reports = list_reports(lists, test, train, popularity)
    assert reports["all"]["n_users"] == reports["known"]["n_users"] + reports["new"]["n_users"]
    assert reports["new"]["n_users"] == 1


def test_example_users_pick_the_heaviest_the_lightest_known_test_user_and_a_new_one():
    train = pd.DataFrame({"user_id": [1, 1, 1, 2, 2, 3, 4], "movie_id": [10, 11, 12, 10, 11, 10, 12]})
    test = pd.DataFrame({"user_id": [2, 3, 9, 8], "movie_id": [12, 11, 10, 10]})
    assert example_users(train, test) == {"heavy": 1, "light": 3, "new": 8}
    assert example_users(train, test, {"heavy": 2, "light": None}) == {"heavy": 2, "light": 3, "new": 8}
    # No known user in test: the lightest train user; no new user: an id nobody has.
    assert example_users(train, test[test["user_id"] > 7]) == {"heavy": 1, "light": 3, "new": 8}
    assert example_users(train, test[test["user_id"] < 4])["new"] == 5
    assert example_users(train, test[test["user_id"] < 4])["light"] == 3


def test_mirror_lower_makes_the_matrix_symmetric_block_by_block():
    a = np.random.default_rng(0).standard_normal((10, 10))
    expected = np.tril(a) + np.tril(a, -1).T  # the lower triangle, mirrored
    np.testing.assert_array_equal(_mirror_lower(a.copy(), block=3), expected)
    np.testing.assert_array_equal(_mirror_lower(a.copy(), block=64), expected)
