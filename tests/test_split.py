import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ratings_factory import random_ratings, ratings_frame, ratings_frames

from cfutils.data.split import (
    GLOBAL_TIME,
    PER_USER_TIME,
    PROBE,
    RANDOM,
    SPLIT_METHODS,
    _chronological_order,
    _latest,
    chronological_folds,
    file_order_split,
    hashed_split,
    make_split,
    pair_hash,
    per_user_temporal_split,
    random_split,
    sample_ids,
    sample_ratings,
    sample_rows,
    split_method,
    temporal_split,
    validation_cut,
    validation_folds,
    validation_split_for,
)

SETTINGS = settings(max_examples=60, deadline=None)


def _keys(frame):
    return set(zip(frame["user_id"], frame["movie_id"]))


def _assert_partition(ratings, train, test):
    assert len(train) + len(test) == len(ratings)
    assert _keys(train) | _keys(test) == _keys(ratings)
    assert not (_keys(train) & _keys(test))


@SETTINGS
@given(ratings_frames(), st.sampled_from([0.1, 0.2, 0.5]))
def test_temporal_split_matches_sorted_reference(ratings, test_size):
    train, test = temporal_split(ratings, test_size)
    _assert_partition(ratings, train, test)
    # Reference: sort by (date, user, movie) in plain Python, take the tail.
    rows = sorted(zip(ratings["date"], ratings["user_id"], ratings["movie_id"]))
    n_test = int(round(test_size * len(rows)))
    expected_test = {(u, m) for _, u, m in rows[len(rows) - n_test :]}
    assert _keys(test) == expected_test
    if len(train) and len(test):
        assert train["date"].max() <= test["date"].min()


@SETTINGS
@given(ratings_frames(), st.data())
def test_latest_rows_are_the_tail_of_the_full_chronological_sort(ratings, data):
    # The fast cut (one partition, a sort of the tied day only) against the full three-key lexsort.
    n_latest = data.draw(st.integers(0, len(ratings)))
    expected = np.zeros(len(ratings), dtype=bool)
    expected[_chronological_order(ratings)[len(ratings) - n_latest :]] = True
    np.testing.assert_array_equal(_latest(ratings, n_latest), expected)


def test_latest_rows_on_one_crowded_day_follow_user_then_movie():
    ratings = random_ratings(n_users=30, n_movies=40, n_ratings=500, n_days=3, seed=2)
    for n_latest in (1, 137, 250, 499):
        expected = np.zeros(len(ratings), dtype=bool)
        expected[_chronological_order(ratings)[len(ratings) - n_latest :]] = True
        np.testing.assert_array_equal(_latest(ratings, n_latest), expected)


def test_latest_rows_do_not_depend_on_the_date_unit_and_never_exceed_the_frame():
    ratings = random_ratings(n_users=30, n_movies=40, n_ratings=500, n_days=3, seed=2)
    in_seconds = _latest(ratings, 137)
    for unit in ("datetime64[ns]", "datetime64[ms]"):
        np.testing.assert_array_equal(_latest(ratings.astype({"date": unit}), 137), in_seconds)
    with pytest.raises(ValueError, match="latest 501 of 500"):
        _latest(ratings, 501)


@SETTINGS
@given(ratings_frames())
def test_temporal_split_ignores_input_row_order(ratings):
    shuffled = ratings.sample(frac=1.0, random_state=1)
    assert _keys(temporal_split(ratings).test) == _keys(temporal_split(shuffled).test)


def test_temporal_split_breaks_same_day_ties_by_ids():
    ratings = ratings_frame([3, 1, 2, 1], [1, 2, 1, 1], [4, 4, 4, 4], days=[0, 5, 5, 5])
    train, test = temporal_split(ratings, test_size=0.5)
    # Day 5 holds three ratings; the order (user, movie) puts (1,1), (1,2) first, so (2,1) is last.
    assert _keys(test) == {(1, 2), (2, 1)}
    assert train.index.tolist() == [0, 3]  # input order kept


