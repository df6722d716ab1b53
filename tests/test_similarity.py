"""cfutils.core.similarity (measures, engine, neighbours) against plain, loop-by-loop references.

Floating point: our blocks are float32 products (a numba kernel), the references float64 loops, so two
similarities that are equal in exact arithmetic (e.g. rows [1, 2] and [2, 4]) may come out in
either order. ``assert_valid_top_k`` therefore checks what holds whatever the rounding: values
agree within ``atol``, every kept neighbour is as good as the k-th best up to ``atol``, every
neighbour clearly better than the k-th is kept. Exact ties built on purpose (duplicate rows give
bit-identical values in both) are then checked index by index.

The default ``"cosine"`` of non-negative ratings is exact (module docstring of cfutils.core.similarity.engine):
its neighbour lists are compared index by index with ``exact_cosine_top_k``, which ranks by
cos² as a ``fractions.Fraction`` of integers (with the sign of the dot product).
"""

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from ratings_factory import ratings_frame

from cfutils.core.matrix import RatingMatrix
from cfutils.core.memory import MemoryBudgetError
from cfutils.core.similarity import (
    MEASURES,
    block_rows,
    cosine_top_k,
    find_movies,
    neighbour_recall,
    pick_movie,
    plan_top_k,
    shrinkage_factor,
    similar_movies,
    similar_users,
    similarity_rows,
    similarity_top_k,
    svd_cosine_top_k,
)
from cfutils.core.similarity.kernels import operand, product

SETTINGS = settings(max_examples=40, deadline=None)
ATOL_FLOAT32 = 1e-5  # float32 products of unit vectors: ~1e-7 relative error per term
ATOL_FLOAT64 = 1e-9


# --- plain references -------------------------------------------------------------------------


def reference_similarity(
    R: np.ndarray, measure: str = "cosine", min_support: int = 1, shrinkage: float = 0.0
) -> np.ndarray:
    """All pairs, one pair at a time, straight from the formulas (0 = not rated)."""
    n = R.shape[0]
    rated = R != 0
    if measure == "centered_cosine":
        means = [R[u, rated[u]].mean() if rated[u].any() else 0.0 for u in range(n)]
        R = np.where(rated, R - np.array(means)[:, None], 0.0)
    if measure == "adjusted_cosine":
        means = [R[rated[:, i], i].mean() if rated[:, i].any() else 0.0 for i in range(R.shape[1])]
        R = np.where(rated, R - np.array(means)[None, :], 0.0)
    S = np.zeros((n, n))
    for u in range(n):
        for v in range(n):
            common = rated[u] & rated[v]
            if measure == "pearson":
                x, y = R[u, common], R[v, common]
                x, y = x - x.mean() if x.size else x, y - y.mean() if y.size else y
                den = np.sqrt((x**2).sum() * (y**2).sum())
                sim = (x * y).sum() / den if den > 0 else 0.0
            else:
                den = np.sqrt((R[u] ** 2).sum() * (R[v] ** 2).sum())
                sim = (R[u] * R[v]).sum() / den if den > 0 else 0.0
            n_uv = common.sum()
            if n_uv < min_support:
                sim = 0.0
            if shrinkage > 0:
                sim *= max(n_uv - 1, 0) / (max(n_uv - 1, 0) + shrinkage)
            S[u, v] = min(sim, 1.0)
    return S


