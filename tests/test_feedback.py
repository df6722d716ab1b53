"""cfutils.lists.feedback: the loop adds exactly the accepted responses and reports each round as cfutils
computes it directly; the stated response model behaves as its formula says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cfutils.data import synth
from cfutils.data.dataset import load_dataset
from cfutils.data.split import make_split
from cfutils.eval import as_padded_array, catalogue_coverage, exposure_counts, gini, ranking_metrics
from cfutils.lists import EASE, FittedResponses, PopularRecommender, feedback_loop
from cfutils.rating import BiasBaseline


class Always:
    """Accepts every listed movie with ``stars`` (or none, with ``like=0``)."""

    def __init__(self, like: float, stars: float = 5.0):
        self.like, self.stars = like, stars

    def like_probability(self, user_ids, movie_ids):
        return np.full(len(user_ids), self.like)

    def draw_stars(self, rng, user_ids, movie_ids):
        return np.full(len(user_ids), self.stars)


@pytest.fixture(scope="module")
def split(tiny_data_dir):
    return make_split(load_dataset(str(tiny_data_dir), cache=False).ratings, "global_time", 0.2, seed=0)


def test_every_round_is_what_a_refit_on_the_grown_train_gives(split):
    train, test = split
    users = np.unique(train["user_id"])[:150]
    rows = feedback_loop(lambda: PopularRecommender(), train, test, users, Always(1.0), rounds=2, n=5)
    assert rows["round"].tolist() == [0, 1, 2]
    current, catalogue = train, np.unique(train["movie_id"])
    for _, row in rows.iterrows():
        lists = PopularRecommender().fit(current).top_n_batch(users, 5)
        _, recommended = as_padded_array(lists, 5)
        seen = test.merge(current[["user_id", "movie_id"]], how="left", indicator=True)["_merge"] == "both"
        left = test[test["user_id"].isin(users)][~seen.to_numpy()[test["user_id"].isin(users).to_numpy()]]
        assert row["ndcg@5"] == pytest.approx(ranking_metrics(lists, left, (5,))["ndcg@5"])
        assert row["gini"] == pytest.approx(gini(exposure_counts(recommended, catalogue)))
        assert row["coverage"] == pytest.approx(catalogue_coverage(recommended, catalogue))
        assert row["train_gini"] == pytest.approx(
            gini(current["movie_id"].value_counts().reindex(catalogue, fill_value=0))
        )
        assert row["like_rate"] == 1.0
        assert row["accepted"] == (len(lists) if row["round"] < 2 else 0)
        added = lists[["user_id", "movie_id"]].assign(
            rating=np.float32(5.0), date=current["date"].max() + pd.Timedelta(days=1)
        )
        current = pd.concat([current, added.astype(current.dtypes.to_dict())], ignore_index=True)


def test_without_responses_every_round_repeats_the_first(split):
    train, test = split
    rows = feedback_loop(lambda: EASE(100.0), train, test, np.unique(train["user_id"]), Always(0.0), rounds=3)
    assert (rows["accepted"] == 0).all()
    first = rows.drop(columns="round").iloc[0]
    for _, row in rows.drop(columns="round").iterrows():
        assert row.to_dict() == pytest.approx(first.to_dict())


def test_the_truth_loop_is_deterministic_and_accepts_what_users_like(tiny_data_dir, split):
    train, test = split
    truth = synth.Truth.of(tiny_data_dir)
    users = np.unique(train["user_id"])
    one = feedback_loop(lambda: PopularRecommender(), train, test, users, truth, rounds=3, seed=4)
    two = feedback_loop(lambda: PopularRecommender(), train, test, users, truth, rounds=3, seed=4)
    pd.testing.assert_frame_equal(one, two)
    listed = (users.size * 10) * one["like_rate"].iloc[:3]
    # acceptances are Bernoulli(like) draws: their count is within a few sd of the sum of probabilities
    assert np.abs(one["accepted"].iloc[:3] - listed).max() < 5 * np.sqrt(users.size * 10 / 4)


def test_fitted_responses_follow_their_formula(split):
    train, _ = split
    responses = FittedResponses(BiasBaseline(), train)
    users, movies = train["user_id"].to_numpy()[:40], train["movie_id"].to_numpy()[:40]
    like = responses.like_probability(np.repeat(users, 3000), np.repeat(movies, 3000)).reshape(40, 3000)[:, 0]
    stars = responses.draw_stars(np.random.default_rng(0), np.repeat(users, 3000), np.repeat(movies, 3000))
    stars = stars.reshape(40, 3000)
    assert set(np.unique(stars)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert (stars >= 4).mean(axis=1) == pytest.approx(like, abs=0.04)