@SETTINGS
@given(ratings_frames(), st.sampled_from([0.2, 0.5]))
def test_per_user_split_takes_each_users_latest(ratings, test_size):
    train, test = per_user_temporal_split(ratings, test_size)
    _assert_partition(ratings, train, test)
    for user, group in ratings.groupby("user_id"):
        rows = sorted(zip(group["date"], group["movie_id"]))
        n_test = int(np.floor(test_size * len(rows)))
        expected = {(user, m) for _, m in rows[len(rows) - n_test :]}
        assert {k for k in _keys(test) if k[0] == user} == expected
    assert set(test["user_id"]) <= set(train["user_id"])


@SETTINGS
@given(ratings_frames(min_size=2), st.integers(0, 5))
def test_random_split_is_seeded_and_sized(ratings, seed):
    first = random_split(ratings, 0.5, seed)
    again = random_split(ratings, 0.5, seed)
    _assert_partition(ratings, *first)
    assert _keys(first.test) == _keys(again.test)
    assert len(first.test) == int(round(0.5 * len(ratings)))


def test_make_split_dispatches_and_rejects_unknown():
    ratings = ratings_frame([1, 1, 2, 2], [1, 2, 1, 2], [1, 2, 3, 4], days=[0, 1, 2, 3])
    assert _keys(make_split(ratings, "global_time", 0.5).test) == {(2, 1), (2, 2)}
    assert _keys(make_split(ratings, "per_user_time", 0.5).test) == {(1, 2), (2, 2)}
    assert len(make_split(ratings, "random", 0.5, seed=3).test) == 2
    with pytest.raises(ValueError, match="unknown split"):
        make_split(ratings, "by_movie")
    with pytest.raises(ValueError, match="test_size"):
        temporal_split(ratings, 1.0)


def test_file_order_split_on_movie_grouped_file_splits_by_movie():
    # Netflix files are grouped by movie: the tutorial's split puts whole movies in test.
    ratings = ratings_frame([1, 2, 3, 1, 2, 3, 1, 2, 3, 4], [1, 1, 1, 2, 2, 2, 3, 3, 3, 3], [3] * 10, days=range(10))
    train, test = file_order_split(ratings, 0.2)
    assert set(test["movie_id"]) == {3} and len(test) == 2


def test_sample_ratings_keeps_only_drawn_users_and_movies():
    ratings = ratings_frame(np.repeat(np.arange(10), 10), np.tile(np.arange(10), 10), np.ones(100))
    sample = sample_ratings(ratings, n_users=4, n_movies=5, seed=7)
    assert sample["user_id"].nunique() == 4 and sample["movie_id"].nunique() == 5
    assert len(sample) == 20  # complete grid: every drawn user rated every drawn movie
    assert sample.equals(sample_ratings(ratings, n_users=4, n_movies=5, seed=7))
    pd.testing.assert_frame_equal(sample_ratings(ratings), ratings)


@SETTINGS
@given(st.integers(0, 30), st.one_of(st.none(), st.integers(0, 40)), st.integers(0, 5))
def test_sample_ids_draws_a_sorted_subset_the_seeded_way(n, size, seed):
    ids = np.arange(n) * 3 + 10
    drawn = sample_ids(ids, size, seed)
    if size is None or size >= n:
        assert np.array_equal(drawn, ids)
        assert sample_rows(n, size, seed) is None  # every row
    else:
        expected = sorted(np.random.default_rng(seed).choice(ids, size, replace=False).tolist())
        assert drawn.tolist() == expected and len(set(expected)) == size
        assert sample_rows(n, size, seed).tolist() == sorted(np.random.default_rng(seed).choice(n, size, replace=False))