def reference_top_k(S: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """Per row: the k best (column, value) with value > 0, self excluded, ties to the smaller column."""
    return [
        sorted(((j, S[i, j]) for j in range(S.shape[0]) if j != i and S[i, j] > 0), key=lambda c: (-c[1], c[0]))[:k]
        for i in range(S.shape[0])
    ]


def exact_cosine_top_k(R: np.ndarray, k: int) -> list[list[int]]:
    """Per row: the k columns with the largest cosine > 0, self excluded, ties to the smaller column,
    ranked by cos² = d² / (|x_u|² |x_v|²) as exact fractions (R: whole or half stars, 0 = unrated)."""
    R = [[Fraction(x) for x in row] for row in np.asarray(R, dtype=np.float64).tolist()]
    squares = [sum(x * x for x in row) for row in R]
    lists = []
    for u, x_u in enumerate(R):
        dots = [sum(a * b for a, b in zip(x_u, x_v)) for x_v in R]
        positive = [v for v in range(len(R)) if v != u and dots[v] > 0]
        lists.append(sorted(positive, key=lambda v: (-(dots[v] ** 2) / (squares[u] * squares[v]), v))[:k])
    return lists


def rows_of(top_k: sp.csr_matrix) -> list[list[tuple[int, float]]]:
    """Each row's (column, value) pairs in stored order."""
    return [
        list(zip(top_k.indices[a:b].tolist(), top_k.data[a:b].tolist()))
        for a, b in zip(top_k.indptr[:-1], top_k.indptr[1:])
    ]


def assert_valid_top_k(top_k: sp.csr_matrix, S: np.ndarray, k: int, atol: float) -> None:
    """``top_k`` is a correct top-k of ``S`` up to ``atol`` (see the module docstring)."""
    n = S.shape[0]
    assert top_k.shape == (n, n)
    for i, row in enumerate(rows_of(top_k)):
        others = np.delete(S[i], i)
        columns = [j for j, _ in row]
        values = np.array([v for _, v in row])
        assert i not in columns and len(set(columns)) == len(columns)
        np.testing.assert_allclose(values, S[i, columns], atol=atol, rtol=0)
        assert np.all(values > 0)
        assert all((a[1], -a[0]) >= (b[1], -b[0]) for a, b in zip(row, row[1:])), "not best first"
        assert min(k, (others > atol).sum()) <= len(row) <= min(k, (others > -atol).sum())
        kth = np.sort(others)[::-1][len(row) - 1] if row else np.inf
        assert np.all(S[i, columns] >= kth - atol)
        clearly_better = [j for j in range(n) if j != i and S[i, j] > kth + atol]
        assert set(clearly_better) <= set(columns)


@st.composite
def rating_arrays(draw, max_rows: int = 14, max_cols: int = 8) -> np.ndarray:
    """Small dense 1..5-star matrices (0 = unrated), often with empty and duplicate rows."""
    n, m = draw(st.integers(1, max_rows)), draw(st.integers(1, max_cols))
    cells = draw(st.lists(st.integers(0, 5), min_size=n * m, max_size=n * m))
    R = np.array(cells, dtype=np.float64).reshape(n, m)
    R[R > 0] = np.ceil(R[R > 0])
    copies = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3))
    for source, target in copies:
        R[target] = R[source]
    return R


# --- similarity_top_k and cosine_top_k -----------------------------------------------------------------------------


@SETTINGS
@given(rating_arrays(), st.integers(1, 16), st.sampled_from(MEASURES))
def test_top_k_equals_brute_force(R, k, measure):
    top_k = similarity_top_k(sp.csr_matrix(R), k, measure=measure, n_threads=2, dtype=np.float64)
    assert_valid_top_k(top_k, reference_similarity(R, measure), k, ATOL_FLOAT64)


@SETTINGS
@given(rating_arrays(), st.integers(1, 16), st.sampled_from(MEASURES), st.integers(1, 4), st.sampled_from([0, 1, 2.5]))
def test_support_rules_equal_brute_force(R, k, measure, min_support, shrinkage):
    top_k = similarity_top_k(
        sp.csr_matrix(R), k, measure=measure, min_support=min_support, shrinkage=shrinkage, dtype=np.float64
    )
    assert_valid_top_k(top_k, reference_similarity(R, measure, min_support, shrinkage), k, ATOL_FLOAT64)


