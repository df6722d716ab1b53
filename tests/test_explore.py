"""The explorers, driven headless by setting their widgets' values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ratings_factory import ratings_frame

from cfutils.explore import MovieExplorer, UserExplorer
from cfutils.matrix import RatingMatrix
from cfutils.similarity import similar_movies, similar_users

TITLES = pd.DataFrame({"title": ["Alien", "Aliens", "Heat", "Up", "Alien Nation"],
                       "year": pd.array([1979, 1986, 1995, 2009, 1988], dtype="Int16")},
                      index=pd.Index([10, 20, 30, 40, 50], name="movie_id"))


@pytest.fixture(scope="module")
def train():
    rng = np.random.default_rng(0)
    cells = [(u, m) for u in range(1, 13) for m in (10, 20, 30, 40, 50) if rng.random() < (0.9 if m == 10 else 0.5)]
    users, movies = zip(*cells)
    return ratings_frame(users, movies, rng.integers(1, 6, len(cells)), days=rng.integers(0, 400, len(cells)))


def test_typing_part_of_a_title_offers_the_matches_most_rated_first_and_shows_neighbours(train):
    matrix = RatingMatrix.from_ratings(train)
    explorer = MovieExplorer(matrix, TITLES, k=3)
    assert explorer.table is None and explorer.view.value == "", "nothing is computed at construction"
    explorer.search.value = "ALIEN"
    counts = train["movie_id"].value_counts()
    expected = sorted((m for m in TITLES.index if "alien" in TITLES.title[m].lower() and m in counts.index),
                      key=lambda m: (-counts[m], list(matrix.movie_ids).index(m)))
    assert [movie for _, movie in explorer.movie.options] == expected
    assert explorer.movie.value == expected[0]
    pd.testing.assert_frame_equal(explorer.table, similar_movies(matrix, expected[0], k=3, titles=TITLES))
    first = explorer.view.value
    explorer.movie.value = expected[1]
    assert explorer.view.value != first and explorer.table.movie_id.ne(expected[1]).all()
    explorer.k.value = 1
    assert len(explorer.table) == 1


def test_a_title_that_matches_nothing_says_so(train):
    explorer = MovieExplorer(RatingMatrix.from_ratings(train), TITLES)
    explorer.search.value = "zzz"
    assert explorer.table is None and "No movie matches" in explorer.view.value


def test_the_static_table_is_the_most_rated_movies_neighbours(train):
    matrix = RatingMatrix.from_ratings(train)
    table = MovieExplorer(matrix, TITLES, k=4).default_table()
    most_rated = int(train["movie_id"].value_counts().idxmax())
    pd.testing.assert_frame_equal(table, similar_movies(matrix, most_rated, k=4, titles=TITLES))


def test_picking_a_user_shows_their_history_and_nearest_users(train):
    matrix = RatingMatrix.from_ratings(train)
    explorer = UserExplorer(train, matrix, TITLES, k=2, n_history=3)
    assert explorer.tables == {}
    labels = [label.split(":")[0] for label, _ in explorer.user.options]
    assert labels == ["heaviest", "median", "lightest"]
    explorer.widget()
    heaviest = explorer.view.value
    lightest = explorer.user.options[-1][1]
    explorer.user.value = lightest
    assert explorer.view.value != heaviest
    mine = train[train.user_id == lightest]
    top = explorer.tables["top-rated"]
    assert set(top.movie_id) <= set(mine.movie_id) and len(top) == min(3, len(mine))
    assert top.rating.is_monotonic_decreasing and top.rating.iloc[0] == mine.rating.max()
    assert explorer.tables["most recent"].date.iloc[0] == mine.date.max()
    pd.testing.assert_frame_equal(explorer.tables["nearest users"], similar_users(matrix, lightest, k=2))


def test_the_static_rendering_is_the_widgets_view_of_the_default_selection(train):
    matrix = RatingMatrix.from_ratings(train)
    movies, users = MovieExplorer(matrix, TITLES), UserExplorer(train, matrix, TITLES)
    static_movies, static_users = movies.static().data, users.static().data
    movies.widget(), users.widget()
    assert static_movies == movies.view.value and "nearest movies of Alien" in static_movies
    assert static_users == users.view.value and "<h4>nearest users</h4>" in static_users
