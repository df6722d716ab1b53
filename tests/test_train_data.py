"""TrainData: each derived object built once, and equal to building it directly."""

import numpy as np
import pytest

from cfutils.core.matrix import RatingMatrix
from cfutils.core.similarity.engine import cosine_top_k
from cfutils.core.train_data import TrainData, as_train_data
from tests.ratings_factory import random_ratings


def test_matrix_and_binary_match_a_direct_build():
    ratings = random_ratings(n_users=30, n_movies=20, n_ratings=200, seed=1)
    data = TrainData(ratings)
    direct = RatingMatrix.from_ratings(ratings)
    assert (data.matrix.csr != direct.csr).nnz == 0
    assert np.array_equal(data.matrix.user_ids, direct.user_ids)
    assert data.binary.dtype == np.float32
    assert np.array_equal(data.binary.indices, direct.csr.indices)
    assert set(np.unique(data.binary.data)) == {1.0}
    # The pattern is the matrix's own index arrays, not a copy of them.
    assert np.shares_memory(data.binary.indices, data.matrix.csr.indices)
    assert np.shares_memory(data.binary.indptr, data.matrix.csr.indptr)
    assert data.matrix is data.matrix  # built once


@pytest.mark.parametrize("side", ["users", "movies"])
@pytest.mark.parametrize("binary", [False, True])
def test_neighbours_equal_cosine_top_k_and_are_cached(side, binary):
    ratings = random_ratings(n_users=40, n_movies=25, n_ratings=300, seed=2)
    data = TrainData(ratings)
    source = data.binary if binary else data.matrix.csr
    rows = source if side == "users" else source.T
    expected = cosine_top_k(rows, 3, dtype=np.float64)
    got = data.neighbours(side, 3, binary=binary, dtype=np.float64)
    assert (got != expected).nnz == 0
    assert data.neighbours(side, 3, binary=binary, dtype=np.float64) is got
    assert data.neighbours(side, 4, binary=binary, dtype=np.float64) is not got


def test_cached_builds_once_per_key_and_unknown_side_is_refused():
    data = TrainData(random_ratings(n_users=5, n_movies=5, n_ratings=10, seed=3))
    calls = []
    assert data.cached("a", lambda: calls.append(1) or len(calls)) == 1
    assert data.cached("a", lambda: calls.append(1) or len(calls)) == 1
    assert data.cached("b", lambda: calls.append(1) or len(calls)) == 2
    with pytest.raises(ValueError, match="side"):
        data.neighbours("items", 3)


def test_as_train_data_wraps_a_frame_and_passes_train_data_through():
    ratings = random_ratings(n_users=5, n_movies=5, n_ratings=10, seed=4)
    data = as_train_data(ratings)
    assert isinstance(data, TrainData) and data.ratings is ratings and len(data) == len(ratings)
    assert as_train_data(data) is data