@SETTINGS
@given(rating_arrays(), st.sampled_from(MEASURES), st.integers(1, 4), st.sampled_from([0, 1, 2.5]), st.data())
def test_similarity_rows_equal_brute_force_negatives_and_self_included(R, measure, min_support, shrinkage, data):
    rows = data.draw(st.lists(st.integers(0, R.shape[0] - 1), max_size=5))
    expected = reference_similarity(R, measure, min_support, shrinkage)[np.unique(rows).astype(int)]
    got = similarity_rows(sp.csr_matrix(R), rows, measure=measure, min_support=min_support, shrinkage=shrinkage)
    np.testing.assert_allclose(got, expected.reshape(got.shape), atol=ATOL_FLOAT64)


def test_similarity_rows_on_opposite_tastes():
    """Ann and Cid rated the same three movies with opposite tastes: cosine 13/sqrt(35 * 27) > 0,
    Pearson on the centred co-ratings -8/sqrt(8 * 96/9) < 0; shrinkage 10 scales by (3 - 1)/(3 - 1 + 10)."""
    toy = np.array([[5, 3, 0, 1], [4, 0, 0, 1], [1, 1, 0, 5]])
    assert similarity_rows(toy, [0])[0, 2] == pytest.approx(13 / np.sqrt(35 * 27))
    pearson = -8 / np.sqrt(8 * 96 / 9)
    assert similarity_rows(toy, [0], measure="pearson")[0, 2] == pytest.approx(pearson)
    assert similarity_rows(toy, [0], measure="pearson", shrinkage=10)[0, 2] == pytest.approx(pearson * 2 / 12)
    with pytest.raises(MemoryBudgetError, match="budget_bytes"):
        similarity_rows(toy, [0, 1], budget_bytes=10)


@SETTINGS
@given(rating_arrays(), st.integers(1, 16))
def test_float32_input_and_result_within_tolerance(R, k):
    top_k = cosine_top_k(sp.csr_matrix(R, dtype=np.float32), k)
    assert top_k.dtype == np.float32
    assert_valid_top_k(top_k, reference_similarity(R), k, ATOL_FLOAT32)


@SETTINGS
@given(rating_arrays(), st.integers(1, 16), st.sampled_from([np.float32, np.float64]), st.booleans())
def test_cosine_neighbour_lists_are_exact(R, k, dtype, half_stars):
    R = R / 2 if half_stars else R
    top_k = cosine_top_k(sp.csr_matrix(R), k, n_threads=2, dtype=dtype)
    assert [[j for j, _ in row] for row in rows_of(top_k)] == exact_cosine_top_k(R, k)
    assert_valid_top_k(top_k, reference_similarity(R), k, ATOL_FLOAT32)  # values, and best first


@SETTINGS
@given(
    rating_arrays(), st.integers(1, 16), st.sampled_from([np.float32, np.float64]), st.sampled_from([1.0, 0.5, -3.0])
)
def test_cosine_of_a_binary_pattern_counts_shared_cells_exactly(R, k, dtype, value):
    # one value in every stored cell: the block counts shared cells (kernels.pattern_product)
    B = np.where(R > 0, value, 0.0)
    top_k = cosine_top_k(sp.csr_matrix(B), k, n_threads=2, dtype=dtype)
    assert [[j for j, _ in row] for row in rows_of(top_k)] == exact_cosine_top_k(np.abs(B), k)
    assert_valid_top_k(top_k, reference_similarity(B), k, ATOL_FLOAT32)


def test_a_binary_pattern_takes_the_counting_path(monkeypatch):
    R = np.array([[1, 1, 0, 1], [1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 1, 1]], dtype=np.float64)
    expected = rows_of(cosine_top_k(sp.csr_matrix(R), 2, dtype=np.float64))

    def no_valued_product(*args):
        raise AssertionError("a binary pattern must not multiply values")

    monkeypatch.setattr("cfutils.core.similarity.measures.product", no_valued_product)
    counted = rows_of(cosine_top_k(sp.csr_matrix(R), 2, dtype=np.float64))
    assert [[j for j, _ in row] for row in counted] == [[j for j, _ in row] for row in expected]
    with pytest.raises(AssertionError, match="must not multiply"):
        cosine_top_k(sp.csr_matrix(R * [[1], [2], [1], [1]]), 2)  # not one value: the valued product


