"""The explorers, driven headless by setting their widgets' values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ratings_factory import ratings_frame

from cfutils.core.matrix import RatingMatrix
from cfutils.core.similarity.neighbours import similar_movies, similar_users
from cfutils.lists import PopularRecommender
from cfutils.lists.ease import EASE, RecencyEASE
from cfutils.lists.item_knn import ItemKNN
from cfutils.present import explained_list
from cfutils.present.explore import ListExplorer, MovieExplorer, UserExplorer

TITLES = pd.DataFrame(
    {
        "title": ["Alien", "Aliens", "Heat", "Up", "Alien Nation"],
        "year": pd.array([1979, 1986, 1995, 2009, 1988], dtype="Int16"),
    },
    index=pd.Index([10, 20, 30, 40, 50], name="movie_id"),
)


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
    expected = sorted(
        (m for m in TITLES.index if "alien" in TITLES.title[m].lower() and m in counts.index),
        key=lambda m: (-counts[m], list(matrix.movie_ids).index(m)),
    )
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


# A list explorer needs a model with a few dozen movies: 80 users, 40 movies, popularity skewed.
LIST_MODELS = {
    "EASE": lambda: EASE(lam=20.0, max_items=30, fallback_days=30),
    "item-kNN": lambda: ItemKNN(n_neighbours=8, fallback_days=30),
    "recency EASE + kNN": lambda: RecencyEASE(
        20.0, recent_weight=1.0, half_life=3.0, knn_weight=0.2, n_neighbours=8, max_items=None, fallback_days=30
    ),
}
LIST_TITLES = pd.DataFrame(
    {"title": [f"Film {m}" for m in range(100, 140)], "year": pd.array([1990] * 40, dtype="Int16")},
    index=pd.Index(range(100, 140), name="movie_id"),
)


@pytest.fixture(scope="module")
def list_train():
    rng = np.random.default_rng(1)
    cells = [(u, m) for u in range(1, 81) for m in range(100, 140) if rng.random() < 0.5 * 0.96 ** (m - 100)]
    users, movies = zip(*cells)
    return ratings_frame(users, movies, rng.integers(1, 6, len(cells)), days=rng.integers(0, 200, len(cells)))


def added(train, user, movie, stars):
    """Train plus one rating, dated the last day of train (as the what-if dates it)."""
    row = pd.DataFrame({"user_id": [user], "movie_id": [movie], "rating": [stars], "date": [train["date"].max()]})
    return pd.concat([train, row.astype(train.dtypes.to_dict())], ignore_index=True)


def dense_item_weights(model) -> tuple[np.ndarray, np.ndarray]:
    """(W over all train movies, candidate mask) of a fitted EASE or item-kNN, written out plainly."""
    n = model.matrix_.n_movies
    if isinstance(model, ItemKNN):
        return model.similarity_.toarray(), np.ones(n, dtype=bool)
    weights = np.zeros((n, n))
    for a, i in enumerate(model.items_):
        for b, j in enumerate(model.items_):
            weights[i, j] = model.weights_[a, b]
    return weights, np.isin(np.arange(n), model.items_)


def slow_fold_in_list(model, rated_movies, n):
    """score(i) = sum over the rated movies j of W_ji, one movie at a time; unrated candidates only,
    ties to the smaller movie id; item-kNN keeps positive scores only."""
    weights, candidate = dense_item_weights(model)
    rated = set(model.matrix_.movie_index(rated_movies).tolist())
    scored = []
    for i in range(model.matrix_.n_movies):
        score = sum(weights[j, i] for j in rated)
        if candidate[i] and i not in rated and (score > 0 or not isinstance(model, ItemKNN)):
            scored.append((-score, int(model.matrix_.movie_ids[i])))
    return [(movie, -negative) for negative, movie in sorted(scored)[:n]]


def test_the_list_explorer_computes_nothing_until_shown_and_offers_the_three_presets(list_train):
    model = LIST_MODELS["EASE"]().fit(list_train)
    explorer = ListExplorer(model, list_train, LIST_TITLES, n=5)
    assert explorer.tables == {} and explorer.view.value == "" and explorer.movie.options == ()
    counts = list_train["user_id"].value_counts()
    presets = {label.split(":")[0]: user for label, user in explorer.user.options}
    assert list(presets) == ["heavy", "light", "new"]
    assert counts[presets["heavy"]] == counts.max() and counts[presets["light"]] == counts.min()
    assert presets["new"] not in counts.index
    explorer.user.value = presets["new"]
    fallback = PopularRecommender(window_days=30).fit(list_train).top_n(presets["new"], 5)
    assert explorer.tables["list"]["movie_id"].tolist() == fallback["movie_id"].tolist()
    assert (explorer.tables["list"]["because"] == "popular recently").all()


@pytest.mark.parametrize("name", ["EASE", "item-kNN"])
def test_a_what_if_rating_changes_the_list_as_the_slow_fold_in_says(list_train, name):
    model = LIST_MODELS[name]().fit(list_train)
    explorer = ListExplorer(model, list_train, LIST_TITLES, n=6)
    explorer.user.value = user = explorer.user.options[1][1]  # the light user
    before = explorer.tables["list"]
    assert "because you rated" in before["because"].iloc[0] and "what if" not in explorer.tables
    movie = int(before["movie_id"].iloc[0])
    explorer.search.value = LIST_TITLES.title[movie]
    assert explorer.movie.value == movie
    explorer.stars.value = 4
    after = explorer.tables["what if"]
    assert after["movie_id"].tolist() != before["movie_id"].tolist() and movie not in after["movie_id"].tolist()
    assert "What if" in explorer.view.value and "new" in after["before"].tolist()
    rated = np.append(list_train.loc[list_train.user_id == user, "movie_id"].to_numpy(), movie)
    expected = slow_fold_in_list(model, rated, 6)
    assert after["movie_id"].tolist() == [movie_id for movie_id, _ in expected]
    np.testing.assert_allclose(after["score"], [score for _, score in expected], rtol=1e-9)
    assert any(f"{LIST_TITLES.title[movie]} (4★)" in reason for reason in after["because"])
    explorer.stars.value = 0
    assert "what if" not in explorer.tables, "no what-if without stars"


@pytest.mark.parametrize("name", list(LIST_MODELS))
def test_new_stars_on_a_rated_movie_give_exactly_the_list_of_a_refit_from_scratch(list_train, name):
    model = LIST_MODELS[name]().fit(list_train)
    explorer = ListExplorer(model, list_train, LIST_TITLES, n=8)
    user = explorer.user.options[0][1]
    mine = list_train[list_train.user_id == user]
    row = mine.index[np.argmax(mine["movie_id"].to_numpy() == mine["movie_id"].min())]
    stars = 1 if list_train.at[row, "rating"] != 1 else 5
    changed = list_train.copy()
    changed.loc[row, "rating"] = stars
    refit = LIST_MODELS[name]().fit(changed)
    what_if = explorer.what_if(user, int(list_train.at[row, "movie_id"]), stars)
    pd.testing.assert_frame_equal(what_if, explained_list(refit, user, 8, LIST_TITLES))
    assert what_if["movie_id"].tolist() == model.top_n(user, 8)["movie_id"].tolist(), "stars do not move a binary model"


def test_a_new_users_first_rating_gives_the_list_of_an_item_knn_refit(list_train):
    model = LIST_MODELS["item-kNN"]().fit(list_train)
    explorer = ListExplorer(model, list_train, LIST_TITLES, n=10)
    new_user = explorer.user.options[2][1]
    movie = 105
    what_if = explorer.what_if(new_user, movie, 5)
    refit = explained_list(
        LIST_MODELS["item-kNN"]().fit(added(list_train, new_user, movie, 5)), new_user, 10, LIST_TITLES
    )
    assert what_if["movie_id"].tolist() == refit["movie_id"].tolist()
    assert what_if["because"].tolist() == refit["because"].tolist()
    own = what_if["because"] != "popular recently"
    assert own.sum() == 8 and (~own).sum() == 2, "the 8 neighbours of the rated movie, then the fallback"
    ratio = refit["score"][own] / what_if["score"][own]
    np.testing.assert_allclose(ratio, ratio.iloc[0], rtol=1e-9)  # the refit rescales the one neighbour row


def test_folding_in_a_movie_unknown_to_train_says_which(list_train):
    model = LIST_MODELS["EASE"]().fit(list_train)
    history = pd.DataFrame(
        {"movie_id": [100, 999], "rating": [4.0, 5.0], "date": list_train["date"].iloc[:2].to_numpy()}
    )
    with pytest.raises(ValueError, match=r"\[999\]"):
        model.folded_in(1, history)


def test_the_list_explorers_static_rendering_is_its_default_what_if(list_train):
    model = LIST_MODELS["EASE"]().fit(list_train)
    explorer = ListExplorer(model, list_train, LIST_TITLES, n=5, name="EASE")
    static = explorer.static().data
    heavy = explorer.user.options[0][1]
    top = int(model.top_n(heavy, 1)["movie_id"].iloc[0])
    assert explorer.movie.value == top and explorer.stars.value == 5
    assert f"What if user {heavy} rated {LIST_TITLES.title[top]} 5★" in static
    explorer.widget()
    assert explorer.view.value == static
