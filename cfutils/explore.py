"""Interactive explorers for JupyterLab (ipywidgets), with a static table when no one can click.

- :class:`MovieExplorer`: type part of a title, pick a movie, see its nearest movies (similarity,
  raters in common, year, number of ratings); a slider sets k.
- :class:`UserExplorer`: pick a user (or a "heaviest", "median", "lightest" preset) and see their
  history (top-rated and most recent) and their nearest users.

Each explorer holds its widgets as attributes and renders its current table into ``view`` (an
``HTML`` widget), so a test drives it headless by setting ``widget.value`` and reading
``view.value`` or ``table``. Nothing heavy happens at construction: a neighbour list is computed
when a movie or user is shown. ``widget()`` is what a notebook displays when ``INTERACTIVE``;
under papermill (``INTERACTIVE=False``) it shows ``static()``, the same rendering of the default
selection.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import pandas as pd
import scipy.sparse as sp
from IPython.display import HTML

from cfutils.matrix import RatingMatrix
from cfutils.similarity import similar_movies, similar_users


def _html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, float_format="{:.3f}".format, na_rep="")


class MovieExplorer:
    """Nearest movies of a movie picked by title; ``k`` from a slider.

    ``matrix`` is the training :class:`RatingMatrix`, ``titles`` is indexed by ``movie_id`` with
    ``title`` and ``year``, ``top_k`` an optional precomputed movie-movie ``cosine_top_k``. The
    default movie is the most-rated one; ``max_matches`` caps the title matches offered, most-rated first.
    """

    def __init__(self, matrix: RatingMatrix, titles: pd.DataFrame, top_k: sp.csr_matrix | None = None,
                 k: int = 10, max_k: int = 50, max_matches: int = 20):
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
        """``(label, movie_id)`` of the training movies whose title contains ``text`` (any case),
        most-rated first."""
        order = np.argsort(-self.matrix.movie_counts, kind="stable")
        ids = self.matrix.movie_ids[order]
        names = self.titles["title"].reindex(ids).fillna("").astype(str)
        found = ids[names.str.contains(text, case=False, regex=False).to_numpy()][: self.max_matches]
        counts = self.matrix.movie_counts[self.matrix.movie_index(found)]
        return [(f"{self.titles['title'].get(m, m)} ({n:,} ratings)", int(m)) for m, n in zip(found, counts)]

    def find(self, text: str) -> None:
        """Offer the movies matching ``text``; the first is shown."""
        options = self.matches(text)
        self.movie.options = options
        first = options[0][1] if options else None
        if self.movie.value == first:
            self.show()
        else:
            self.movie.value = first  # its observer shows it

    def show(self) -> pd.DataFrame | None:
        """Compute and render the nearest movies of the selected movie (none selected: nothing)."""
        if self.movie.value is None:
            self.table, self.view.value = None, "<p>No movie matches.</p>"
            return None
        self.table = similar_movies(self.matrix, self.movie.value, k=self.k.value, titles=self.titles, top_k=self.top_k)
        title = self.titles["title"].get(self.movie.value, f"movie {self.movie.value}")
        self.view.value = f"<h4>The {self.k.value} nearest movies of {title}</h4>{_html(self.table)}"
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

    def __init__(self, ratings: pd.DataFrame, matrix: RatingMatrix, titles: pd.DataFrame,
                 top_k: sp.csr_matrix | None = None, k: int = 10, n_history: int = 10):
        self.ratings, self.matrix, self.titles, self.top_k = ratings, matrix, titles, top_k
        self.n_history = n_history
        order = np.argsort(-matrix.user_counts, kind="stable")
        presets = {"heaviest": order[0], "median": order[len(order) // 2], "lightest": order[-1]}
        self.user = widgets.Dropdown(description="user", options=[
            (f"{name}: user {matrix.user_ids[i]} ({matrix.user_counts[i]:,} ratings)", int(matrix.user_ids[i]))
            for name, i in presets.items()])
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
            "top-rated": rows.sort_values(["rating", "date"], ascending=False, kind="stable")[columns].head(self.n_history),
            "most recent": rows.sort_values("date", ascending=False, kind="stable")[columns].head(self.n_history),
        }

    def show(self) -> dict[str, pd.DataFrame]:
        """Compute and render the selected user's history and nearest users."""
        self.tables = {**self.history(self.user.value),
                       "nearest users": similar_users(self.matrix, self.user.value, k=self.k.value, top_k=self.top_k)}
        self.view.value = f"<h4>User {self.user.value}</h4>" + "".join(
            f"<h4>{name}</h4>{_html(table)}" for name, table in self.tables.items())
        return self.tables

    def static(self) -> HTML:
        """The rendering of the default selection (the heaviest user), for a notebook run with no one to click."""
        self.show()
        return HTML(self.view.value)

    def widget(self) -> widgets.VBox:
        """The explorer for JupyterLab, opened on the heaviest user."""
        self.show()
        return widgets.VBox([widgets.HBox([self.user, self.k]), self.view])
