"""Interactive explorers for JupyterLab (ipywidgets), with a static table when no one can click.

- :class:`MovieExplorer`: type part of a title, pick a movie, see its nearest movies (similarity,
  raters in common, year, number of ratings); a slider sets k.
- :class:`UserExplorer`: pick a user (or a "heaviest", "median", "lightest" preset) and see their
  history (top-rated and most recent) and their nearest users.
- :class:`ListExplorer`: pick a user (a "heavy", "light" or "new" preset) and see their top-N list
  with "because you rated ..."; pick a movie and stars to see the list had they rated it (the
  rating folded into the fitted model, no refit).

Each explorer holds its widgets as attributes and renders its current table into ``view`` (an
``HTML`` widget), so a test drives it headless by setting ``widget.value`` and reading
``view.value`` or ``table``. Nothing heavy happens at construction: a neighbour list or a top-N
list is computed when a movie or user is shown. ``widget()`` is what a notebook displays when ``INTERACTIVE``;
under papermill (``INTERACTIVE=False``) it shows ``static()``, the same rendering of the default
selection.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pandas as pd
import scipy.sparse as sp
from IPython.display import HTML

from cfutils.core.matrix import RatingMatrix
from cfutils.core.similarity.neighbours import find_movies, similar_movies, similar_users
from cfutils.core.text import escape_html
from cfutils.present.explain import explained_list
from cfutils.present.titles import TitleTable, as_title_table


def _html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, float_format="{:.3f}".format, na_rep="")


def title_matches(matrix: RatingMatrix, titles: pd.DataFrame, text: str, max_matches: int) -> list[tuple[str, int]]:
    """``(label, movie_id)`` of the first ``max_matches`` training movies whose title contains
    ``text`` (any case), most-rated first; the label gives the title and the number of ratings."""
    return [(movie_label(matrix, titles, m), int(m)) for m in find_movies(matrix, titles, text)[:max_matches]]


def offer(dropdown: widgets.Dropdown, options: list[tuple[str, int]], show) -> None:
    """Put ``options`` in ``dropdown`` and select the first (None when empty); ``show()`` renders
    the selection, through the dropdown's observer when the value changes."""
    dropdown.options = options
    first = options[0][1] if options else None
    if dropdown.value == first:
        show()
    else:
        dropdown.value = first  # its observer shows it


def movie_label(matrix: RatingMatrix, titles: pd.DataFrame | TitleTable, movie_id: int) -> str:
    """ "Title (n ratings)", with the movie's number of training ratings."""
    count = matrix.movie_counts[matrix.movie_index([movie_id])[0]]
    return f"{as_title_table(titles).title(movie_id)} ({count:,} ratings)"


