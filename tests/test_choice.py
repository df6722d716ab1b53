"""The one-standard-error rule and grids that extend themselves at an edge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cfutils.eval import (
    grid_edge,
    grid_edges,
    one_standard_error,
    search_grid,
    standard_errors,
    within_one_standard_error,
)


def test_standard_errors_by_hand():
    per_user = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    assert standard_errors(per_user)["a"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)


def test_simplest_within_one_standard_error_of_the_paired_gap():
    rng = np.random.default_rng(0)
    shared, own = rng.normal(0, 1, 400), rng.normal(0, 1, (3, 400))
    # "complex" beats "simple" by 0.02 on average, far less than the standard error of their gap (about 0.07)
    per_user = pd.DataFrame({"simple": 0.50 + shared + own[0], "complex": 0.52 + shared + own[1], "bad": shared - 1})
    within = within_one_standard_error(per_user)
    gap = per_user["complex"] - per_user["simple"]
    assert gap.mean() <= gap.std(ddof=1) / np.sqrt(400) and within["simple"] and within["complex"] and not within["bad"]
    assert one_standard_error(per_user, ["simple", "complex", "bad"]) == "simple"
    # what every candidate shares is not noise: the same 0.02 gap on identical users decides for "complex"
    paired = pd.DataFrame({"simple": 0.50 + shared, "complex": 0.52 + shared})
    assert one_standard_error(paired, ["simple", "complex"]) == "complex"
    # errors: lower is better
    errors = pd.DataFrame({"simple": 1.0 + shared + own[0], "complex": 0.99 + shared + own[1]})
    assert one_standard_error(errors, ["simple", "complex"], higher_is_better=False) == "simple"


def test_no_score_is_refused():
    with pytest.raises(ValueError, match="no candidate"):
        one_standard_error(pd.DataFrame({"a": [np.nan]}))


def test_grid_edges():
    assert grid_edge([1, 3, 10], 10) == "highest" and grid_edge([1, 3, 10], 1) == "lowest"
    assert grid_edge([1, 3, 10], 3) is None and grid_edge([5], 5) is None
    assert grid_edges({"reg": [1, 3], "k": [20, 40, 60]}, {"reg": 3, "k": 40}) == {
        "reg": {"value": 3, "edge": "highest", "grid": [1, 3]}
    }


def test_search_grid_extends_at_the_edge_towards_the_optimum():
    users = np.arange(200)

    def score(value):  # peaks at value 900, sharp enough that one standard error never reaches past it
        return pd.Series(1.0 - (np.log(value) - np.log(900)) ** 2 + 0.001 * np.sin(users), index=users)

    found = search_grid(score, [10, 30, 100], factor=3, max_extensions=4)
    assert found.chosen == 900 and found.edge is None
    assert list(found.table.index) == [10, 30, 100, 300, 900, 2700]
    capped = search_grid(score, [10, 30, 100], factor=3, max_extensions=1)
    assert capped.chosen == 300 and capped.edge == "highest"


def test_search_grid_stops_at_the_natural_lower_end():
    users = np.arange(200)

    def score(value):  # the smaller the better, without end
        return pd.Series(1.0 - value + 0.001 * np.sin(users), index=users)

    floored = search_grid(score, [5, 10, 20], simpler="smaller", factor=2, max_extensions=4, lowest=1.0)
    assert list(floored.table.index) == [1.0, 1.25, 2.5, 5, 10, 20]  # then 0.625 is tried as 1, and no further
    assert floored.chosen == 1.0 and floored.edge is None  # nothing lies below a count of 1
    unbounded = search_grid(score, [5, 10, 20], simpler="smaller", factor=2, max_extensions=2)
    assert unbounded.chosen == 1.25 and unbounded.edge == "lowest"
