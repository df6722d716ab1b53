import pytest
from ratings_factory import ratings_frame

from cfutils.matrix import RatingMatrix
from cfutils.stats import averages, cold_start_report


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
