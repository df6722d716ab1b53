"""The generated sample against real data: the sample must behave like movielens-small where notebooks look.

Lessons drawn from the sample (which recommender wins, how long the tails are) only teach
something if real data shows the same. Each test computes one statistic on both data sets and
asserts that both fall in the same band, so a change to the generator that drifts away from
real data fails here. The bands hold the real value with a margin; the sample is
Netflix-shaped (denser, 1,000 movies), so they are not tight.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from cfutils.data import synth
from cfutils.data.dataset import load_dataset
from cfutils.data.io import read_ratings
from cfutils.data.split import per_user_temporal_split
from cfutils.eval.metrics import ranking_metrics


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> pd.DataFrame:
    return read_ratings(synth.write_sample(tmp_path_factory.mktemp("sample")), cache=False, progress=False)


@pytest.fixture(scope="module")
def movielens() -> pd.DataFrame:
    return load_dataset("movielens-small", cache=False).ratings


@pytest.fixture(scope="module", params=["sample", "movielens"])
def ratings(request) -> pd.DataFrame:
    return request.getfixturevalue(request.param)


def ease_and_popular_ndcg(ratings: pd.DataFrame, lam: float = 500.0) -> tuple[float, float]:
    """NDCG@10 of EASE and of most-popular under ``per_user_time``, seen movies excluded.

    EASE by its dense closed form (Steck 2019): ``P = (XᵀX + λI)⁻¹``,
    ``B = I − P·diag(1/diag(P))`` with a zero diagonal, scores ``X B`` on binary ``X``.
    """
    train, test = per_user_temporal_split(ratings, 0.2)
    users, rows = np.unique(train["user_id"].to_numpy(), return_inverse=True)
    items, cols = np.unique(train["movie_id"].to_numpy(), return_inverse=True)
    X = sp.csr_matrix((np.ones(len(train)), (rows, cols)), shape=(len(users), len(items)))
    P = np.linalg.inv((X.T @ X).toarray() + lam * np.eye(len(items)))
    B = -P / np.diag(P)
    np.fill_diagonal(B, 0.0)
    seen = X.toarray() > 0
    scores = {"ease": np.asarray(X @ B), "popular": np.tile(np.asarray(X.sum(axis=0)), (len(users), 1))}
    ndcg = {}
    for name, score in scores.items():
        top = np.argsort(-np.where(seen, -np.inf, score), axis=1, kind="stable")[:, :10]
        lists = pd.DataFrame(
            {
                "user_id": np.repeat(users, 10),
                "rank": np.tile(np.arange(1, 11), len(users)),
                "movie_id": items[top].ravel(),
            }
        )
        ndcg[name] = ranking_metrics(lists, test)["ndcg@10"]
    return ndcg["ease"], ndcg["popular"]


def test_who_rates_what_carries_taste_as_on_real_data(ratings):
    """Real MovieLens: EASE 1.38× most popular. A sample where popularity alone decides
    exposure gave 0.98×, and taught that lists cannot beat popularity."""
    ease, popular = ease_and_popular_ndcg(ratings)
    assert 1.3 <= ease / popular <= 2.0


def test_the_most_rated_movies_form_a_smooth_head(ratings):
    counts = ratings["movie_id"].value_counts().to_numpy()
    top_share = counts[0] / ratings["user_id"].nunique()
    assert 0.15 <= top_share <= 0.70  # Netflix 0.49, MovieLens 100K 0.62, latest-small 0.54
    assert len(np.unique(counts[:10])) >= 8  # no flat cap
    assert counts[0] / counts[9] > 1.1


def test_popularity_and_activity_are_long_tailed(ratings):
    movies = ratings["movie_id"].value_counts().to_numpy()
    users = ratings["user_id"].value_counts().to_numpy()
    assert 0.5 <= movies[: len(movies) // 10].sum() / len(ratings) <= 0.8
    assert 0.3 <= users[: len(users) // 10].sum() / len(ratings) <= 0.6
    assert users[0] > 10 * np.median(users)


def test_ratings_lean_positive_alike(sample, movielens):
    for frame in (sample, movielens):
        assert 3.4 <= frame["rating"].mean() <= 3.7
        assert 0.4 <= (frame["rating"] >= 4).mean() <= 0.6
    assert abs(sample["rating"].std() - movielens["rating"].std()) < 0.15