@SETTINGS
@given(st.integers(0, 2**31), st.integers(1, 3))
def test_cosine_exact_on_random_integer_matrices(seed, k):
    # the review's setting: 8 x 5 matrices of 0..2 stars, where equal cosines are frequent
    R = np.random.default_rng(seed).integers(0, 3, size=(8, 5)).astype(np.float32)
    top_k = cosine_top_k(sp.csr_matrix(R), k)
    assert [[j for j, _ in row] for row in rows_of(top_k)] == exact_cosine_top_k(R, k)


def test_equal_cosines_that_round_apart_tie_to_the_smaller_index():
    # rows 3 and 6 both have cos² = 7/9 with row 0; float32 products ranked row 6 first
    R = np.zeros((7, 5), np.float32)
    R[0], R[3], R[6] = [2, 1, 1, 1, 0], [2, 0, 1, 2, 0], [2, 2, 1, 0, 0]
    for dtype in (np.float32, np.float64):
        for k in (1, 2):
            top_k = cosine_top_k(sp.csr_matrix(R), k, dtype=dtype)
            assert [j for j, _ in rows_of(top_k)[0]] == [3, 6][:k] == exact_cosine_top_k(R, k)[0]
        values = dict(rows_of(top_k)[0])
        assert values[3] == values[6], "equal cosines store equal values"


def test_exact_ties_go_to_the_smaller_index():
    # rows 1..5 are identical, so each has the same similarity to row 0 and to each other
    R = np.array(
        [
            [5, 1, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 0, 0],
            [0, 0, 3, 0],
            [0, 0, 0, 0],
        ],
        dtype=np.float32,
    )
    S = reference_similarity(R)
    for k in (1, 2, 3, 5, 9):
        top_k = cosine_top_k(sp.csr_matrix(R), k, n_threads=1)
        expected = reference_top_k(S, k)
        assert [[j for j, _ in row] for row in rows_of(top_k)] == [[j for j, _ in row] for row in expected]
    top_2 = rows_of(cosine_top_k(sp.csr_matrix(R), 2))
    assert [j for j, _ in top_2[0]] == [1, 2]  # five-way tie, cut after two: the two smallest indices
    assert [j for j, _ in top_2[3]] == [1, 2]  # its four twins tie at 1.0; row 0 is less similar


@SETTINGS
@given(rating_arrays(max_rows=10, max_cols=6), st.integers(1, 12), st.data())
def test_default_float32_path_keeps_duplicate_row_ties_exact(R, k, data):
    # copies of one row (some appended at the end) tie exactly with every other row, whatever the rounding
    n, m = R.shape
    twins = sorted(data.draw(st.lists(st.integers(0, n + 2), min_size=2, max_size=4, unique=True)))
    R = np.vstack([R, np.zeros((max(twins) + 1 - n, m))]) if max(twins) >= n else R
    R[twins] = R[data.draw(st.integers(0, n - 1))]
    top_k = cosine_top_k(sp.csr_matrix(R, dtype=np.float32), k, n_threads=2)
    assert_valid_top_k(top_k, reference_similarity(R), k, ATOL_FLOAT32)
    for a, row in enumerate(rows_of(top_k)):
        value = dict(row)
        found = [j for j in twins if j != a and j in value]
        missing = [j for j in twins if j != a and j not in value]
        assert len({value[j] for j in found}) <= 1, "identical rows must give bit-identical similarities"
        assert not found or not missing or min(missing) > max(found), "a tie must go to the smaller index"


