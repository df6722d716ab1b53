"""cfutils.rating.features against a slow reference written straight from the definition.

The reference loops over pairs in Python and compares cosines exactly: it ranks neighbours by
cos^2 as a ``Fraction`` of Python integers (the same order as cos, since only cos > 0 counts), so a mathematical
tie is always a tie and goes to the smaller id. Ratings are whole or half stars. The fast
path returns float32; ratings are exact there, and only the averages (GAvg, UAvg, MAvg and
the padding) are compared within float32 rounding (rtol 1e-6, far below the 0.5-star gap
between two different ratings, so a wrong neighbour can never hide in the tolerance).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfutils.core.matrix import RatingMatrix
from cfutils.core.memory import MemoryBudgetError
from cfutils.core.train_data import TrainData
from cfutils.data.io import read_ratings
from cfutils.data.split import temporal_split
from cfutils.data.synth import TINY, write_preset
from cfutils.rating.features import feature_names, neighbour_ratings, similarity_features
from tests.ratings_factory import ratings_frame, ratings_frames

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- the reference


def _cos_squared(x: dict, y: dict) -> Fraction:
    """cos^2 of two sparse rating vectors, exactly (0 when they share nothing).

    Ratings are whole or half stars, so twice a rating is an integer and Python's integers
    keep the dot product and the norms exact (cos is scale-free).
    """
    dot = sum(int(2 * r) * int(2 * y[key]) for key, r in x.items() if key in y)
    norms = sum(int(2 * r) ** 2 for r in x.values()) * sum(int(2 * r) ** 2 for r in y.values())
    return Fraction(dot * dot, norms) if dot > 0 else Fraction(0)


def _top_ratings(a, b, rows: dict, n: int, allowed=None) -> list[float]:
    """Ratings of b by the n rows v != a most similar to row a that rated b (cos > 0).

    ``allowed`` (optional) maps a to the set of its listed neighbours: only those v count.
    """
    candidates = []
    for v, row in rows.items():
        if v == a or b not in row or (allowed is not None and v not in allowed.get(a, ())):
            continue
        similarity = _cos_squared(rows[a], row)
        if similarity > 0:
            candidates.append((-similarity, v, row[b]))
    return [rating for _, _, rating in sorted(candidates)[:n]]


def reference_features(train: pd.DataFrame, pairs: pd.DataFrame, n: int = 5, user_allowed=None, movie_allowed=None):
    """The definition, pair by pair."""
    by_user, by_movie = {}, {}
    for u, m, r in zip(train["user_id"], train["movie_id"], train["rating"]):
        by_user.setdefault(int(u), {})[int(m)] = float(r)
        by_movie.setdefault(int(m), {})[int(u)] = float(r)
    gavg = float(np.mean(train["rating"].to_numpy(dtype=np.float64)))
    rows = []
    for u, m in zip(pairs["user_id"], pairs["movie_id"]):
        u, m = int(u), int(m)
        uavg = float(np.mean(list(by_user[u].values()))) if u in by_user else gavg
        mavg = float(np.mean(list(by_movie[m].values()))) if m in by_movie else gavg
        warm = u in by_user and m in by_movie
        sur = _top_ratings(u, m, by_user, n, user_allowed) if warm else []
        smr = _top_ratings(m, u, by_movie, n, movie_allowed) if warm else []
        rows.append([gavg, *sur, *[mavg] * (n - len(sur)), *smr, *[uavg] * (n - len(smr)), uavg, mavg])
    return pd.DataFrame(rows, columns=feature_names(n), index=pairs.index)


def assert_same_features(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    assert list(fast.columns) == list(slow.columns)
    assert fast.index.equals(slow.index)
    assert all(dtype == np.float32 for dtype in fast.dtypes)
    np.testing.assert_allclose(fast.to_numpy(np.float64), slow.to_numpy(np.float64), rtol=1e-6, atol=0)


# --------------------------------------------------------------------------- strategies


@st.composite
def train_and_pairs(draw, half_stars: bool = False):
    """A train frame and pairs: train pairs, test pairs (unseen ids included), with a rating column.

    Half the examples use only 1 and 2 stars: with two values, equal cosines between neighbours
    that rated the pair's movie differently are common, so a wrong tie rule changes the output.
    """
    ratings = draw(ratings_frames(max_users=9, max_movies=8, min_size=2))
    if draw(st.booleans()):
        ratings["rating"] = np.where(ratings["rating"] > 3, 2, 1).astype(np.float32)
    if half_stars:
        ratings["rating"] = (ratings["rating"] - draw(st.sampled_from([0.0, 0.5]))).astype(np.float32)
    is_test = np.array(draw(st.lists(st.booleans(), min_size=len(ratings), max_size=len(ratings))))
    if is_test.all():
        is_test[0] = False
    train, test = ratings[~is_test], ratings[is_test]
    extra = ratings_frame([3, 999, 999], [998, 1, 998], [1, 2, 3])  # unseen movie / user / both
    pairs = pd.concat([train.sample(frac=1.0, random_state=1), test, extra])
    pairs.index = np.arange(len(pairs))[::-1] * 3  # an index that is neither sorted nor a range
    return train, pairs


# --------------------------------------------------------------------------- exact path


@SETTINGS
@given(data=train_and_pairs(), n=st.sampled_from([1, 2, 5]))
def test_exact_features_equal_the_reference(data, n):
    train, pairs = data
    assert_same_features(similarity_features(train, pairs, n=n), reference_features(train, pairs, n))


@SETTINGS
@given(data=train_and_pairs(half_stars=True))
def test_exact_features_equal_the_reference_with_half_stars(data):
    train, pairs = data
    assert_same_features(similarity_features(train, pairs), reference_features(train, pairs))


@SETTINGS
@given(data=train_and_pairs(), block_bytes=st.sampled_from([8 * 9, 8 * 9 * 3]))
def test_tiny_budget_gives_the_same_features_block_by_block(data, block_bytes):
    """One or three similarity rows per block (of at most 9 users / 8 movies) change nothing."""
    train, pairs = data
    assert_same_features(similarity_features(train, pairs, budget_bytes=block_bytes), reference_features(train, pairs))


def test_hand_made_example():
    """Users 10 and 30 rate exactly like each other, so they tie for user 20; 10 wins by id."""
    train = ratings_frame(
        users=[10, 10, 20, 20, 20, 30, 30, 40],
        movies=[1, 2, 1, 2, 3, 1, 2, 3],
        ratings=[4, 2, 5, 1, 3, 4, 2, 1],
    )
    pairs = ratings_frame([20], [1], [5])
    features = similarity_features(train, pairs, n=2).iloc[0]
    # Raters of movie 1 other than 20: users 10 and 30, identical rows -> equal cosines -> 10 first.
    # Both rated movie 1 with 4. Movie 1's column (10:4, 20:5, 30:4) vs movie 2 (10:2, 20:1, 30:2)
    # and movie 3 (20:3, 40:1): user 20 rated both; cos(1,2) = 21/(sqrt(57) sqrt(9)) = 0.927,
    # cos(1,3) = 15/(sqrt(57) sqrt(10)) = 0.628, so smr = (r_20,2, r_20,3) = (1, 3).
    assert features[["sur1", "sur2", "smr1", "smr2"]].tolist() == [4, 4, 1, 3]
    assert features["GAvg"] == pytest.approx(22 / 8)
    assert features["UAvg"] == pytest.approx(3)
    assert features["MAvg"] == pytest.approx(13 / 3)


def test_mathematically_equal_cosines_of_different_rows_tie_and_go_to_the_smaller_id():
    """cos(1, 2) = cos(1, 3) = 4/sqrt(21) exactly, but dot / (norm * norm) in float64 gives
    0.8728715609439694 for user 2 and 0.8728715609439696 for user 3, which would put user 3 first."""
    train = ratings_frame(
        users=[1, 1, 1, 2, 2, 2, 2, 3, 3, 3],
        movies=[1, 2, 3, 1, 2, 3, 9, 2, 3, 9],
        ratings=[1, 2, 3, 2, 5, 4, 3, 1, 2, 1],
    )
    features = similarity_features(train, ratings_frame([1], [9], [0]), n=2)
    assert features[["sur1", "sur2"]].iloc[0].tolist() == [3, 1]


def test_unseen_users_and_movies_fall_back_to_the_averages():
    train = ratings_frame(users=[1, 1, 2], movies=[1, 2, 1], ratings=[5, 3, 1])
    pairs = ratings_frame(users=[1, 9, 9], movies=[7, 1, 7], ratings=[0, 0, 0])
    features = similarity_features(train, pairs)
    gavg, uavg_1, mavg_1 = 3.0, 4.0, 3.0
    expected = np.array(
        [
            [gavg, *[gavg] * 5, *[uavg_1] * 5, uavg_1, gavg],  # known user, unseen movie: MAvg = GAvg
            [gavg, *[mavg_1] * 5, *[gavg] * 5, gavg, mavg_1],  # unseen user: UAvg = GAvg
            [gavg] * 13,  # both unseen
        ]
    )
    np.testing.assert_array_equal(features.to_numpy(), expected.astype(np.float32))


def test_pairs_rating_column_is_never_read():
    train = ratings_frame(users=[1, 1, 2, 2, 3], movies=[1, 2, 1, 2, 1], ratings=[5, 3, 4, 2, 1])
    pairs = ratings_frame(users=[1, 3, 3], movies=[1, 2, 5], ratings=[1, 1, 1])
    with_rating = similarity_features(train, pairs)
    pd.testing.assert_frame_equal(with_rating, similarity_features(train, pairs.assign(rating=np.float32(5))))
    pd.testing.assert_frame_equal(with_rating, similarity_features(train, pairs.drop(columns=["rating", "date"])))


def test_no_leakage_changing_test_ratings_changes_no_test_feature(tiny_ratings):
    """Split by date, build test features, change every test rating, split and build again."""
    train, test = temporal_split(tiny_ratings)
    before = similarity_features(train, test)
    changed = tiny_ratings.copy()
    changed.loc[test.index, "rating"] = (6 - changed.loc[test.index, "rating"]).astype(np.float32)
    train_again, test_again = temporal_split(changed)
    pd.testing.assert_frame_equal(train_again, train)
    assert not np.array_equal(test_again["rating"], test["rating"])
    pd.testing.assert_frame_equal(similarity_features(train_again, test_again), before)


def test_embedded_sample_sized_data_equals_the_reference_on_a_subset(tiny_ratings):
    """The TINY synthetic preset (Netflix format, 400 users x 80 movies): train and test pairs."""
    train, test = temporal_split(tiny_ratings)
    for pairs in (train.sample(150, random_state=0), test.sample(150, random_state=0)):
        assert_same_features(similarity_features(train, pairs), reference_features(train, pairs))


def test_input_checks():
    train = ratings_frame(users=[1], movies=[1], ratings=[3])
    with pytest.raises(ValueError, match="n must be"):
        similarity_features(train, train, n=0)
    with pytest.raises(ValueError, match="k must be"):
        similarity_features(train, train, k=0)
    with pytest.raises(ValueError, match="no ratings"):
        similarity_features(train.iloc[:0], train)
    with pytest.raises(ValueError, match="duplicate"):
        similarity_features(pd.concat([train, train]), train)
    with pytest.raises(MemoryBudgetError, match="budget_bytes"):
        similarity_features(train, train, budget_bytes=1)


def test_empty_pairs_give_an_empty_frame_with_the_columns():
    train = ratings_frame(users=[1, 2], movies=[1, 1], ratings=[3, 4])
    features = similarity_features(train, train.iloc[:0], n=3)
    assert list(features.columns) == feature_names(3) and len(features) == 0


# --------------------------------------------------------------------------- top-k path


@st.composite
def neighbour_lists(draw, ids: np.ndarray) -> dict:
    """Random neighbour lists {a: {v, ...}} over raw ids, self excluded (cos may be 0 for some)."""
    return {
        int(a): set(draw(st.lists(st.sampled_from([int(v) for v in ids if v != a]), unique=True)))
        if len(ids) > 1
        else set()
        for a in ids
    }


def _as_csr(lists: dict, sorted_ids: np.ndarray, values) -> sp.csr_matrix:
    """The lists as a CSR over compact indices, with arbitrary stored values (they are not read)."""
    pairs = [(np.searchsorted(sorted_ids, a), np.searchsorted(sorted_ids, v)) for a, vs in lists.items() for v in vs]
    rows, cols = (list(x) for x in zip(*pairs)) if pairs else ([], [])
    return sp.csr_matrix((values[: len(rows)], (rows, cols)), shape=(len(sorted_ids),) * 2)


class GivenNeighbours(TrainData):
    """A train set whose neighbour lists are given (``{"users": csr, "movies": csr}``), whatever the k."""

    def __init__(self, ratings: pd.DataFrame, lists: dict):
        super().__init__(ratings)
        self.lists = lists

    def neighbours(self, side, k, **options):
        return self.lists[side]


@SETTINGS
@given(data=st.data())
def test_top_k_path_uses_only_the_listed_neighbours_in_exact_order(data):
    train, pairs = data.draw(train_and_pairs())
    matrix = RatingMatrix.from_ratings(train)
    user_lists = data.draw(neighbour_lists(matrix.user_ids))
    movie_lists = data.draw(neighbour_lists(matrix.movie_ids))
    values = np.random.default_rng(0).random(100) + 0.1
    lists = {
        "users": _as_csr(user_lists, matrix.user_ids, values),
        "movies": _as_csr(movie_lists, matrix.movie_ids, values),
    }
    fast = similarity_features(GivenNeighbours(train, lists), pairs, k=3)
    assert_same_features(fast, reference_features(train, pairs, 5, user_lists, movie_lists))


def test_neighbour_matrix_of_the_wrong_shape_is_refused():
    train = ratings_frame(users=[1, 2], movies=[1, 1], ratings=[3, 4])
    wrong = GivenNeighbours(train, {"users": sp.csr_matrix((3, 3)), "movies": sp.csr_matrix((1, 1))})
    with pytest.raises(ValueError, match="shape"):
        similarity_features(wrong, train, k=2)


@SETTINGS
@given(data=train_and_pairs())
def test_finite_k_at_least_the_number_of_users_and_movies_equals_exact(data):
    train, pairs = data
    k = max(train["user_id"].nunique(), train["movie_id"].nunique())
    pd.testing.assert_frame_equal(similarity_features(train, pairs, k=k), similarity_features(train, pairs))


@SETTINGS
@given(data=train_and_pairs(), k=st.sampled_from([None, 1, 3]))
def test_a_train_data_gives_exactly_the_features_of_its_frame(data, k):
    train, pairs = data
    pd.testing.assert_frame_equal(
        similarity_features(TrainData(train), pairs, k=k), similarity_features(train, pairs, k=k)
    )


def test_calls_on_one_train_data_build_its_matrix_and_neighbour_lists_once(build_counts, tiny_ratings):
    train, test = temporal_split(tiny_ratings)
    data = TrainData(train)
    lists = data.neighbours("users", 4), data.neighbours("movies", 4)
    first = similarity_features(data, train, k=4)
    second = similarity_features(data, test, k=4)
    assert (build_counts.matrices, build_counts.neighbour_lists) == (1, 2)  # the lists computed first are used
    assert data.neighbours("users", 4) is lists[0] and data.neighbours("movies", 4) is lists[1]
    pd.testing.assert_frame_equal(first, similarity_features(train, train, k=4))
    pd.testing.assert_frame_equal(second, similarity_features(train, test, k=4))
    assert (build_counts.matrices, build_counts.neighbour_lists) == (3, 6)  # a frame is wrapped anew each call


def test_neighbour_ratings_answers_the_transposed_question_too():
    """smr of (u, m) is sur of (m, u) on the transposed matrix: one function serves both."""
    X = sp.csr_matrix(np.array([[5, 0, 3], [4, 1, 0], [0, 2, 2]], dtype=np.float32))
    top = neighbour_ratings(X, X.tocsc(), None, np.array([0, 2]), np.array([1, 0]), 2)
    # Row 0 and column 1: raters of column 1 are rows 1 and 2; cos(0,1)=20/sqrt(34*17), cos(0,2)=6/sqrt(34*8).
    np.testing.assert_array_equal(top, np.array([[1, 2], [5, 4]], dtype=np.float32))


@pytest.fixture(scope="module")
def tiny_ratings(tmp_path_factory):
    return read_ratings(write_preset(tmp_path_factory.mktemp("tiny"), TINY), cache=False)