class MovieExplorer:
    """Nearest movies of a movie picked by title; ``k`` from a slider.

    ``matrix`` is the training :class:`RatingMatrix`, ``titles`` is indexed by ``movie_id`` with
    ``title`` and ``year``, ``top_k`` an optional precomputed movie-movie ``cosine_top_k``. The
    default movie is the most-rated one; ``max_matches`` caps the title matches offered, most-rated first.
    """

    def __init__(
        self,
        matrix: RatingMatrix,
        titles: pd.DataFrame,
        top_k: sp.csr_matrix | None = None,
        k: int = 10,
        max_k: int = 50,
        max_matches: int = 20,
    ):
        self.matrix, self.titles, self.top_k, self.max_matches = matrix, titles, top_k, max_matches
        self.search = widgets.Text(description="title", placeholder="part of a title")
        self.movie = widgets.Dropdown(description="movie", options=[], layout=widgets.Layout(width="40rem"))
        self.k = widgets.IntSlider(value=k, min=1, max=max_k, description="k")
        self.view = widgets.HTML()
        self.table: pd.DataFrame | None = None
        self.search.observe(lambda change: self.find(change["new"]), names="value")
        self.movie.observe(lambda change: self.show(), names="value")
        self.k.observe(lambda change: self.show(), names="value")

    def matches(self, text: str) -> list[tuple[str, int]]:
        """:func:`title_matches` of ``text``."""
        return title_matches(self.matrix, self.titles, text, self.max_matches)

    def find(self, text: str) -> None:
        """Offer the movies matching ``text``; the first is shown."""
        offer(self.movie, self.matches(text), self.show)

    def show(self) -> pd.DataFrame | None:
        """Compute and render the nearest movies of the selected movie (none selected: nothing)."""
        if self.movie.value is None:
            self.table, self.view.value = None, "<p>No movie matches.</p>"
            return None
        self.table = similar_movies(self.matrix, self.movie.value, k=self.k.value, titles=self.titles, top_k=self.top_k)
        title = as_title_table(self.titles).title(self.movie.value)
        self.view.value = f"<h4>The {self.k.value} nearest movies of {escape_html(title)}</h4>{_html(self.table)}"
        return self.table

    def default_table(self) -> pd.DataFrame:
        """The nearest movies of the most-rated movie: the static rendering."""
        self.find("")
        return self.show()

    def static(self) -> HTML:
        """The rendering of the default selection, for a notebook run with no one to click."""
        self.default_table()
        return HTML(self.view.value)

    def widget(self) -> widgets.VBox:
        """The explorer for JupyterLab, opened on the most-rated movie."""
        self.default_table()
        return widgets.VBox([widgets.HBox([self.search, self.k]), self.movie, self.view])