@SETTINGS
@given(rating_arrays(), st.integers(1, 12), st.sampled_from(MEASURES), st.integers(1, 3), st.data())
def test_rows_equal_the_full_result_restricted_to_them(R, k, measure, min_support, data):
    n = R.shape[0]
    rows = data.draw(st.lists(st.integers(0, n - 1), max_size=2 * n))  # any order, duplicates allowed
    options = dict(measure=measure, min_support=min_support, dtype=np.float64)
    full = rows_of(similarity_top_k(sp.csr_matrix(R), k, **options))
    some = similarity_top_k(
        sp.csr_matrix(R),
        k,
        rows=np.array(rows, dtype=np.int64),
        n_threads=2,
        budget_bytes=plan_top_k(sp.csr_matrix(R), k, n_threads=2).fixed_bytes + 10**5,
        **options,
    )
    assert some.shape == (n, n)
    assert rows_of(some) == [full[i] if i in rows else [] for i in range(n)]


def test_rows_are_validated_and_planned():
    R = sp.random(50, 10, density=0.3, format="csr", random_state=0, dtype=np.float32)
    for bad in ([-1], [0, 50]):
        with pytest.raises(ValueError, match="rows"):
            cosine_top_k(R, 3, rows=bad)
    plan = plan_top_k(R, 3, rows=[4, 4, 9, 1], n_threads=1)
    assert plan.n_blocks * plan.block_rows >= 3 and plan.block_rows == 1  # 3 distinct rows, >= 4 blocks each
    assert plan.fixed_bytes < plan_top_k(R, 3, n_threads=1).fixed_bytes  # a smaller result
    assert cosine_top_k(R, 3, rows=[]).nnz == 0


@SETTINGS
@given(st.integers(1, 8), st.integers(1, 8), st.sampled_from([6, 70_000]), st.integers(0, 2**31), st.data())
def test_kernel_product_equals_the_dense_product(n_a, n_b, width, seed, data):
    # integer cells in float64: every sum is exact, so any summation order gives the same result
    A = sp.random(
        n_a,
        width,
        density=min(1.0, 8 / width),
        format="csr",
        random_state=seed,
        data_rvs=lambda size: np.random.default_rng(seed).integers(-5, 6, size),
    ).astype(np.float64)
    B = sp.random(
        n_b,
        width,
        density=min(1.0, 8 / width),
        format="csr",
        random_state=seed + 1,
        data_rvs=lambda size: np.random.default_rng(seed).integers(-5, 6, size),
    ).astype(np.float64)
    rows = np.array(data.draw(st.lists(st.integers(0, n_a - 1), max_size=5)), dtype=np.int64)
    expected = A.toarray()[rows] @ B.toarray().T
    assert np.array_equal(product(operand(A), operand(B.T.tocsr()), rows), expected)
    assert operand(A).indices.dtype == (np.uint16 if width <= 65_536 else np.uint32)


def test_empty_rows_and_k_larger_than_rows():
    R = sp.csr_matrix(np.array([[0, 0, 0], [1, 2, 0], [0, 0, 0], [2, 4, 1]], dtype=np.float32))
    top_k = cosine_top_k(R, k=100)
    assert top_k.shape == (4, 4) and top_k.dtype == np.float32
    assert np.diff(top_k.indptr).tolist() == [0, 1, 0, 1]  # empty rows: no neighbours, nobody's neighbour
    assert rows_of(top_k)[1][0][0] == 3 and rows_of(top_k)[3][0][0] == 1
    assert cosine_top_k(sp.csr_matrix((1, 5), dtype=np.float32), k=3).nnz == 0
    assert cosine_top_k(sp.csr_matrix((0, 5), dtype=np.float32), k=3).shape == (0, 0)


