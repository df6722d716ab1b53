"""cfutils.data.synth.truth: the files' ratings are draws from the truth, and the propensities are the
exposure the generator used (against replayed draws of its own sampler)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_DUPLICATE_FRACTION

from cfutils.data import synth
from cfutils.data.dataset import MOVIELENS_SMALL_DIR, load_dataset
from cfutils.data.synth.truth import Truth


@pytest.fixture(scope="module")
def tiny_truth(tiny_data_dir) -> Truth:
    return Truth.of(tiny_data_dir)


def test_the_marker_gives_the_truth_and_real_data_has_none(tiny_data_dir, tiny_truth, tmp_path):
    assert tiny_truth.preset == synth.TINY and tiny_truth.duplicate_fraction == TINY_DUPLICATE_FRACTION
    assert Truth.of(MOVIELENS_SMALL_DIR) is None
    marker = json.loads((tiny_data_dir / synth.MARKER_NAME).read_text())
    (tmp_path / synth.MARKER_NAME).write_text(json.dumps({**marker, "generator_version": synth.GENERATOR_VERSION + 1}))
    assert Truth.of(tmp_path) is None  # another generator version: its population cannot be rebuilt


def test_the_files_hold_the_replayed_draws_and_are_not_touched(tiny_data_dir, tiny_truth):
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in tiny_data_dir.iterdir()}
    drawn = tiny_truth.drawn_ratings()
    files = load_dataset(str(tiny_data_dir), cache=False).ratings  # the reader keeps each pair's latest line
    key = ["user_id", "movie_id"]
    merged = files.merge(drawn, on=key, how="outer", suffixes=("", "_drawn"), indicator=True)
    assert (merged["_merge"] == "both").all() and len(merged) == synth.TINY.n_ratings
    assert (merged["rating"] == merged["rating_drawn"]).all() and (merged["date"] == merged["date_drawn"]).all()
    Truth.of(tiny_data_dir).propensity(drawn["user_id"], drawn["movie_id"])  # reads the marker, writes nothing
    assert before == {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in tiny_data_dir.iterdir()}


@pytest.mark.parametrize("seed", [synth.SAMPLE.seed, 11])
def test_the_stars_drawn_follow_the_truths_probabilities(seed):
    truth = Truth(replace(synth.SAMPLE, seed=seed, n_files=1, prize_holdout=False))
    drawn = truth.drawn_ratings()
    probabilities = truth.star_probabilities(drawn["user_id"], drawn["movie_id"])
    expected = truth.expected_rating(drawn["user_id"], drawn["movie_id"])
    assert probabilities.sum(axis=1) == pytest.approx(1.0) and (probabilities >= 0).all()
    assert expected == pytest.approx(probabilities @ np.arange(1, 6))
    stars = drawn["rating"].to_numpy(np.float64)
    error = stars - expected
    assert abs(error.mean()) < 5 * error.std() / np.sqrt(len(error))  # the mean error is noise
    counts = np.bincount(stars.astype(int), minlength=6)[1:]
    chi2 = ((counts - probabilities.sum(axis=0)) ** 2 / probabilities.sum(axis=0)).sum()
    assert chi2 < 18.5  # 4 degrees of freedom: P(chi2 > 18.5) < 0.001
    # The expected rating carries the signal: stars rise with it, far beyond noise.
    assert np.corrcoef(stars, expected)[0, 1] > 0.5


def test_a_fresh_draw_has_the_same_distribution(tiny_truth):
    drawn = tiny_truth.drawn_ratings()
    users, movies = (
        np.repeat(drawn["user_id"].to_numpy()[:50], 4000),
        np.repeat(drawn["movie_id"].to_numpy()[:50], 4000),
    )
    stars = tiny_truth.draw_stars(np.random.default_rng(0), users, movies).reshape(50, 4000)
    assert stars.mean(axis=1) == pytest.approx(tiny_truth.expected_rating(users[::4000], movies[::4000]), abs=0.06)
    like = tiny_truth.like_probability(users[::4000], movies[::4000])
    assert (stars >= 4).mean(axis=1) == pytest.approx(like, abs=0.03)


def test_propensities_match_the_frequencies_of_replayed_draws(tiny_truth):
    pop = tiny_truth.population
    users = tiny_truth.user_ids
    for movie in np.argsort(-pop.movie_count, kind="stable")[[0, 10, 40]]:
        forced = pop.forced_users[pop.forced_ptr[movie] : pop.forced_ptr[movie + 1]]
        rng, replays = np.random.default_rng(int(movie)), 2000
        frequency = np.zeros(synth.TINY.n_users)
        for _ in range(replays):
            frequency[
                pop.user_sampler.distinct(rng, forced, int(pop.movie_count[movie]), pop.movie_affinity[movie])
            ] += 1
        frequency /= replays
        # by generator index: user_ids are sorted raw ids, user_order maps them back
        propensity = np.empty(synth.TINY.n_users)
        propensity[tiny_truth.user_order] = tiny_truth.propensity(users, np.full(users.size, movie + 1))
        assert propensity.sum() == pytest.approx(pop.movie_count[movie])
        assert np.abs(propensity - frequency).max() < 0.06  # 2,000 replays: a frequency's sd is at most 0.011
        assert propensity[forced] == pytest.approx(1.0)


def test_unknown_ids_are_refused(tiny_truth):
    with pytest.raises(KeyError):
        tiny_truth.expected_rating([1], [1])  # raw ids are sparse in 1..2,649,429: 1 was not drawn
    with pytest.raises(KeyError):
        tiny_truth.expected_rating(tiny_truth.user_ids[:1], [synth.TINY.n_movies + 1])


def test_observed_ratings_overstate_the_true_mean(tiny_truth):
    # Exposure follows taste and popular movies are rated higher: the mean of what was rated exceeds the
    # mean over all pairs, which the truth gives and the files cannot.
    drawn = tiny_truth.drawn_ratings()
    every = pd.MultiIndex.from_product([tiny_truth.user_ids, tiny_truth.movie_ids]).to_frame(index=False)
    assert drawn["rating"].mean() > tiny_truth.expected_rating(every[0], every[1]).mean() + 0.2


def test_the_mean_by_movie_is_the_mean_over_every_pair(tiny_truth, monkeypatch):
    every = pd.MultiIndex.from_product([tiny_truth.user_ids, tiny_truth.movie_ids]).to_frame(index=False)
    expected = tiny_truth.expected_rating(every[0], every[1]).reshape(len(tiny_truth.user_ids), -1).mean(axis=0)
    monkeypatch.setattr("cfutils.data.synth.truth._CELLS_PER_BLOCK", 7 * synth.TINY.n_users)  # blocks of 7 movies
    by_movie = tiny_truth.mean_expected_by_movie()
    assert by_movie.index.tolist() == list(range(1, synth.TINY.n_movies + 1))
    assert by_movie.to_numpy() == pytest.approx(expected)


def test_every_movies_propensities_add_up_to_its_count(tiny_truth):
    every = pd.MultiIndex.from_product([tiny_truth.user_ids, tiny_truth.movie_ids]).to_frame(index=False)
    propensity = tiny_truth.propensity(every[0], every[1]).reshape(len(tiny_truth.user_ids), -1)
    assert ((propensity > 0) & (propensity <= 1)).all()
    assert propensity.sum(axis=0) == pytest.approx(tiny_truth.population.movie_count, rel=1e-9)