class UserExplorer:
    """A user's history (top-rated, most recent) and nearest users.

    ``ratings`` is the training frame (``user_id, movie_id, rating, date``), ``matrix`` its
    :class:`RatingMatrix`, ``titles`` as for :class:`MovieExplorer`, ``top_k`` an optional
    user-user ``cosine_top_k``. The presets are the heaviest, median and lightest users.
    """

    def __init__(
        self,
        ratings: pd.DataFrame,
        matrix: RatingMatrix,
        titles: pd.DataFrame,
        top_k: sp.csr_matrix | None = None,
        k: int = 10,
        n_history: int = 10,
    ):
        self.ratings, self.matrix, self.titles, self.top_k = ratings, matrix, titles, top_k
        self.n_history = n_history
        order = np.argsort(-matrix.user_counts, kind="stable")
        presets = {"heaviest": order[0], "median": order[len(order) // 2], "lightest": order[-1]}
        self.user = widgets.Dropdown(
            description="user",
            options=[
                (f"{name}: user {matrix.user_ids[i]} ({matrix.user_counts[i]:,} ratings)", int(matrix.user_ids[i]))
                for name, i in presets.items()
            ],
        )
        self.k = widgets.IntSlider(value=k, min=1, max=50, description="k")
        self.view = widgets.HTML()
        self.tables: dict[str, pd.DataFrame] = {}
        self.user.observe(lambda change: self.show(), names="value")
        self.k.observe(lambda change: self.show(), names="value")

    def history(self, user_id: int) -> dict[str, pd.DataFrame]:
        """The user's ``top-rated`` (rating, then newest first) and ``most recent`` ratings, with titles."""
        rows = self.ratings[self.ratings["user_id"] == user_id].join(self.titles[["title", "year"]], on="movie_id")
        columns = ["movie_id", "title", "year", "rating", "date"]
        return {
            "top-rated": rows.sort_values(["rating", "date"], ascending=False, kind="stable")[columns].head(
                self.n_history
            ),
            "most recent": rows.sort_values("date", ascending=False, kind="stable")[columns].head(self.n_history),
        }

    def show(self) -> dict[str, pd.DataFrame]:
        """Compute and render the selected user's history and nearest users."""
        self.tables = {
            **self.history(self.user.value),
            "nearest users": similar_users(self.matrix, self.user.value, k=self.k.value, top_k=self.top_k),
        }
        self.view.value = f"<h4>User {self.user.value}</h4>" + "".join(
            f"<h4>{name}</h4>{_html(table)}" for name, table in self.tables.items()
        )
        return self.tables

    def static(self) -> HTML:
        """The rendering of the default selection (the heaviest user), for a notebook run with no one to click."""
        self.show()
        return HTML(self.view.value)

    def widget(self) -> widgets.VBox:
        """The explorer for JupyterLab, opened on the heaviest user."""
        self.show()
        return widgets.VBox([widgets.HBox([self.user, self.k]), self.view])


class ListExplorer:
    r"""A user's top-N list with "because you rated …", and a "what if" rating folded in.

    ``model`` is a fitted list recommender with :class:`~cfutils.lists.fold_in.FoldIn`
    (EASE, item-kNN and their variants), ``train`` the ratings frame it was fit on, ``titles``
    as for :class:`MovieExplorer`; lists and reasons are :func:`~cfutils.present.explain.explained_list`
    (cited movies rated at least ``threshold``), ``users`` the presets ``{name: raw user id}`` (default: the
    ``heavy`` user with the most train ratings, the ``light`` one with the fewest, and a ``new``
    id with none, who gets the fallback list). ``n`` is the list length, ``name`` the model's name
    in the headings.

    **What if.** Pick a movie (type part of a title) and stars: the user's train ratings, with that
    movie added (dated the last day of train) or its stars changed, are folded into the fitted
    model (:meth:`~cfutils.lists.fold_in.FoldIn.folded_in`), with no refit:

    .. math:: \mathrm{score}'(u, i) = \sum_j x'_{uj} W_{ji},

    where :math:`W` is the fitted item side and :math:`x'_u` the changed row. On a binary row an
    added movie :math:`j` adds :math:`W_{j\cdot}` to every score; new stars on a rated movie
    change the explanation only. The what-if table's ``before`` column gives each movie's rank in
    the list before the change ("new" when it entered the list).
    """

    def __init__(
        self,
        model,
        train: pd.DataFrame,
        titles: pd.DataFrame,
        users: dict[str, int] | None = None,
        n: int = 10,
        name: str | None = None,
        max_matches: int = 20,
        threshold: float = 4.0,
    ):
        self.model, self.train, self.titles, self.n, self.max_matches = model, train, titles, n, max_matches
        self.table, self.threshold = as_title_table(titles), threshold
        self.name = name or type(model).__name__
        matrix = model.matrix_
        if users is None:
            order = np.lexsort((matrix.user_ids, -matrix.user_counts))
            users = {
                "heavy": int(matrix.user_ids[order[0]]),
                "light": int(matrix.user_ids[order[-1]]),
                "new": int(matrix.user_ids.max(initial=0)) + 1,
            }
        counts = {
            user: int(matrix.user_counts[i]) if i >= 0 else 0
            for user, i in zip(users.values(), matrix.user_index(list(users.values())))
        }
        self.user = widgets.Dropdown(
            description="user",
            options=[
                (f"{kind}: user {user} ({counts[user]:,} train ratings)", int(user)) for kind, user in users.items()
            ],
            layout=widgets.Layout(width="30rem"),
        )
        self.search = widgets.Text(description="title", placeholder="part of a title")
        self.movie = widgets.Dropdown(description="what if", options=[], layout=widgets.Layout(width="30rem"))
        self.stars = widgets.Dropdown(
            description="stars", options=[("no what-if", 0)] + [(f"{s}★", s) for s in range(1, 6)]
        )
        self.view = widgets.HTML()
        self.tables: dict[str, pd.DataFrame] = {}
        self.user.observe(lambda change: self.show(), names="value")
        self.search.observe(lambda change: self.find(change["new"]), names="value")
        self.movie.observe(lambda change: self.show(), names="value")
        self.stars.observe(lambda change: self.show(), names="value")

    def history(self, user_id: int) -> pd.DataFrame:
        """The user's train ratings ``[movie_id, rating, date]`` (empty for a new user)."""
        return self.train.loc[self.train["user_id"] == user_id, ["movie_id", "rating", "date"]]

    def what_if(self, user_id: int, movie_id: int, stars: int) -> pd.DataFrame:
        """The user's list (as :meth:`listed`) had they rated ``movie_id`` with ``stars``: a
        changed rating keeps its date, a new one is dated the last day of train."""
        history = self.history(user_id)
        rated = history["movie_id"] == movie_id
        if rated.any():
            history = history.assign(rating=history["rating"].where(~rated, stars))
        else:
            added = pd.DataFrame({"movie_id": [movie_id], "rating": [stars], "date": [self.train["date"].max()]})
            history = pd.concat([history, added.astype(history.dtypes.to_dict())], ignore_index=True)
        return self.listed(self.model.folded_in(user_id, history), user_id)

    def listed(self, model, user_id: int) -> pd.DataFrame:
        """``model``'s list for the user with titles and reasons (:func:`~cfutils.present.explain.explained_list`)."""
        return explained_list(model, user_id, self.n, self.table, self.threshold)

    def find(self, text: str) -> None:
        """Offer the movies whose title contains ``text`` for the what-if; the first is selected."""
        offer(self.movie, title_matches(self.model.matrix_, self.titles, text, self.max_matches), self.show)

    def show(self) -> dict[str, pd.DataFrame]:
        """Compute and render the selected user's list and, when a movie and stars are picked, the what-if list."""
        user = self.user.value
        before = self.listed(self.model, user)
        self.tables = {"list": before}
        html = f"<h4>{escape_html(self.name)}: the top {self.n} of user {user}</h4>{_html(before)}"
        if self.movie.value is not None and self.stars.value:
            after = self.what_if(user, self.movie.value, self.stars.value)
            rank = pd.Series(np.arange(1, len(before) + 1), index=before["movie_id"])
            after.insert(0, "before", [str(rank[m]) if m in rank.index else "new" for m in after["movie_id"]])
            self.tables["what if"] = after
            title = escape_html(self._title(self.movie.value))
            html += f"<h4>What if user {user} rated {title} {self.stars.value}★</h4>"
            html += f"<p>{escape_html(self._change(before, after, user))}</p>{_html(after)}"
        self.view.value = html
        return self.tables

    def _title(self, movie_id: int) -> str:
        return self.table.title(movie_id)

    def _change(self, before: pd.DataFrame, after: pd.DataFrame, user: int) -> str:
        old = self.history(user).set_index("movie_id")["rating"].get(self.movie.value)
        what = f"It changes their {old:g}★ rating." if old is not None else "The movie is new to their train ratings."
        entered = [self._title(m) for m in after["movie_id"] if m not in set(before["movie_id"])]
        left = [self._title(m) for m in before["movie_id"] if m not in set(after["movie_id"])]
        if not entered and not left:
            order = "the same order" if before["movie_id"].tolist() == after["movie_id"].tolist() else "a new order"
            return f"{what} The same movies stay in the list, in {order}."
        return f"{what} Entered the list: {', '.join(entered) or 'none'}. Left it: {', '.join(left) or 'none'}."

    def select_default(self) -> None:
        """The default selection: the first preset, rating its top recommendation 5★."""
        self.user.value = self.user.options[0][1]
        top = self.model.top_n(self.user.value, 1)["movie_id"]
        self.find("")
        if len(top):
            movie = int(top.iloc[0])
            if movie not in [value for _, value in self.movie.options]:
                self.movie.options = [(movie_label(self.model.matrix_, self.table, movie), movie), *self.movie.options]
            self.movie.value = movie
        self.stars.value = 5

    def static(self) -> HTML:
        """The rendering of the default selection, for a notebook run with no one to click."""
        self.select_default()
        return HTML(self.view.value)

    def widget(self) -> widgets.VBox:
        """The explorer for JupyterLab, opened on the default selection."""
        self.select_default()
        return widgets.VBox([self.user, widgets.HBox([self.search, self.movie, self.stars]), self.view])
