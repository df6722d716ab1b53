"""cfutils.eval.beyond against plain-Python references (loops over lists and pairs) and values by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ratings_factory import ratings_frame, ratings_frames

from cfutils.core import RatingMatrix
from cfutils.eval.beyond import (
    beyond_accuracy,
    exposure_counts,
    gini,
    head_movies,
    intra_list_diversity,
    long_tail_share,
    novelty,
)
from cfutils.eval.metrics import PAD, item_popularity


def reference_cosine(train: pd.DataFrame, i: int, j: int) -> float:
    raters_i = set(train.loc[train["movie_id"] == i, "user_id"])
    raters_j = set(train.loc[train["movie_id"] == j, "user_id"])
    if not raters_i or not raters_j:
        return 0.0
    return len(raters_i & raters_j) / math.sqrt(len(raters_i) * len(raters_j))


def reference(recommended: np.ndarray, train: pd.DataFrame, head_fraction: float) -> dict[str, float]:
    """The five measures by loops over lists, pairs and movies, from the ratings frame alone."""
    users = train["user_id"].nunique()
    raters = train.groupby("movie_id")["user_id"].nunique().to_dict()
    lists = [[m for m in row if m != PAD] for row in recommended.tolist()]
    slots = [m for row in lists for m in row]
    diversities = []
    for row in lists:
        pairs = [(a, b) for x, a in enumerate(row) for b in row[x + 1 :]]
        if pairs:
            diversities.append(1 - sum(reference_cosine(train, a, b) for a, b in pairs) / len(pairs))
    ranked = sorted(raters, key=lambda m: (-raters[m], m))
    head = set(ranked[: math.ceil(head_fraction * len(ranked))])
    counts = [slots.count(m) for m in sorted(raters)]
    n = len(counts)
    mean_difference = sum(abs(a - b) for a in counts for b in counts) / n**2
    return {
        "novelty": sum(-math.log2(raters[m] / users) for m in slots) / len(slots) if slots else math.nan,
        "intra_list_diversity": sum(diversities) / len(diversities) if diversities else math.nan,
        "long_tail_share": sum(m not in head for m in slots) / len(slots) if slots else math.nan,
        "gini": mean_difference / (2 * sum(counts) / n) if sum(counts) else math.nan,
        "coverage": len(set(slots) & set(raters)) / len(raters),
    }


@st.composite
def lists_of(draw, train: pd.DataFrame) -> np.ndarray:
    """Lists of distinct train movies, some padded, one row per user."""
    movies = sorted(train["movie_id"].unique().tolist())
    n_users, width = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    rows = []
    for _ in range(n_users):
        row = draw(st.lists(st.sampled_from(movies), unique=True, max_size=width))
        rows.append(row + [PAD] * (width - len(row)))
    return np.array(rows, dtype=np.int64)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), train=ratings_frames(), head_fraction=st.sampled_from([0.0, 0.2, 0.5, 1.0]))
def test_every_measure_equals_the_loop_reference(data, train, head_fraction):
    recommended = data.draw(lists_of(train))
    got = beyond_accuracy(recommended, train, head_fraction=head_fraction)
    expected = reference(recommended, train, head_fraction)
    assert got == pytest.approx(expected, nan_ok=True)


def test_a_toy_by_hand():
    # Users 1-4; movie 10 rated by all four, 20 by users 1 and 2, 30 by user 3, 40 by users 3 and 4.
    train = ratings_frame([1, 2, 3, 4, 1, 2, 3, 3, 4], [10, 10, 10, 10, 20, 20, 30, 40, 40], [4] * 9)
    recommended = np.array([[10, 20], [30, 40], [10, PAD]])
    popularity = item_popularity(train)
    assert novelty(recommended, popularity, 4) == pytest.approx((0 + 1 + 2 + 1 + 0) / 5)
    # cos(10, 20) = 2 / sqrt(4 * 2), cos(30, 40) = 1 / sqrt(1 * 2); the one-movie list has no pair.
    matrix = RatingMatrix.from_ratings(train)
    assert intra_list_diversity(recommended, matrix) == pytest.approx(1 - (1 / math.sqrt(2) + 1 / math.sqrt(2)) / 2)
    assert head_movies(popularity, 0.25).tolist() == [10]  # ceil(0.25 * 4) = 1 movie, the most rated
    assert head_movies(popularity, 0.5).tolist() == [10, 20]  # 20 and 40 tie at 2 raters: the smaller id
    assert long_tail_share(recommended, popularity, 0.25) == pytest.approx(3 / 5)
    counts = exposure_counts(recommended, [10, 20, 30, 40, 50])
    assert counts.tolist() == [2, 1, 1, 1, 0]
    # sorted 0, 1, 1, 1, 2: sum (2k - 6) c_k = -4*0 - 2*1 + 0*1 + 2*1 + 4*2 = 8, over n * total = 5 * 5
    assert gini(counts) == pytest.approx(8 / 25)


def test_gini_extremes_and_errors():
    assert gini([3, 3, 3, 3]) == 0.0
    assert gini([0, 0, 0, 7]) == pytest.approx(1 - 1 / 4)
    assert math.isnan(gini([0, 0]))
    with pytest.raises(ValueError):
        gini([1, -1])


def test_a_movie_without_train_ratings_has_no_novelty():
    train = ratings_frame([1, 2], [10, 20], [4, 4])
    with pytest.raises(ValueError, match="infinite"):
        novelty(np.array([[10, 99]]), item_popularity(train), 2)


def test_diversity_batches_agree_with_one_batch(monkeypatch):
    rng = np.random.default_rng(0)
    train = ratings_frame(rng.integers(0, 50, 600), rng.integers(0, 30, 600), np.full(600, 4)).drop_duplicates(
        ["user_id", "movie_id"]
    )
    movies = np.unique(train["movie_id"])
    recommended = np.array([rng.choice(movies, 5, replace=False) for _ in range(40)])
    matrix = RatingMatrix.from_ratings(train)
    whole = intra_list_diversity(recommended, matrix)
    monkeypatch.setattr("cfutils.eval.beyond._LISTS_PER_BATCH", 7)
    assert intra_list_diversity(recommended, matrix) == pytest.approx(whole)
    assert whole == pytest.approx(reference(recommended, train, 0.2)["intra_list_diversity"])
