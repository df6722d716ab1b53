"""The Bayesian factorization machine against its formula, computed by hand from its own samples.

The slow reference (:func:`cfutils.rating.bayes_fm.fm_formula`) loops over the non-zero entries of a
feature row built here from the definitions of the blocks, not from the model's own feature code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ratings_factory import random_ratings

from cfutils.core.memory import MemoryBudgetError
from cfutils.data.split import temporal_split
from cfutils.rating.bayes_fm import BayesFM, fm_formula

UNKNOWN = 10**6


@pytest.fixture(scope="module")
def data():
    ratings = random_ratings(n_ratings=400, n_days=300)
    train, test = temporal_split(ratings, test_size=0.25)
    extra = pd.DataFrame(
        {"user_id": [UNKNOWN, train.user_id.iloc[0]], "movie_id": [train.movie_id.iloc[0], UNKNOWN]}
    ).assign(date=test.date.max())
    return train, pd.concat([test[["user_id", "movie_id", "date"]], extra], ignore_index=True)


def hand_row(train: pd.DataFrame, user: int, movie: int, day, date_edges, date_bins: int) -> np.ndarray:
    """The documented feature row of (user, movie, day): date bin, user one-hot, u's rated movies
    (each |I_u|^-1/2), movie one-hot, i's raters (each |U_i|^-1/2); unknown ids give zeros."""
    users, movies = np.sort(train.user_id.unique()), np.sort(train.movie_id.unique())
    n_u, n_i = len(users), len(movies)
    dates = np.zeros(date_bins)
    if date_bins:
        dates[np.searchsorted(date_edges, np.datetime64(day, "D").astype(np.int64), side="right")] = 1
    one_user, rated, one_movie, raters = np.zeros(n_u), np.zeros(n_i), np.zeros(n_i), np.zeros(n_u)
    if user in users:
        one_user[np.searchsorted(users, user)] = 1
        seen = train.movie_id[train.user_id == user].unique()
        rated[np.searchsorted(movies, seen)] = len(seen) ** -0.5
    if movie in movies:
        one_movie[np.searchsorted(movies, movie)] = 1
        seen = train.user_id[train.movie_id == movie].unique()
        raters[np.searchsorted(users, seen)] = len(seen) ** -0.5
    return np.concatenate([dates, one_user, rated, one_movie, raters])


@pytest.mark.parametrize("date_bins", [0, 3])
def test_prediction_is_the_formula_averaged_over_the_samples(data, date_bins):
    train, pairs = data
    model = BayesFM(rank=3, n_iter=12, n_kept_samples=4, date_bins=date_bins, random_state=1).fit(train)
    samples = model.samples()
    assert len(samples) == 4
    edges = getattr(model, "date_edges_", None)
    rows = [hand_row(train, u, i, d, edges, date_bins) for u, i, d in zip(pairs.user_id, pairs.movie_id, pairs.date)]
    assert np.allclose(model.full_rows(pairs).toarray(), np.array(rows))
    by_hand = np.array([np.mean([fm_formula(w0, w, V, x) for w0, w, V in samples]) for x in rows])
    assert np.allclose(model.predict(pairs), np.clip(by_hand, 1, 5), atol=1e-9)


def test_fm_formula_is_the_pairwise_sum():
    rng = np.random.default_rng(0)
    w, V, x = rng.normal(size=5), rng.normal(size=(5, 2)), np.array([0, 1.0, 0.5, 0, 2.0])
    pairs = sum(V[i] @ V[j] * x[i] * x[j] for i in range(5) for j in range(i + 1, 5))
    assert fm_formula(0.3, w, V, x) == pytest.approx(0.3 + w @ x + pairs)


def test_blocks_are_options(data):
    train, pairs = data
    plain = BayesFM(rank=2, n_iter=6, implicit_user=False, implicit_movie=False).fit(train)
    assert plain.full_rows(pairs).shape[1] == train.user_id.nunique() + train.movie_id.nunique()
    assert plain.full_rows(pairs).sum(axis=1).max() == 2  # one-hot user and movie only
    assert np.isfinite(plain.predict(pairs)).all()
    with pytest.raises(ValueError, match="at least one feature block"):
        BayesFM(user=False, movie=False, implicit_user=False, implicit_movie=False)


def test_memory_guard_refuses_before_fitting(data):
    train, _ = data
    model = BayesFM(budget_bytes=1000)
    with pytest.raises(MemoryBudgetError, match="bayes_fm"):
        model.fit(train)
    assert not hasattr(model, "fm_")
    # the kept samples dominate at Netflix size: 8 (rank + 1) bytes per feature per sample
    netflix = BayesFM().required_bytes(100_480_507, 480_189, 17_770)
    assert netflix > 195 * 8 * 11 * 2 * (480_189 + 17_770)
