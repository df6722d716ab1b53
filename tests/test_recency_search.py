"""cfutils.lists.recency_search: the recency family's settings against searches refitted by hand, value by value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ratings_factory import random_ratings, ratings_frame

from cfutils.eval import one_standard_error
from cfutils.lists import BLENDS, EASE, DecayedEASE, EASERecentBlend, FoldValidation, RecentKNN, tune_recency

GRIDS = {"recent_items": (2.0, 4.0, 8.0), "half_life": (1.0, 4.0, 16.0), "weight": (0.25, 1.0, 4.0)}
LAM, OPTIONS = 20.0, dict(n_neighbours=6, max_items=None, fallback_days=30)


@pytest.fixture(scope="module")
def tuned():
    train = random_ratings(n_users=60, n_movies=40, n_ratings=900, n_days=300, seed=11)
    folds = FoldValidation(train, "per_user_time", 0.2, n_folds=2, seed=4, n=5)
    return folds, tune_recency(folds, LAM, GRIDS, **OPTIONS)


def refitted_choice(folds, build, values, simpler):
    """The one-standard-error choice over ``values``, each refit from scratch on every fold (the slow way)."""
    scores = pd.DataFrame({value: folds.score(build(value)) for value in values})
    return one_standard_error(scores, sorted(values, reverse=simpler == "larger")), scores


def test_each_setting_is_the_one_standard_error_choice_of_refitted_models(tuned):
    folds, family = tuned
    ease = dict(max_items=None, fallback_days=30)
    m, _ = refitted_choice(
        folds,
        lambda v: RecentKNN(int(round(v)), 6, fallback_days=30),
        family.searches["recent_items"].table.index,
        "smaller",
    )
    assert family.recent_items == m
    h, _ = refitted_choice(
        folds, lambda v: DecayedEASE(LAM, v, **ease), family.searches["half_life"].table.index, "larger"
    )
    assert family.half_life == h
    for how, name in BLENDS.items():
        values = family.searches[f"weight_{how}"].table.index
        w, scores = refitted_choice(
            folds, lambda v, how=how: EASERecentBlend(LAM, m, v, how, 6, **ease), values, "smaller"
        )
        assert family.weight(how) == w
        pd.testing.assert_series_equal(family.validation[name], scores[w], check_names=False)
    assert family.best_blend == max(BLENDS.values(), key=lambda name: family.validation[name].mean())


def test_the_members_are_built_with_the_tuned_settings_and_the_options(tuned):
    _, family = tuned
    members = family.recommenders()
    assert members["recent-kNN"].recent_items == family.recent_items and members["recent-kNN"].n_neighbours == 6
    assert members["decayed EASE"].half_life == family.half_life and members["decayed EASE"].lam == LAM
    for how, name in BLENDS.items():
        blend = members[name]
        assert (blend.weight, blend.normalisation, blend.recent_items) == (family.weight(how), how, family.recent_items)
        assert (blend.max_items, blend.fallback_days, blend.n_neighbours) == (None, 30, 6)
    named = family.named()
    assert len(named) == 3
    how = family.best_normalisation
    blend = named[f"EASE + recent-kNN blend ({how}, w={family.weight(how):.3g})"]
    assert (blend.normalisation, blend.weight) == (how, family.weight(how))
    assert named[f"recent-kNN (m={family.recent_items})"].recent_items == family.recent_items
    assert named[f"EASE, decayed (h={family.half_life:.3g})"].half_life == family.half_life
    settings = family.settings()
    assert set(settings) == {"recent_items", "half_life", *(f"weight_{how}" for how in BLENDS), "grid_edges"}
    assert all(family.searches[name].edge == edge for name, edge in settings["grid_edges"].items())


def watched_in_sessions(shuffled: bool, n_users: int = 150, seed: int = 0) -> pd.DataFrame:
    """Each user watches 8 of the 10 movies of three of six genres, one genre after the other, so the next
    movies are neighbours of the last ones; ``shuffled`` draws each user's dates in random order instead."""
    rng = np.random.default_rng(seed)
    users, movies = [], []
    for user in range(n_users):
        for genre in rng.choice(6, 3, replace=False):
            users += [user] * 8
            movies += list(genre * 10 + rng.choice(10, 8, replace=False))
    days = np.concatenate([rng.permutation(24) if shuffled else np.arange(24) for _ in range(n_users)])
    return ratings_frame(users, movies, np.full(len(users), 5.0), days)


def test_the_tuned_recency_follows_how_much_the_last_movies_tell():
    """Where the next movies follow the last ones, validation gives the recent-kNN a large weight, a short
    half-life, and a blend clearly above EASE; in random order the blend's gain over EASE is far smaller
    (what is left is the kNN's second opinion, not recency)."""
    gains = {}
    for shuffled in (False, True):
        folds = FoldValidation(watched_in_sessions(shuffled), "per_user_time", 0.2, n_folds=2, seed=0, n=5)
        family = tune_recency(folds, 10.0, n_neighbours=10, max_items=None)
        gain = family.validation[family.best_blend] - folds.score(EASE(10.0, max_items=None))
        gains[shuffled] = gain.mean()
        if not shuffled:
            assert family.weight(family.best_normalisation) >= 1.0 and family.half_life <= 8.0
            assert gain.mean() > 2 * gain.std() / np.sqrt(gain.size)  # clearly above EASE on validation
    assert gains[False] > 5 * gains[True] > 0
