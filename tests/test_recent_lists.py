"""cfutils.lists.recent and .blend: each score against a slow loop over its formula; the per-user NDCG
that the robustness benchmark averages and resamples (the one-standard-error rule and the self-extending
grid are tested with cfutils.eval.choice, in test_choice.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ratings_factory import random_ratings

from cfutils.core.train_data import TrainData
from cfutils.eval import ranking_metrics
from cfutils.lists import (
    EASE,
    DecayedEASE,
    EASERecentBlend,
    ItemKNN,
    RecentKNN,
    normalise_scores,
    validation_ndcg_by_user,
    variant,
)


def later_counts(train: pd.DataFrame, matrix) -> np.ndarray:
    """Dense a_uj + 1 (0: not rated) by sorting each user's ratings: latest date, then larger movie id, first."""
    later = np.zeros((matrix.n_users, matrix.n_movies))
    for user, rows in train.groupby("user_id"):
        rows = rows.sort_values(["date", "movie_id"], ascending=False)
        for a, movie in enumerate(rows["movie_id"]):
            later[matrix.user_index([user])[0], matrix.movie_index([movie])[0]] = a + 1
    return later


@pytest.fixture(scope="module")
def data():
    return TrainData(random_ratings(seed=7))


def test_recent_knn_sums_the_neighbours_of_the_last_m_movies(data):
    knn = RecentKNN(recent_items=3, n_neighbours=4).fit(data)
    sim = ItemKNN(n_neighbours=4).fit(data).similarity_.toarray()
    later = later_counts(data.ratings, data.matrix)
    users = np.arange(data.matrix.n_users)
    got = knn.scores(users)
    for u in users:
        recent = [j for j in range(data.matrix.n_movies) if 0 < later[u, j] <= 3]
        for i in range(data.matrix.n_movies):
            expected = sum(sim[j, i] for j in recent)
            assert got[u, i] == (pytest.approx(expected) if expected > 0 else -np.inf)


def test_decayed_ease_weights_each_movie_by_two_to_minus_age_over_half_life(data):
    decayed = DecayedEASE(lam=5.0, half_life=2.0, max_items=None).fit(data)
    later = later_counts(data.ratings, data.matrix)
    weights = decayed.weights_
    got = decayed.scores(np.arange(data.matrix.n_users))
    for u in range(data.matrix.n_users):
        x = [2.0 ** (-(later[u, j] - 1) / 2.0) if later[u, j] else 0.0 for j in range(data.matrix.n_movies)]
        for i in range(data.matrix.n_movies):
            assert got[u, i] == pytest.approx(sum(x[j] * weights[j, i] for j in range(len(x))))
    plain = EASE(lam=5.0, max_items=None).fit(data).scores(np.arange(data.matrix.n_users))
    np.testing.assert_allclose(variant(decayed, half_life=np.inf).scores(np.arange(data.matrix.n_users)), plain)


def slow_normalise(row, candidate, how):
    values = [row[i] for i in range(row.size) if candidate[i]]
    if how == "max":
        centre, scale = 0.0, max((abs(v) for v in values), default=0.0)
    else:
        centre = sum(values) / len(values) if values else 0.0
        scale = (sum((v - centre) ** 2 for v in values) / len(values)) ** 0.5 if values else 0.0
    scale = scale or 1.0
    return [(row[i] - centre) / scale if candidate[i] else 0.0 for i in range(row.size)]


@pytest.mark.parametrize("how", ["max", "z"])
def test_normalise_scores_matches_a_loop(how):
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 9))
    candidate = rng.random((6, 9)) < 0.6
    candidate[0] = False
    scores[1] = 2.0  # zero spread under z: left unscaled
    got = normalise_scores(scores, candidate, how)
    for row in range(6):
        np.testing.assert_allclose(got[row], slow_normalise(scores[row], candidate[row], how))


@pytest.mark.parametrize("how", ["max", "z"])
def test_blend_adds_normalised_ease_and_weighted_normalised_recent_knn(data, how):
    blend = EASERecentBlend(lam=5.0, recent_items=3, weight=2.0, normalisation=how, n_neighbours=4, max_items=None)
    blend.fit(data)
    users = np.arange(data.matrix.n_users)
    ease = EASE(lam=5.0, max_items=None).fit(data).scores(users)
    knn = RecentKNN(recent_items=3, n_neighbours=4).fit(data).scores(users)
    rated = data.matrix.csr.toarray() != 0
    got = blend.scores(users)
    for u in users:
        candidate = ~rated[u]
        e = slow_normalise(ease[u], candidate, how)
        k = slow_normalise(np.where(np.isfinite(knn[u]), knn[u], 0.0), candidate, how)
        expected = [e[i] + 2.0 * k[i] if candidate[i] else -np.inf for i in range(candidate.size)]
        np.testing.assert_allclose(got[u], expected)


def test_validation_ndcg_by_user_averages_to_ranking_metrics(data):
    train = data.ratings.sample(frac=0.8, random_state=0)
    test = data.ratings.drop(train.index)
    ease = EASE(lam=5.0, max_items=None).fit(train)
    per_user = validation_ndcg_by_user(ease, test)
    users = np.unique(test.loc[test["rating"] >= 4, "user_id"])
    expected = ranking_metrics(ease.top_n_batch(users, 10), test)
    assert per_user.mean() == pytest.approx(expected["ndcg@10"]) and per_user.size == expected["n_users"]
