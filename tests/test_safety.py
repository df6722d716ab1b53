"""Strings from data are inert where they meet HTML or a figure (issue 31, item 1)."""

from __future__ import annotations

import html

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest
from hostile import HOSTILE_TITLES, has_live_markup
from matplotlib import pyplot as plt
from ratings_factory import ratings_frame

from cfutils.core.matrix import RatingMatrix
from cfutils.core.text import escape_html, literal_mathtext, styled_table
from cfutils.lists.ease import EASE
from cfutils.present.explore import ListExplorer, MovieExplorer
from cfutils.present.report import notebook_body, sanitise_outputs

matplotlib.use("Agg")

IDS = range(100, 100 + len(HOSTILE_TITLES))
TITLES = pd.DataFrame(
    {"title": list(HOSTILE_TITLES), "year": pd.array([2000] * len(HOSTILE_TITLES), dtype="Int16")},
    index=pd.Index(IDS, name="movie_id"),
)


@pytest.fixture(scope="module")
def train():
    rng = np.random.default_rng(3)
    cells = [(u, m) for u in range(1, 30) for m in IDS if rng.random() < 0.7]
    users, movies = zip(*cells)
    return ratings_frame(users, movies, rng.integers(1, 6, len(cells)), days=rng.integers(0, 100, len(cells)))


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_escape_html_round_trips_to_the_same_text(title):
    escaped = escape_html(title)
    assert not has_live_markup(escaped) and "<" not in escaped and '"' not in escaped
    assert html.unescape(escaped) == title


def test_a_styled_table_escapes_every_cell_and_keeps_three_decimals():
    rendered = styled_table(pd.DataFrame({"title": list(HOSTILE_TITLES), "similarity": 0.12345})).to_html()
    assert not has_live_markup(rendered)
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in rendered
    assert "0.123" in rendered and "0.1234" not in rendered


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_a_dollar_in_a_label_is_drawn_literally_and_never_crashes(title):
    fig, ax = plt.subplots()
    ax.set_yticks([0], [literal_mathtext(title)])
    ax.set_title(literal_mathtext(title))
    fig.canvas.draw()  # an unbalanced $ raises here without the escape
    assert ax.get_title() == literal_mathtext(title)
    plt.close(fig)


def test_an_unescaped_unbalanced_dollar_does_crash_so_the_test_above_means_something():
    fig, ax = plt.subplots()
    ax.set_title(HOSTILE_TITLES[3])
    with pytest.raises(ValueError):
        fig.canvas.draw()
    plt.close(fig)


def test_the_movie_explorer_heading_shows_a_hostile_title_as_text(train):
    explorer = MovieExplorer(RatingMatrix.from_ratings(train), TITLES, k=3)
    for movie in IDS:
        explorer.find("")
        explorer.movie.value = movie
        assert not has_live_markup(explorer.view.value), explorer.view.value
        assert escape_html(TITLES.title[movie]) in explorer.view.value


def test_the_list_explorer_headings_and_changes_show_hostile_titles_as_text(train):
    model = EASE(lam=5.0, max_items=30, fallback_days=30).fit(train)
    explorer = ListExplorer(model, train, TITLES, n=3, name="<i>EASE</i>")
    static = explorer.static().data
    assert not has_live_markup(static) and "<i>" not in static
    assert "&lt;i&gt;EASE&lt;/i&gt;" in static
    for movie in IDS:
        explorer.movie.options = [(str(movie), movie)]
        explorer.movie.value = movie
        assert not has_live_markup(explorer.view.value), explorer.view.value


def test_the_report_strips_script_and_handlers_that_reach_a_cell_output(tmp_path):
    hostile = "".join(HOSTILE_TITLES) + '<a href="javascript:window.pwned=4">x</a><table><tr><td>kept</td></tr></table>'
    outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": hostile, "text/plain": "plain"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "window.pwned = 5"}),
    ]
    cleaned = sanitise_outputs(outputs)
    assert "<script" not in cleaned[0].data["text/html"] and "onerror" not in cleaned[0].data["text/html"]
    assert "javascript:" not in cleaned[0].data["text/html"] and "<td>kept</td>" in cleaned[0].data["text/html"]
    assert "application/javascript" not in cleaned[1].data
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=outputs)])
    path = tmp_path / "nb.ipynb"
    nbformat.write(notebook, path)
    body = notebook_body(path)
    assert "<script" not in body.replace('<script type="application/vnd', "") and "onerror" not in body
    assert "window.pwned = 5" not in body and "<td>kept</td>" in body