def test_only_positive_similarities_are_kept():
    R = np.array([[1, 0, 5, 0], [5, 0, 1, 0], [3, 3, 3, 3], [0, 4, 0, 0]], dtype=np.float64)
    top_k = similarity_top_k(sp.csr_matrix(R), k=3, measure="centered_cosine", dtype=np.float64)
    S = reference_similarity(R, "centered_cosine")
    assert S[0, 1] < 0 and 1 not in rows_of(top_k)[0]
    assert top_k[2].nnz == 0  # a constant row centres to zero


def test_dense_input_equals_sparse_input_and_input_is_untouched():
    R = sp.random(40, 12, density=0.3, format="csr", random_state=3, dtype=np.float32)
    before = R.copy()
    S = reference_similarity(R.toarray().astype(np.float64))
    assert_valid_top_k(cosine_top_k(R, 5, dtype=np.float64), S, 5, ATOL_FLOAT64)
    assert_valid_top_k(cosine_top_k(R.toarray(), 5, dtype=np.float64), S, 5, ATOL_FLOAT64)
    assert (R != before).nnz == 0 and R.dtype == np.float32


def test_pearson_equals_surprise():
    from surprise.similarities import pearson

    rng = np.random.default_rng(5)
    R = np.where(rng.random((12, 9)) < 0.5, rng.integers(1, 6, (12, 9)), 0).astype(np.float64)
    by_column = {i: [(u, R[u, i]) for u in range(12) if R[u, i]] for i in range(9)}
    expected = np.minimum(pearson(12, by_column, 2), 1.0)
    assert_valid_top_k(
        similarity_top_k(sp.csr_matrix(R), 11, measure="pearson", min_support=2, dtype=np.float64),
        expected,
        11,
        ATOL_FLOAT64,
    )


