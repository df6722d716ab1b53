import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ratings_factory import ratings_frame, ratings_frames

from cfutils.core.matrix import RatingMatrix
from cfutils.data.split import random_split
from cfutils.eval.stats import averages, cold_start_report, split_summary, top_decile_share


def test_averages_are_indexed_by_raw_ids():
    matrix = RatingMatrix.from_ratings(ratings_frame([5, 5, 9], [2, 4, 2], [1, 3, 5]))
    result = averages(matrix)
    assert result["global"] == pytest.approx(3.0)
    assert result["user"].to_dict() == {5: 2.0, 9: 5.0}
    assert result["movie"].to_dict() == {2: 3.0, 4: 3.0}


def test_cold_start_report_counts_and_percentages():
    train = ratings_frame([1, 1, 2], [1, 2, 1], [3, 3, 3])
    test = ratings_frame([1, 3, 3, 2], [3, 1, 3, 2], [3, 3, 3, 3])
    report = cold_start_report(train, test)
    assert report["test_users"] == 3 and report["new_users"] == 1
    assert report["new_users_pct"] == pytest.approx(100 / 3)
    assert report["test_movies"] == 3 and report["new_movies"] == 1
    assert report["ratings_new_user"] == 2 and report["ratings_new_movie"] == 2
    assert report["ratings_cold"] == 3 and report["ratings_cold_pct"] == pytest.approx(75.0)


def test_split_summary_of_a_split_that_overlaps_in_time():
    train = ratings_frame([1, 1, 2], [1, 2, 1], [3, 3, 3], days=[0, 10, 31])
    test = ratings_frame([1, 3, 3, 2], [3, 1, 3, 2], [3, 3, 3, 3], days=[5, 40, 31, 60])
    summary = split_summary(train, test)
    assert summary == {
        "train ratings": 3,
        "test ratings": 4,
        "train dates": "2000-01-01 .. 2000-02-01",
        "test dates": "2000-01-06 .. 2000-03-01",
        "test movies never seen in train (%)": pytest.approx(100 / 3),
        "test users never seen in train (%)": pytest.approx(100 / 3),
        "test ratings older than the newest train rating (%)": 25.0,  # day 5 only: day 31 ties, not older
    }
    assert list(summary) == [
        "train ratings",
        "test ratings",
        "train dates",
        "test dates",
        "test movies never seen in train (%)",
        "test users never seen in train (%)",
        "test ratings older than the newest train rating (%)",
    ]


@settings(max_examples=40, deadline=None)
@given(ratings_frames(min_size=2), st.integers(0, 3))
def test_split_summary_equals_a_plain_python_reference(ratings, seed):
    train, test = random_split(ratings, 0.5, seed=seed)
    newest = max(train["date"])
    train_users, train_movies = set(train["user_id"]), set(train["movie_id"])
    summary = split_summary(train, test)
    assert (summary["train ratings"], summary["test ratings"]) == (len(train), len(test))
    assert summary["train dates"] == f"{min(train['date']):%Y-%m-%d} .. {newest:%Y-%m-%d}"
    assert summary["test ratings older than the newest train rating (%)"] == pytest.approx(
        100 * sum(date < newest for date in test["date"]) / len(test)
    )
    assert summary["test users never seen in train (%)"] == pytest.approx(
        100 * len(set(test["user_id"]) - train_users) / test["user_id"].nunique()
    )
    assert summary["test movies never seen in train (%)"] == pytest.approx(
        100 * len(set(test["movie_id"]) - train_movies) / test["movie_id"].nunique()
    )


def test_split_summary_of_empty_parts():
    ratings = ratings_frame([1, 2], [1, 1], [3, 4], days=[0, 1])
    assert split_summary(ratings, ratings.iloc[:0])["test dates"] == "-"
    assert split_summary(ratings, ratings.iloc[:0])["test ratings older than the newest train rating (%)"] == 0.0
    assert split_summary(ratings.iloc[:0], ratings)["train dates"] == "-"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 1000), min_size=1, max_size=60))
def test_top_decile_share_equals_sorting_by_hand(counts):
    top = sorted(counts, reverse=True)[: max(1, math.ceil(len(counts) / 10))]
    assert top_decile_share(pd.Series(counts)) == pytest.approx(100 * sum(top) / sum(counts))


def test_top_decile_share_by_hand():
    assert top_decile_share(pd.Series([1] * 9 + [91])) == pytest.approx(91.0)  # 10 counts: the top one
    assert top_decile_share(pd.Series([5] * 11)) == pytest.approx(100 * 10 / 55)  # 11 counts: the top two