@SETTINGS
@given(ratings_frames(), st.integers(2, 6))
def test_chronological_folds_match_a_plain_python_reference(ratings, n_folds):
    rows = sorted(zip(ratings["date"], ratings["user_id"], ratings["movie_id"]))
    got = dict(zip(zip(ratings["user_id"], ratings["movie_id"]), chronological_folds(ratings, n_folds, GLOBAL_TIME)))
    assert [got[(u, m)] for _, u, m in rows] == [p * n_folds // len(rows) for p in range(len(rows))]

    got = dict(zip(zip(ratings["user_id"], ratings["movie_id"]), chronological_folds(ratings, n_folds, PER_USER_TIME)))
    for user in set(ratings["user_id"]):
        mine = [(u, m) for _, u, m in rows if u == user]
        assert [got[key] for key in mine] == [p * n_folds // len(mine) for p in range(len(mine))]


def test_each_split_name_maps_to_its_object_in_one_place():
    ratings = random_ratings(n_users=20, n_ratings=200, n_days=300, seed=4)
    assert SPLIT_METHODS == ("global_time", "per_user_time", "random", "probe", "given")
    for name, function in [("global_time", temporal_split), ("per_user_time", per_user_temporal_split)]:
        method = split_method(name)
        assert method.name == name and str(method) == name and split_method(method) is method
        assert make_split(ratings, method, 0.25).test.index.equals(function(ratings, 0.25).test.index)
        assert make_split(ratings, name, 0.25).test.index.equals(function(ratings, 0.25).test.index)
    assert make_split(ratings, RANDOM, 0.25, seed=5).test.index.equals(random_split(ratings, 0.25, seed=5).test.index)
    with pytest.raises(ValueError, match="probe.txt"):
        make_split(ratings, PROBE)
    with pytest.raises(ValueError, match="unknown split 'file_order'; choose one of global_time"):
        split_method("file_order")


def test_chronological_folds_refuse_random_and_single_folds():
    ratings = ratings_frame([1, 1, 2], [1, 2, 1], [3, 4, 5], days=[0, 1, 2])
    with pytest.raises(ValueError, match="random"):
        chronological_folds(ratings, 3, RANDOM)
    with pytest.raises(ValueError, match="n_folds"):
        chronological_folds(ratings, 1)


@pytest.mark.parametrize(
    "test_split, validation",
    [
        ("global_time", "global_time"),
        ("per_user_time", "per_user_time"),
        ("random", "global_time"),
        ("probe", "global_time"),
        ("given", "global_time"),
    ],
)
def test_rating_predictors_are_always_validated_on_a_time_cut(test_split, validation):
    assert validation_split_for(test_split) == split_method(validation) and split_method(validation).name == validation
    ratings = random_ratings(n_users=20, n_ratings=200, n_days=300, seed=4)
    cut = validation_cut(ratings, test_split, 0.25)
    expected = make_split(ratings, validation, 0.25)
    assert cut.train.index.equals(expected.train.index) and cut.test.index.equals(expected.test.index)
    with pytest.raises(ValueError, match="unknown split"):
        validation_split_for("file_order")
    with pytest.raises(ValueError, match="unknown split"):
        validation_cut(ratings, "file_order")


@pytest.mark.parametrize("test_split", ["global_time", "per_user_time", "random"])
def test_lists_are_validated_by_the_test_splits_own_rule(test_split):
    assert validation_split_for(test_split, lists=True) == split_method(test_split)
    ratings = random_ratings(n_users=20, n_ratings=200, n_days=300, seed=4)
    cut = validation_cut(ratings, test_split, 0.25, lists=True, seed=3)
    expected = make_split(ratings, test_split, 0.25, seed=3)
    assert cut.train.index.equals(expected.train.index) and cut.test.index.equals(expected.test.index)
    with pytest.raises(ValueError, match="'probe' is for rating predictors"):
        validation_split_for("probe", lists=True)
    with pytest.raises(ValueError, match="unknown split"):
        validation_split_for("file_order", lists=True)


def test_given_lists_are_validated_at_random_and_given_needs_the_test_pairs():
    # MovieLens 100K's fixed folds are random test sets: top-N lists are validated on a random cut
    assert validation_split_for("given", lists=True) == RANDOM
    ratings = random_ratings(n_users=20, n_ratings=200, n_days=300, seed=4)
    with pytest.raises(ValueError, match=r"SPLIT='given' needs DATA to name a MovieLens 100K \.base file"):
        make_split(ratings, "given")
    pairs = ratings.iloc[[3, 7, 11]][["user_id", "movie_id"]]
    train, test = make_split(ratings, "given", probe=pairs)
    assert test.index.tolist() == ratings.index[[3, 7, 11]].tolist() and len(train) == len(ratings) - 3


def test_hashed_split_is_a_seeded_share_that_ignores_row_order():
    ratings = random_ratings(300, 200, n_ratings=20_000, seed=4)
    train, test = hashed_split(ratings, 0.2, seed=9)
    assert len(train) + len(test) == len(ratings) and abs(len(test) / len(ratings) - 0.2) < 0.02
    shuffled = ratings.sample(frac=1.0, random_state=1)
    _, again = hashed_split(shuffled, 0.2, seed=9)
    assert set(zip(again.user_id, again.movie_id)) == set(zip(test.user_id, test.movie_id))
    _, other = hashed_split(ratings, 0.2, seed=10)
    assert not other.index.equals(test.index)
    # Pinned: Spark computes the same hash (tests/test_spark.py); a change here changes every random split.
    assert pair_hash([1, 2], [3, 3], 7).tolist() == [2627545901, 1132771259]


@pytest.mark.parametrize("test_split", ["global_time", "per_user_time", "random"])
def test_rolling_validation_folds_are_disjoint_equal_windows_each_before_the_last(test_split):
    ratings = random_ratings(n_users=30, n_movies=60, n_ratings=900, n_days=400, seed=5)
    folds = validation_folds(ratings, test_split, 0.2, 3, lists=True, seed=1)
    # fold 0 is the ordinary validation cut; fold k is cut again from fold k-1's fit part
    first = validation_cut(ratings, test_split, 0.2, lists=True, seed=1)
    assert folds[0].train.index.equals(first.train.index) and folds[0].test.index.equals(first.test.index)
    for k in range(1, 3):
        _assert_partition(folds[k - 1].train, folds[k].train, folds[k].test)
    # every validation part holds about a fifth of train, and no rating is validated twice
    sizes = np.array([len(fold.test) for fold in folds])
    assert np.all(np.abs(sizes - 0.2 * len(ratings)) <= 0.2 * len(ratings) * 0.25), sizes
    held = np.concatenate([fold.test.index.to_numpy() for fold in folds])
    assert np.unique(held).size == held.size
    if test_split == "global_time":  # fold k ends where fold k - 1 begins
        for k in range(1, 3):
            assert folds[k].test["date"].max() <= folds[k - 1].test["date"].min()
    if test_split == "per_user_time":  # the same, user by user
        for k in range(1, 3):
            later = folds[k - 1].test.groupby("user_id")["date"].min()
            earlier = folds[k].test.groupby("user_id")["date"].max()
            both = later.index.intersection(earlier.index)
            assert (earlier[both] <= later[both]).all()


def test_rolling_validation_folds_refuse_windows_that_do_not_fit():
    ratings = random_ratings(n_users=5, n_ratings=50, n_days=40, seed=1)
    with pytest.raises(ValueError, match="n_folds >= 1 and n_folds \\* test_size < 1"):
        validation_folds(ratings, "per_user_time", 0.25, 4)
    with pytest.raises(ValueError, match="n_folds >= 1"):
        validation_folds(ratings, "per_user_time", 0.2, 0)


def test_random_validation_folds_of_two_seeds_never_share_a_draw():
    ratings = random_ratings(n_users=30, n_movies=60, n_ratings=900, n_days=400, seed=5)
    seed_0 = validation_folds(ratings, "random", 0.2, 2, lists=True, seed=0)
    seed_1 = validation_folds(ratings, "random", 0.2, 2, lists=True, seed=1)
    # fold 1 of seed 0 is not fold 0 of seed 1 cut again from the same rest (the draws would coincide with seed + k)
    same_rest = validation_cut(seed_0[0].train, "random", 0.25, lists=True, seed=1)
    assert not seed_0[1].test.index.equals(same_rest.test.index)
    assert not seed_0[0].test.index.equals(seed_1[0].test.index)
