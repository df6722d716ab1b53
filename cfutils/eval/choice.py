r"""Choices made on validation that do not overfit it: the one-standard-error rule and grid edges.

**The one-standard-error rule** (Breiman et al. 1984, §3.4.3; Hastie, Tibshirani and Friedman 2009,
§7.10), on paired per-user scores. Each candidate :math:`m` has validation scores :math:`s_{mu}` over the
same :math:`n` users, with mean :math:`\bar s_m`; :math:`b` is the candidate with the best mean. The gap of
:math:`m` to the best is the per-user difference :math:`d_{mu} = s_{bu} - s_{mu}` (:math:`s_{mu} - s_{bu}` for
errors), with mean :math:`\bar d_m` and standard error :math:`\mathrm{se}(d_m) = \mathrm{sd}(d_{m\cdot}) / \sqrt{n}`.
The rule picks the *simplest* candidate within one standard error of the best:

.. math:: \bar d_m \le \mathrm{se}(d_m).

The standard error is the *paired* one: the same users score every candidate, so what they share (a user
who is easy for every model, a new user who gets the same fallback from all) is not counted as noise.
A gap smaller than the noise of the validation users is not a reason to prefer the more complex
candidate. ``simplest_first`` orders the candidates; ties in that order do not occur.

**Grid edges.** A tuned value at the lowest or highest value of its grid may lie beyond it:
:func:`grid_edge` says which edge; :func:`search_grid` extends the grid there (times or divided by
``factor``) up to ``max_extensions`` times, and reports the edge when the choice still sits on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def standard_errors(per_user: pd.DataFrame) -> pd.Series:
    """Each column's standard error of the mean: sample standard deviation over :math:`\\sqrt{n}` (0 for one user)."""
    n = per_user.notna().sum()
    return (per_user.std(ddof=1) / np.sqrt(n)).fillna(0.0)


def within_one_standard_error(per_user: pd.DataFrame, higher_is_better: bool = True) -> pd.Series:
    """For each candidate (column), whether its paired gap to the best mean is within one standard error
    of that gap (module docstring); a candidate with no score (all NaN) never is. Raises ``ValueError``
    when no candidate has a score."""
    means = per_user.mean()
    if means.isna().all():
        raise ValueError("no candidate has a validation score")
    best = means.idxmax() if higher_is_better else means.idxmin()
    gaps = per_user.rsub(per_user[best], axis=0) if higher_is_better else per_user.sub(per_user[best], axis=0)
    return (gaps.mean() <= standard_errors(gaps) + 1e-12) & means.notna()


def one_standard_error(
    per_user: pd.DataFrame, simplest_first: Sequence[str] | None = None, higher_is_better: bool = True
) -> str:
    """The simplest candidate within one standard error of the best (module docstring).

    ``per_user`` has one row per validation user and one column per candidate; ``simplest_first``
    lists the columns from the simplest (default: the column order). Raises ``ValueError`` when no
    candidate has a score.
    """
    within = within_one_standard_error(per_user, higher_is_better)
    order = list(per_user.columns) if simplest_first is None else list(simplest_first)
    return next(m for m in order if within.get(m, False))


def grid_edge(grid: Sequence[float], chosen: float) -> str | None:
    """``"lowest"`` or ``"highest"`` when ``chosen`` is that end of a grid of more than one value, else None."""
    values = sorted(set(grid))
    if len(values) < 2:
        return None
    return "lowest" if chosen == values[0] else "highest" if chosen == values[-1] else None


def grid_edges(grids: dict[str, Sequence], best: dict) -> dict[str, dict]:
    """For every setting of ``grids`` whose ``best`` value sits at an edge of its grid:
    ``{setting: {"value", "edge", "grid"}}`` (the record ``grid_edge``)."""
    edges = {}
    for name, grid in grids.items():
        edge = grid_edge(grid, best[name]) if name in best else None
        if edge:
            edges[name] = {"value": best[name], "edge": edge, "grid": list(grid)}
    return edges


@dataclass(frozen=True)
class GridSearch:
    """The values tried (``table``: value, mean, standard error), the one chosen, and the edge of the
    final grid it sits on (None: inside the grid)."""

    table: pd.DataFrame
    chosen: float
    edge: str | None


def search_grid(
    score_by_user: Callable[[float], pd.Series],
    grid: Sequence[float],
    simpler: str = "larger",
    factor: float = 3.0,
    max_extensions: int = 2,
    lowest: float = 0.0,
) -> GridSearch:
    """Tune one positive setting (a penalty) by the one-standard-error rule, extending the grid at an edge.

    ``score_by_user(value)`` gives each validation user's score (higher is better) with that value.
    ``simpler`` says which direction makes the model simpler (``"larger"`` for a penalty λ). When the
    chosen value is the lowest (highest) of the grid, ``value / factor`` (``value * factor``) is added
    and the choice made again, at most ``max_extensions`` times. ``lowest`` is the setting's natural
    lower end (0, or 1 for a count): an extension below it tries ``lowest`` itself, and a choice there is
    not at an edge, nothing lies beyond it.
    """
    scores = {float(v): score_by_user(float(v)) for v in grid}

    def choose() -> float:
        return one_standard_error(pd.DataFrame(scores), sorted(scores, reverse=simpler == "larger"))

    chosen = choose()
    for _ in range(max_extensions):
        edge = grid_edge(list(scores), chosen)
        if edge is None or chosen <= lowest:
            break
        beyond = max(chosen / factor, lowest) if edge == "lowest" else chosen * factor
        scores[beyond] = score_by_user(beyond)
        chosen = choose()
    per_user = pd.DataFrame(scores)
    table = pd.DataFrame({"mean": per_user.mean(), "se": standard_errors(per_user)}).rename_axis("value").sort_index()
    return GridSearch(table, chosen, None if chosen <= lowest else grid_edge(list(scores), chosen))