def test_block_size_follows_the_budget_and_results_do_not_depend_on_it():
    R = sp.random(200, 30, density=0.2, format="csr", random_state=0, dtype=np.float32)
    plans = [plan_top_k(R, 5, budget_bytes=budget, n_threads=1) for budget in (75_000, 100_000, 10**9)]
    assert [p.block_rows for p in plans] == sorted(p.block_rows for p in plans)
    assert plans[0].block_rows < plans[-1].block_rows
    for plan in plans:
        assert plan.n_blocks == -(-200 // plan.block_rows)
        assert plan.peak_bytes <= {0: 75_000, 1: 100_000}.get(plans.index(plan), 10**9)
    tiny_budget = plans[0].fixed_bytes + plans[0].bytes_per_row  # exactly one row per block
    assert plan_top_k(R, 5, budget_bytes=tiny_budget, n_threads=1).block_rows == 1
    one_row_blocks = cosine_top_k(R, 5, budget_bytes=tiny_budget, n_threads=1)
    assert rows_of(one_row_blocks) == rows_of(cosine_top_k(R, 5))


def test_block_rows_formula_and_threads_share_the_budget():
    assert block_rows(1000, bytes_per_row=100, fixed_bytes=1000, budget_bytes=11_000) == 100
    assert block_rows(1000, bytes_per_row=100, fixed_bytes=1000, budget_bytes=11_000, n_threads=2) == 50
    assert block_rows(30, bytes_per_row=100, fixed_bytes=0, budget_bytes=10**6) == 30


def test_too_small_budget_raises_a_clear_error():
    R = sp.random(200, 30, density=0.2, format="csr", random_state=0, dtype=np.float32)
    with pytest.raises(MemoryBudgetError, match="budget_bytes"):
        cosine_top_k(R, 5, budget_bytes=1000)
    with pytest.raises(MemoryBudgetError, match="budget_bytes"):
        block_rows(10, bytes_per_row=100, fixed_bytes=1000, budget_bytes=1050)


def test_bad_arguments_are_rejected():
    R = sp.random(5, 4, density=0.5, format="csr", random_state=0)
    for kwargs in ({"k": 0}, {"k": 2, "measure": "jaccard"}, {"k": 2, "shrinkage": -1}):
        with pytest.raises(ValueError):
            similarity_top_k(R, **kwargs)
    with pytest.raises(ValueError, match="dense"):
        similarity_top_k(R.toarray(), 2, measure="pearson")


def test_cosine_top_k_is_the_cosine_case_and_takes_no_measure():
    R = sp.random(30, 8, density=0.4, format="csr", random_state=1, dtype=np.float64)
    cosine = cosine_top_k(R, 4, min_support=2, dtype=np.float64)
    general = similarity_top_k(R, 4, measure="cosine", min_support=2, dtype=np.float64)
    assert rows_of(cosine) == rows_of(general)
    assert rows_of(cosine_top_k(R, 4)) == rows_of(similarity_top_k(R, 4))
    with pytest.raises(TypeError, match="measure"):
        cosine_top_k(R, 4, measure="pearson")


def test_shrinkage_factor_is_the_formula_and_refuses_no_shrinkage():
    counts = np.array([0.0, 1.0, 2.0, 11.0, 101.0])
    expected = [0.0, 0.0, 1 / 101, 10 / 110, 100 / 200]  # (n - 1) / (n - 1 + 100), 0 below two cells
    np.testing.assert_allclose(shrinkage_factor(counts, 100.0), expected, rtol=0, atol=1e-15)
    assert shrinkage_factor(counts.astype(np.float32), 100.0).dtype == np.float32
    with pytest.raises(ValueError, match="shrinkage"):
        shrinkage_factor(counts, 0.0)


def test_svd_approximation_is_exact_at_full_rank():
    R = sp.random(30, 8, density=0.5, format="csr", random_state=1, dtype=np.float32)
    approximate = svd_cosine_top_k(R, 4, n_components=8, dtype=np.float64)
    assert_valid_top_k(approximate, reference_similarity(R.toarray()), 4, 1e-6)


def test_neighbour_recall_counts_found_exact_neighbours():
    exact = sp.csr_matrix(np.array([[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0]]))
    approximate = sp.csr_matrix(np.array([[0, 1, 0, 1], [0, 0, 1, 0], [1, 1, 0, 0], [1, 1, 0, 0]]))
    assert neighbour_recall(exact, approximate) == pytest.approx((0.5 + 0 + 1) / 3)  # row 2 has no exact list
    assert neighbour_recall(exact, approximate, rows=[0, 3]) == pytest.approx(0.75)
    assert np.isnan(neighbour_recall(exact, approximate, rows=[2]))


# --- similar_movies / similar_users -----------------------------------------------------------


@pytest.fixture
def small_matrix() -> RatingMatrix:
    rng = np.random.default_rng(2)
    cells = [(u, m) for u in range(30) for m in range(12) if rng.random() < 0.4]
    users, movies = np.array(cells).T
    return RatingMatrix.from_ratings(ratings_frame(users * 10 + 7, movies * 3 + 100, rng.integers(1, 6, len(cells))))


def test_similar_movies_reads_or_computes_the_same_row(small_matrix):
    titles = pd.DataFrame(
        {"year": pd.array([1990 + i for i in range(12)], dtype="Int16"), "title": [f"Movie {i}" for i in range(12)]},
        index=pd.Index(small_matrix.movie_ids, name="movie_id"),
    ).iloc[:-1]  # one title missing
    top_k = cosine_top_k(small_matrix.csc.T, 4)
    movie = int(small_matrix.movie_ids[5])
    computed = similar_movies(small_matrix, movie, k=4, titles=titles)
    read = similar_movies(small_matrix, movie, k=4, titles=titles, top_k=top_k)
    pd.testing.assert_frame_equal(computed, read)
    assert list(computed.columns) == ["movie_id", "title", "year", "similarity", "n_ratings", "n_common"]
    expected = reference_top_k(reference_similarity(small_matrix.csc.T.toarray()), 4)[5]
    assert computed["movie_id"].tolist() == small_matrix.movie_ids[[j for j, _ in expected]].tolist()
    np.testing.assert_allclose(computed["similarity"], [v for _, v in expected], atol=ATOL_FLOAT32)
    dense = small_matrix.csc.toarray() != 0
    positions = small_matrix.movie_index(computed["movie_id"])
    assert computed["n_common"].tolist() == [(dense[:, 5] & dense[:, j]).sum() for j in positions]
    assert computed["n_ratings"].tolist() == dense[:, positions].sum(axis=0).tolist()
    has_title = positions < 11
    assert computed["title"].isna().tolist() == (~has_title).tolist()
    assert computed["title"][has_title].tolist() == [f"Movie {j}" for j in positions[has_title]]
    assert computed["year"][has_title].tolist() == [1990 + j for j in positions[has_title]]


def test_similar_users_with_other_measures_and_unknown_ids(small_matrix):
    user = int(small_matrix.user_ids[3])
    table = similar_users(small_matrix, user, k=5, measure="pearson", min_support=2)
    expected = reference_top_k(reference_similarity(small_matrix.csr.toarray(), "pearson", 2), 5)[3]
    assert table["user_id"].tolist() == small_matrix.user_ids[[j for j, _ in expected]].tolist()
    assert list(table.columns) == ["user_id", "similarity", "n_ratings", "n_common"]
    with pytest.raises(KeyError, match="user_id 999999"):
        similar_users(small_matrix, 999999)
    with pytest.raises(KeyError, match="movie_id 5"):
        similar_movies(small_matrix, 5)
    assert similar_movies(small_matrix, int(small_matrix.movie_ids[0]), k=3)["title"].isna().all()


# --- finding a movie by title -----------------------------------------------------------------


def _title_matrix():
    """Movies 10..14 with 1, 3, 3, 2, 1 ratings; titles for all but movie 14."""
    movies = [10, 11, 11, 11, 12, 12, 12, 13, 13, 14]
    matrix = RatingMatrix.from_ratings(ratings_frame(list(range(len(movies))), movies, [3] * len(movies)))
    titles = pd.DataFrame(
        {"title": ["Alien", "Aliens", "The ALIEN Saga", "Heat", "Not rated"], "year": [1979] * 5},
        index=pd.Index([10, 11, 12, 13, 99], name="movie_id"),
    )
    return matrix, titles


def reference_find(matrix, titles, text, exact=False):
    """Search by hand: every movie of the matrix, sorted by (-ratings, id), title compared in casefold."""
    counts = dict(zip(matrix.movie_ids.tolist(), matrix.movie_counts.tolist()))
    found = []
    for movie in sorted(counts, key=lambda m: (-counts[m], m)):
        title = str(titles["title"].get(movie, "")).casefold()
        if (title == text.casefold()) if exact else (text.casefold() in title):
            found.append(movie)
    return found


@pytest.mark.parametrize("text", ["", "alien", "ALIENS", "the alien saga", "heat", "zzz", "not rated"])
@pytest.mark.parametrize("exact", [False, True])
def test_find_movies_equals_a_search_by_hand(text, exact):
    matrix, titles = _title_matrix()
    assert find_movies(matrix, titles, text, exact=exact).tolist() == reference_find(matrix, titles, text, exact)


def test_find_movies_order_and_pick_movie():
    matrix, titles = _title_matrix()
    # 11 and 12 tie on 3 ratings: the smaller id first; 14 has no title and still matches the empty text.
    assert find_movies(matrix, titles, "").tolist() == [11, 12, 13, 10, 14]
    assert find_movies(matrix, titles, "alien").tolist() == [11, 12, 10]
    assert pick_movie(matrix, titles) == 11  # the most-rated movie
    assert pick_movie(matrix, titles, "alien") == 10 and pick_movie(matrix, titles, "HEAT") == 13
    with pytest.raises(ValueError, match="no movie titled 'Not rated' in the training data"):
        pick_movie(matrix, titles, "Not rated")  # a title, but no rating in the matrix
