"""cfutils.present: titles by movie id, and "because you rated ..." from a recommender's item weights,
against plain references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_recommend_implicit import implicit_recommenders, random_ratings

from cfutils.lists import EASE, ItemKNN, PopularRecommender, RecencyEASE
from cfutils.present import FALLBACK_REASON, TitleTable, cited, explained_list, explanations

TITLES = pd.DataFrame(
    {"title": [f"Film {m}" for m in range(200)], "year": pd.array([1990 + m % 20 for m in range(200)], dtype="Int32")},
    index=pd.Index(np.arange(200), name="movie_id"),
)

WEIGHTED = [r for r in implicit_recommenders() if hasattr(r, "item_weights")]


def test_title_table_agrees_with_a_reindex_of_the_titles_frame():
    titles = pd.DataFrame(
        {"title": ["Alien", "Heat", "Up"], "year": [1979, None, 2009]}, index=pd.Index([7, 3, 11], name="movie_id")
    )
    ids = np.array([11, 5, 7, 7, 3])
    found = TitleTable(titles).frame(ids)
    reference = titles.reindex(ids)  # the slow obvious way
    assert found["title"].tolist() == ["Up", "movie 5", "Alien", "Alien", "Heat"]
    assert found["year"].tolist() == [2009, pd.NA, 1979, 1979, pd.NA]
    assert found["title"].tolist() == reference["title"].fillna("movie 5").tolist()
    empty = TitleTable(None).frame(ids)
    assert empty["title"].tolist() == [f"movie {m}" for m in ids] and empty["year"].isna().all()


@pytest.mark.parametrize("recommender", WEIGHTED, ids=lambda r: type(r).__name__)
def test_item_weights_sum_to_the_score(recommender):
    """score(u, i) = sum over the rated movies j of w_ji, for every model movie i."""
    train = random_ratings(seed=3)
    recommender.fit(train)
    m = recommender.matrix_
    for user_idx in range(0, m.n_users, 5):
        rated = m.csr[user_idx].indices
        scores = recommender.scores(np.array([user_idx]))[0]
        movies = np.flatnonzero(np.isfinite(scores) & ~np.isin(np.arange(m.n_movies), rated))
        if type(recommender).__name__ == "ReRanker":
            scores = recommender.served_.ease.scores(np.array([user_idx]))[0]
        weights = recommender.item_weights(user_idx, rated, movies)
        np.testing.assert_allclose(weights.sum(axis=1), scores[movies], rtol=1e-9, atol=1e-9)


def slow_cited(recommender, train: pd.DataFrame, user: int, movie: int, threshold: float, top: int):
    """The ``top`` movies the user rated >= threshold with the largest positive w_ji, one rated movie at a
    time; ties to the smaller movie id."""
    m = recommender.matrix_
    user_idx, movie_idx = int(m.user_index([user])[0]), m.movie_index([movie])
    mine = train[(train["user_id"] == user) & (train["rating"] >= threshold)]
    weighed = []
    for rated, stars in zip(mine["movie_id"], mine["rating"]):
        weight = recommender.item_weights(user_idx, m.movie_index([rated]), movie_idx)[0, 0]
        if weight > 0:
            weighed.append((-weight, int(rated), float(stars)))
    return [(rated, stars) for _, rated, stars in sorted(weighed)[:top]]


@pytest.mark.parametrize("threshold", [4.0, 2.0])
@pytest.mark.parametrize("recommender", WEIGHTED, ids=lambda r: type(r).__name__)
def test_explanations_cite_only_well_rated_movies_with_the_largest_weights(recommender, threshold):
    train = random_ratings(seed=4)
    recommender.fit(train)
    explained = 0
    for user in np.unique(train["user_id"])[:8]:
        listed = recommender.top_n(user, 5)
        got = cited(recommender, user, listed["movie_id"], threshold, top=2)
        for movie, cites in zip(listed["movie_id"], got):
            assert cites == slow_cited(recommender, train, user, movie, threshold, 2)
            explained += bool(cites)
        frame = explained_list(recommender, user, 5, TITLES, threshold)
        for cites, fallback, because in zip(got, listed["fallback"], frame["because"]):
            if fallback:
                assert because == FALLBACK_REASON
            elif cites:
                assert because == "because you rated " + ", ".join(f"Film {m} ({s:g}★)" for m, s in cites)
            else:
                assert because == recommender.reason
        assert frame["title"].tolist() == [f"Film {m}" for m in frame["movie_id"]]
    assert explained > 0, "no recommendation was explained by a rated movie"


def test_a_badly_rated_movie_is_never_cited_even_when_it_weighs_most():
    # User 1 rated movies 1 (1★) and 2 (5★); movie 3 co-occurs with movie 1 far more than with movie 2.
    users = [1, 1] + [u for u in range(10, 30)] + [u for u in range(30, 33)]
    movies = [1, 2] + [1 if u % 2 else 3 for u in range(10, 30)] + [2, 2, 2]
    train = pd.DataFrame({"user_id": users, "movie_id": movies, "rating": [1.0, 5.0] + [4.0] * 23})
    train = pd.concat([train, pd.DataFrame({"user_id": range(10, 30, 2), "movie_id": 1, "rating": 4.0})])
    train = pd.concat([train, pd.DataFrame({"user_id": [30], "movie_id": [3], "rating": [4.0]})], ignore_index=True)
    train["date"] = pd.Timestamp("2005-01-01")
    model = ItemKNN(n_neighbours=5).fit(train)
    w = model.item_weights(0, model.matrix_.movie_index([1, 2]), model.matrix_.movie_index([3]))[0]
    assert w[0] > w[1] > 0, "the 1★ movie weighs most"
    assert cited(model, 1, [3]) == [[(2, 5.0)]]
    assert cited(model, 1, [3], threshold=1.0) == [[(1, 1.0), (2, 5.0)]]


def test_the_explanations_record_lists_every_listed_movie_with_titled_causes():
    train = random_ratings(seed=5)
    model = EASE(2.0, None).fit(train)
    users = [int(np.unique(train["user_id"])[0]), 999]  # 999: a new user, served the fallback
    record = explanations(model, users, 4, TITLES)
    assert [(row["user_id"], row["movie_id"]) for row in record] == [
        (user, int(movie)) for user in users for movie in model.top_n(user, 4)["movie_id"]
    ]
    for row in record:
        expected = cited(model, row["user_id"], [row["movie_id"]])[0] if row["user_id"] != 999 else []
        assert row["because"] == [{"movie_id": m, "title": f"Film {m}", "rating": s} for m, s in expected]
    assert any(row["because"] for row in record)


def test_a_recommender_without_item_weights_explains_by_its_reason():
    train = random_ratings(seed=6)
    model = PopularRecommender().fit(train)
    frame = explained_list(model, int(train["user_id"].iloc[0]), 3, None)
    assert frame["because"].tolist() == [model.reason] * 3
    assert frame["title"].tolist() == [f"movie {m}" for m in frame["movie_id"]]


def test_recency_ease_weights_include_the_knn_term_of_the_latest_movies():
    train = random_ratings(seed=7)
    kwargs = dict(lam=2.0, recent_weight=0.0, half_life=2.0, recent_items=3, n_neighbours=3, max_items=None)
    plain, with_knn = RecencyEASE(knn_weight=0.0, **kwargs).fit(train), RecencyEASE(knn_weight=0.5, **kwargs).fit(train)
    rated = plain.matrix_.csr[0].indices
    movies = np.arange(plain.matrix_.n_movies)
    difference = with_knn.item_weights(0, rated, movies) - plain.item_weights(0, rated, movies)
    assert np.abs(difference).max() > 0
