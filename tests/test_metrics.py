"""cfutils.eval.metrics against hand-computed values, sklearn, and a plain-Python reference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ratings_factory import ratings_frame
from sklearn.metrics import ndcg_score

from cfutils.eval.metrics import (
    RANKING_METRICS,
    as_padded_array,
    average_precision_at_k,
    catalogue_coverage,
    hit_matrix,
    item_popularity,
    list_report,
    mape,
    mean_popularity,
    ndcg_at_k,
    precision_at_k,
    quiz_rmse,
    ranking_metrics,
    recall_at_k,
    rmse,
    warm_cold_errors,
    warm_cold_table,
)


def from_rows(rows) -> pd.DataFrame:
    """A contract ratings frame from (user_id, movie_id, rating) tuples."""
    return ratings_frame(*zip(*rows))


# ---- plain-Python reference: one user, lists and sets, straight from the definitions -----------------


def ref_precision(ranked: list[int], relevant: set[int], k: int) -> float:
    return sum(m in relevant for m in ranked[:k]) / k


def ref_recall(ranked: list[int], relevant: set[int], k: int) -> float:
    return sum(m in relevant for m in ranked[:k]) / len(relevant)


def ref_ndcg(ranked: list[int], relevant: set[int], k: int) -> float:
    dcg = sum(1 / math.log2(rank + 1) for rank, m in enumerate(ranked[:k], start=1) if m in relevant)
    idcg = sum(1 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
    return dcg / idcg


def ref_average_precision(ranked: list[int], relevant: set[int], k: int) -> float:
    hits, total = 0, 0.0
    for rank, m in enumerate(ranked[:k], start=1):
        if m in relevant:
            hits += 1
            total += hits / rank
    return total / min(k, len(relevant))


REFERENCE = {"precision": ref_precision, "recall": ref_recall, "ndcg": ref_ndcg, "map": ref_average_precision}


# ---- rating errors ------------------------------------------------------------------------------------


def test_rmse_and_mape_by_hand():
    y, yhat = [4, 2, 5, 1], [3.5, 2, 4, 2]
    # errors 0.5, 0, 1, 1 -> mean square (0.25 + 0 + 1 + 1) / 4
    assert rmse(y, yhat) == pytest.approx(math.sqrt(2.25 / 4))
    # relative errors 0.125, 0, 0.2, 1 -> mean 0.33125 -> 33.125 %
    assert mape(y, yhat) == pytest.approx(33.125)


def test_quiz_rmse_scores_each_model_on_the_qualifying_rows_only_by_hand():
    answers = pd.Series([4.0, 2.0, 5.0, 1.0], index=[10, 11, 12, 13])  # the full qualifying set
    qualifying = pd.DataFrame(index=[12, 10])  # a part of it, in another order
    got = quiz_rmse({"a": np.array([4.0, 3.0]), "b": np.array([5.0, 4.0])}, answers, qualifying)
    # a: errors 1 (row 12), 1 (row 10) -> 1; b: errors 0 and 0 -> 0
    assert got.to_dict() == {"a": pytest.approx(1.0), "b": pytest.approx(0.0)}


def test_rating_errors_reject_bad_input():
    with pytest.raises(ValueError, match="length"):
        rmse([1, 2], [1])
    with pytest.raises(ValueError, match="zero ratings"):
        rmse([], [])
    with pytest.raises(ValueError, match="<= 0"):
        mape([0, 4], [1, 4])


# ---- ranking metrics by hand ----------------------------------------------------------------------------


def test_one_user_by_hand():
    # List 10, 20, 30, 40; the user liked 20, 40 and 50 in test (50 was not recommended).
    hits = np.array([[False, True, False, True]])
    n_relevant = np.array([3])
    assert precision_at_k(hits, n_relevant, 4)[0] == pytest.approx(0.5)
    assert recall_at_k(hits, n_relevant, 4)[0] == pytest.approx(2 / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(hits, n_relevant, 4)[0] == pytest.approx(dcg / idcg)
    # precision@2 = 1/2 at the first hit, precision@4 = 2/4 at the second, over min(4, 3) = 3
    assert average_precision_at_k(hits, n_relevant, 4)[0] == pytest.approx((0.5 + 0.5) / 3)
    # Cut at k = 1: a miss everywhere.
    for metric in (precision_at_k, recall_at_k, ndcg_at_k, average_precision_at_k):
        assert metric(hits, n_relevant, 1)[0] == 0.0


def test_perfect_list_scores_one_and_ideal_is_capped_at_k():
    hits = np.array([[True, True, False]])  # 5 relevant items, only 2 fit in k=2
    assert ndcg_at_k(hits, np.array([5]), 2)[0] == pytest.approx(1.0)
    assert average_precision_at_k(hits, np.array([5]), 2)[0] == pytest.approx(1.0)
    assert recall_at_k(hits, np.array([5]), 2)[0] == pytest.approx(0.4)


def test_hit_matrix_threshold_padding_and_other_users():
    test = from_rows([(1, 20, 4.0), (1, 40, 5.0), (1, 30, 3.5), (2, 10, 5.0), (3, 10, 1.0)])
    recommended = np.array([[10, 20, 30, 40], [10, -1, -1, -1], [10, 20, -1, -1]])
    hits, n_relevant = hit_matrix([1, 2, 3], recommended, test, threshold=4.0)
    # 30 was rated 3.5 < 4: not relevant; 10 is relevant for user 2 only; padding never hits.
    np.testing.assert_array_equal(hits, [[0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(n_relevant, [2, 1, 0])
    _, n_relevant_low = hit_matrix([1, 2, 3], recommended, test, threshold=3.5)
    np.testing.assert_array_equal(n_relevant_low, [3, 1, 0])


def test_short_list_is_penalised_in_precision_only():
    hits = np.array([[True, False, False]])  # one real item then padding
    assert precision_at_k(hits, np.array([1]), 3)[0] == pytest.approx(1 / 3)
    assert ndcg_at_k(hits, np.array([1]), 3)[0] == pytest.approx(1.0)


def test_ranking_metrics_averages_over_users_with_relevant_items():
    test = from_rows([(1, 20, 5.0), (2, 30, 4.0), (3, 40, 2.0), (4, 50, 5.0)])
    recs = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3, 3],
            "rank": [1, 2, 1, 2, 1, 2],
            "movie_id": [20, 99, 98, 99, 40, 99],
        }
    )
    result = ranking_metrics(recs, test, ks=(1, 2))
    # Users 1, 2 and 4 have a relevant item; 3 does not (rating 2) and is left out; 4 has no list and scores 0.
    assert result["n_users"] == 3
    assert result["precision@1"] == pytest.approx(1 / 3)
    assert result["precision@2"] == pytest.approx((0.5 + 0 + 0) / 3)
    assert result["recall@2"] == pytest.approx(1 / 3)
    assert result["ndcg@2"] == pytest.approx(1 / 3)
    assert result["map@1"] == pytest.approx(1 / 3)


def test_ranking_metrics_without_relevant_users_is_nan():
    test = from_rows([(1, 20, 1.0)])
    recs = pd.DataFrame({"user_id": [1], "rank": [1], "movie_id": [20]})
    result = ranking_metrics(recs, test, ks=(1,))
    assert result["n_users"] == 0 and math.isnan(result["ndcg@1"])


def test_as_padded_array_round_trip():
    recs = pd.DataFrame({"user_id": [7, 3, 7, 3, 3], "rank": [2, 1, 1, 3, 2], "movie_id": [70, 31, 71, 33, 32]})
    users, recommended = as_padded_array(recs)
    np.testing.assert_array_equal(users, [3, 7])
    np.testing.assert_array_equal(recommended, [[31, 32, 33], [71, 70, -1]])
    _, cut = as_padded_array(recs, n=1)
    np.testing.assert_array_equal(cut, [[31], [71]])


def test_coverage_and_popularity_by_hand():
    train = from_rows([(1, 10, 4), (2, 10, 3), (3, 10, 5), (1, 20, 2), (4, 30, 1)])
    popularity = item_popularity(train)
    assert popularity.to_dict() == {10: 3, 20: 1, 30: 1}
    recommended = np.array([[10, 20], [10, -1], [99, -1]])
    # 10 and 20 shown, 30 not; 99 is outside the catalogue and ignored.
    assert catalogue_coverage(recommended, [10, 20, 30]) == pytest.approx(2 / 3)
    # (3 + 1 + 3 + 0) / 4: padding excluded, the unknown movie 99 counts as 0 ratings.
    assert mean_popularity(recommended, popularity) == pytest.approx(7 / 4)
    assert math.isnan(mean_popularity(np.array([[-1]]), popularity))


# ---- against sklearn and the plain-Python reference -------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_ndcg_matches_sklearn_when_every_item_is_scored(k):
    # sklearn's ideal DCG ranks the *scored* items. Scoring the whole catalogue (so every
    # relevant item is a candidate) makes it the ideal of our definition. Continuous random
    # scores have no ties, so sklearn's tie averaging does not come into play.
    rng = np.random.default_rng(k)
    n_users, n_items = 60, 40
    relevance = rng.random((n_users, n_items)) < rng.uniform(0.02, 0.3, size=(n_users, 1))
    relevance[relevance.sum(axis=1) == 0, 0] = True  # sklearn counts all-irrelevant users as 0; we skip them
    scores = rng.random((n_users, n_items))
    ranked = np.argsort(-scores, axis=1)
    hits = np.take_along_axis(relevance, ranked, axis=1)
    ours = ndcg_at_k(hits, relevance.sum(axis=1), k)
    theirs = [ndcg_score(relevance[[u]], scores[[u]], k=k) for u in range(n_users)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert ours.mean() == pytest.approx(ndcg_score(relevance, scores, k=k), rel=1e-12)


lists_and_relevance = st.integers(1, 8).flatmap(
    lambda n_users: st.tuples(
        st.lists(st.lists(st.integers(0, 15), unique=True, max_size=8), min_size=n_users, max_size=n_users),
        st.lists(st.sets(st.integers(0, 15), min_size=1, max_size=6), min_size=n_users, max_size=n_users),
        st.integers(1, 10),
    )
)


@settings(max_examples=60, deadline=None)
@given(lists_and_relevance)
def test_vectorised_metrics_agree_with_reference(case):
    ranked_lists, relevant_sets, k = case
    user_ids = np.arange(100, 100 + len(ranked_lists))
    width = max([len(r) for r in ranked_lists] + [1])
    recommended = np.full((len(ranked_lists), width), -1)
    for row, ranked in enumerate(ranked_lists):
        recommended[row, : len(ranked)] = ranked
    test = from_rows(
        [(int(u), m, 5.0) for u, rel in zip(user_ids, relevant_sets) for m in rel]
        + [(int(user_ids[0]), 16, 3.0)]  # below the threshold: never relevant
    )
    hits, n_relevant = hit_matrix(user_ids, recommended, test)
    for name, ref in REFERENCE.items():
        fast = RANKING_METRICS[name](hits, n_relevant, k)
        slow = [ref(ranked, rel, k) for ranked, rel in zip(ranked_lists, relevant_sets)]
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-15, err_msg=name)


def test_list_report_combines_the_metrics():
    train = ratings_frame([1, 2, 2, 3], [10, 10, 20, 30], [4, 4, 4, 4])
    test = ratings_frame([1, 2], [20, 30], [5, 5])
    recs = pd.DataFrame({"user_id": [1, 1, 2], "rank": [1, 2, 1], "movie_id": [20, 30, 10]})
    report = list_report(recs, test, item_popularity(train), ks=(2,))
    assert report["precision@2"] == pytest.approx((0.5 + 0) / 2)
    assert report["coverage"] == pytest.approx(1.0)
    assert report["mean_popularity"] == pytest.approx((1 + 1 + 2) / 3)


# --------------------------------------------------------------------------- warm and cold rows


def reference_errors(y_true, predictions, cold) -> list[dict]:
    """The warm/cold error table by hand: one loop per model and part, plain floats."""
    rows = []
    for model, prediction in predictions.items():
        for part, wanted in (("all", None), ("warm", False), ("cold", True)):
            pairs = [(float(y), float(p)) for y, p, c in zip(y_true, prediction, cold) if wanted is None or c == wanted]
            if pairs:
                rows.append(
                    {
                        "model": model,
                        "rows": part,
                        "n": len(pairs),
                        "rmse": math.sqrt(math.fsum((y - p) ** 2 for y, p in pairs) / len(pairs)),
                        "mape": 100 * math.fsum(abs(y - p) / y for y, p in pairs) / len(pairs),
                    }
                )
    return rows


@settings(max_examples=50, deadline=None)
@given(st.data(), st.integers(1, 30), st.integers(1, 3))
def test_warm_cold_errors_equal_a_plain_python_reference(data, n, n_models):
    stars = st.sampled_from([0.5, 1.0, 2.0, 3.5, 4.0, 5.0])
    y_true = data.draw(st.lists(stars, min_size=n, max_size=n))
    cold = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    predictions = {
        f"model {m}": np.array(data.draw(st.lists(st.floats(0.0, 6.0), min_size=n, max_size=n)))
        for m in range(n_models)
    }
    got = warm_cold_errors(pd.Series(y_true, dtype=np.float32), predictions, np.array(cold))
    expected = reference_errors(np.float32(y_true), predictions, cold)
    assert got[["model", "rows", "n"]].to_dict("records") == [
        {key: row[key] for key in ("model", "rows", "n")} for row in expected
    ]
    assert got["rmse"].tolist() == pytest.approx([row["rmse"] for row in expected], rel=1e-12, abs=1e-12)
    assert got["mape"].tolist() == pytest.approx([row["mape"] for row in expected], rel=1e-12, abs=1e-12)


def test_warm_cold_table_lays_out_the_parts_per_model():
    y_true = np.array([4.0, 3.0, 5.0, 1.0])
    predictions = {"b": np.array([4.0, 4.0, 4.0, 4.0]), "a": np.array([3.0, 3.0, 5.0, 2.0])}
    table = warm_cold_table(y_true, predictions, np.array([False, True, False, False]))
    assert table.index.name == "model" and list(table.index) == ["b", "a"]  # the order given
    assert list(table.columns) == ["test_rmse", "test_mape", "warm_rmse", "cold_rmse"]
    # a: errors 1, 0, 0, 1 on all rows; the cold row (index 1) is exact.
    assert table.loc["a"].tolist() == pytest.approx([math.sqrt(2 / 4), 100 * (1 / 4 + 1) / 4, math.sqrt(2 / 3), 0.0])
    assert table.loc["b", "cold_rmse"] == pytest.approx(1.0)


def test_warm_cold_table_leaves_a_part_without_rows_nan_and_picks_columns():
    y_true = np.array([4.0, 2.0])
    table = warm_cold_table(
        y_true, {"m": np.array([3.0, 2.0])}, np.zeros(2, dtype=bool), columns=("cold_mape", "warm_rmse", "test_rmse")
    )
    assert list(table.columns) == ["cold_mape", "warm_rmse", "test_rmse"]
    assert math.isnan(table.loc["m", "cold_mape"])
    assert table.loc["m", "warm_rmse"] == table.loc["m", "test_rmse"] == pytest.approx(math.sqrt(0.5))
    errors = warm_cold_errors(y_true, {"m": np.array([3.0, 2.0])}, np.zeros(2, dtype=bool))
    assert errors["rows"].tolist() == ["all", "warm"]


def test_warm_cold_errors_refuse_misaligned_inputs_and_unknown_columns():
    with pytest.raises(ValueError, match="cold has 2 rows, y_true 3"):
        warm_cold_errors([1.0, 2.0, 3.0], {"m": [1.0, 2.0, 3.0]}, [True, False])
    with pytest.raises(ValueError, match="differ in length"):
        warm_cold_errors([1.0, 2.0], {"m": [1.0]}, [True, False])
    with pytest.raises(ValueError, match="unknown column"):
        warm_cold_table([1.0], {"m": [1.0]}, [False], columns=("train_rmse",))
