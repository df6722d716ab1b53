"""The numba dot-product kernels against dense numpy, and ``matrix.with_data``."""

import numpy as np
import scipy.sparse as sp

from cfutils.core.matrix import with_data
from cfutils.core.similarity.kernels import (
    accumulate_count,
    accumulate_product,
    operand,
    pattern_gram,
    pattern_product,
    row_dots,
)


def half_star_matrix(seed: int, shape=(30, 12), density=0.3) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    X = sp.random(*shape, density=density, format="csr", random_state=rng, dtype=np.float32)
    X.data = (np.ceil(X.data * 10) / 2).astype(np.float32)  # 0.5 .. 5 in half stars
    return X


def test_accumulate_product_adds_the_dense_product_of_the_chosen_rows():
    X = half_star_matrix(0)
    rows = np.array([3, 0, 3, 17])
    out = np.ones((rows.size, X.shape[0]))
    X_csc = X.tocsc()
    accumulate_product(X.indptr, X.indices, X.data, X_csc.indptr, X_csc.indices, X_csc.data, rows, out)
    dense = X.toarray().astype(np.float64)
    np.testing.assert_array_equal(out, 1 + dense[rows] @ dense.T)


def test_accumulate_count_adds_the_product_of_the_stored_patterns():
    X = half_star_matrix(3)
    rows = np.array([5, 5, 0, 29])
    out = np.full((rows.size, X.shape[0]), 2, dtype=np.float32)
    X_csc = X.tocsc()
    accumulate_count(X.indptr, X.indices, X_csc.indptr, X_csc.indices, rows, out)
    stored = (X.toarray() != 0).astype(np.float64)
    np.testing.assert_array_equal(out, 2 + stored[rows] @ stored.T)


def test_pattern_product_counts_shared_cells_in_the_asked_dtype():
    X = half_star_matrix(4, shape=(40, 15), density=0.4)
    rows = np.array([0, 7, 39])
    stored = (X.toarray() != 0).astype(np.float64)
    for dtype in (np.float32, np.float64):
        counts = pattern_product(operand(X), operand(X.T.tocsr()), rows, dtype)
        assert counts.dtype == dtype
        np.testing.assert_array_equal(counts, stored[rows] @ stored.T)


def test_pattern_gram_counts_the_rows_each_pair_of_columns_shares():
    X = half_star_matrix(5, shape=(40, 13))  # values are not 1: only the pattern counts
    pattern = (X != 0).astype(np.float64).toarray()
    for n_threads in (1, 3, 20):
        gram = pattern_gram(X, n_threads)
        assert gram.dtype == np.float64
        np.testing.assert_array_equal(gram, pattern.T @ pattern)


def test_row_dots_are_the_dot_products_of_the_pairs():
    X = half_star_matrix(1).astype(np.float64)
    rows = np.array([0, 0, 4, 4, 4, 9])
    columns = np.array([1, 0, 29, 3, 4, 9])
    dense = X.toarray()
    expected = np.einsum("ij,ij->i", dense[rows], dense[columns])
    np.testing.assert_array_equal(row_dots(X.indptr, X.indices, X.data, X.shape[1], rows, columns), expected)


def test_with_data_keeps_the_pattern_and_copies_it_unless_told_to_share():
    X = half_star_matrix(2)
    data = np.arange(X.nnz, dtype=np.float32)
    for copy in (True, False):
        Y = with_data(X, data, copy=copy)
        assert Y.shape == X.shape and (Y.indptr == X.indptr).all() and (Y.indices == X.indices).all()
        np.testing.assert_array_equal(Y.data, data)
        assert np.shares_memory(Y.indices, X.indices) is not copy
