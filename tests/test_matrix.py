import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ratings_factory import ratings_frame, ratings_frames

from cfutils.core.matrix import TABLE_MIN_LOOKUPS, RatingMatrix, index_of
from cfutils.data.synth import MAX_CUSTOMER_ID, NETFLIX
from cfutils.eval.stats import dense_bytes, sparsity

SETTINGS = settings(max_examples=60, deadline=None)


def _dense_reference(ratings):
    """Plain-Python matrix: {(user, movie): rating} with sorted id lists."""
    users = sorted(set(ratings["user_id"]))
    movies = sorted(set(ratings["movie_id"]))
    dense = np.zeros((len(users), len(movies)))
    for u, m, r in zip(ratings["user_id"], ratings["movie_id"], ratings["rating"]):
        dense[users.index(u), movies.index(m)] = r
    return users, movies, dense


@SETTINGS
@given(ratings_frames())
def test_matrix_equals_dense_reference(ratings):
    matrix = RatingMatrix.from_ratings(ratings)
    users, movies, dense = _dense_reference(ratings)
    assert matrix.user_ids.tolist() == users and matrix.movie_ids.tolist() == movies
    np.testing.assert_array_equal(matrix.csr.toarray(), dense)
    np.testing.assert_array_equal(matrix.csc.toarray(), dense)
    assert matrix.csr.dtype == np.float32 and matrix.nnz == len(ratings)
    rated = dense > 0
    np.testing.assert_allclose(matrix.user_means(), dense.sum(1) / rated.sum(1))
    np.testing.assert_allclose(matrix.movie_means(), dense.sum(0) / rated.sum(0))
    assert matrix.global_mean == pytest.approx(dense[rated].mean())
    assert sparsity(matrix) == pytest.approx(1 - rated.sum() / dense.size)


@SETTINGS
@given(ratings_frames())
def test_lookups_round_trip_and_flag_unknown_ids(ratings):
    matrix = RatingMatrix.from_ratings(ratings)
    np.testing.assert_array_equal(matrix.user_ids[matrix.user_index(ratings["user_id"])], ratings["user_id"])
    np.testing.assert_array_equal(matrix.movie_ids[matrix.movie_index(ratings["movie_id"])], ratings["movie_id"])
    unknown = np.array([-5, 0, 2, 10**6])  # the factory's raw ids are 7u+3 and 5m+1: none of these
    assert (matrix.user_index(unknown) == -1).all()
    assert (matrix.movie_index(unknown + 1000) == -1).all()


def test_compact_ids_not_raw_ids():
    # Netflix-like sparse raw ids: the tutorial's raw-id matrix would have 2.6M rows here.
    ratings = ratings_frame([7, MAX_CUSTOMER_ID], [1, NETFLIX.n_movies], [3, 4])
    matrix = RatingMatrix.from_ratings(ratings)
    assert matrix.csr.shape == (2, 2)
    assert dense_bytes(matrix) == 16


def test_duplicates_are_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        RatingMatrix.from_ratings(ratings_frame([1, 1], [1, 1], [3, 4]))


@SETTINGS
@given(
    st.integers(-50, 10**7), st.sets(st.integers(0, 4000), max_size=40), st.lists(st.integers(-100, 4100), max_size=60)
)
def test_index_of_equals_a_dict_lookup_by_table_and_by_search(offset, ids, raw):
    # few lookups search; many (TABLE_MIN_LOOKUPS or more) among ids of a modest range read a table
    sorted_ids = np.array(sorted(ids), dtype=np.int64) + offset
    raw = np.array(raw + sorted(ids), dtype=np.int64) + offset  # unknown ids, and the known ones
    position = {int(i): p for p, i in enumerate(sorted_ids)}
    for lookups in (raw, np.resize(raw, TABLE_MIN_LOOKUPS + 7) if raw.size else raw):
        found = index_of(sorted_ids.astype(np.int32), lookups)
        assert found.dtype == np.int64 and found.tolist() == [position.get(int(r), -1) for r in lookups]
