r"""Choosing among list recommenders on validation without overfitting it.

* :func:`per_user_ndcg`: each validation (or test) user's NDCG@n, the unit every comparison here
  averages and resamples.
* :func:`one_standard_error`, the one-standard-error rule (Breiman et al. 1984, §3.4.3): with
  :math:`\bar s_m` each candidate's mean per-user score and :math:`b` the best,
  :math:`\mathrm{se}_b = \mathrm{sd}(s_{b\cdot})/\sqrt{n}`, pick the *simplest* candidate with
  :math:`\bar s_m \ge \bar s_b - \mathrm{se}_b`. A complex candidate (the re-ranker) is chosen only
  when it is clearly better than the simple ones on validation. ``paired=True`` measures the noise
  where the candidates are compared, on the same users: candidate :math:`m` is within reach when
  :math:`\bar s_b - \bar s_m \le \mathrm{sd}(s_{b\cdot} - s_{m\cdot})/\sqrt{n}`. The users' spread
  in difficulty cancels in the difference, so the paired rule is less conservative.
* :func:`search_log_grid`: the best mean over a log-spaced grid that extends itself when the best
  value sits at an edge (``value * factor`` above, ``value / factor`` below), so that a grid fitted
  to one data set does not cap the value on the next.

A minimal version written for issue 27; issue 26 brings the same rule and bootstrap intervals to
:mod:`cfutils.eval`, which should replace these two functions once it lands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cfutils.eval import as_padded_array, hit_matrix, ndcg_at_k
from cfutils.lists.lists import ListRecommender


def per_user_ndcg(recommender: ListRecommender, test: pd.DataFrame, n: int = 10, threshold: float = 4.0) -> pd.Series:
    """NDCG@n of each ``test`` user with a movie rated ``>= threshold`` (index ``user_id``, sorted);
    its mean is :func:`cfutils.eval.ranking_metrics`' ``ndcg@n``."""
    users = np.unique(test.loc[test["rating"].to_numpy() >= threshold, "user_id"].to_numpy())
    listed_users, listed = as_padded_array(recommender.top_n_batch(users, n), n=n)
    recommended = np.full((users.size, n), -1, dtype=np.int64)
    recommended[np.searchsorted(users, listed_users)] = listed
    hits, n_relevant = hit_matrix(users, recommended, test, threshold)
    return pd.Series(ndcg_at_k(hits, n_relevant, n), index=pd.Index(users, name="user_id"), name=f"ndcg@{n}")


def one_standard_error(per_user: pd.DataFrame, simplest_first: Sequence[str], paired: bool = False) -> str:
    """The first of ``simplest_first`` whose mean is within one standard error of the best mean
    (``per_user``: one row per user, one column per candidate; ``paired``: the standard error of the
    per-user difference from the best; module docstring)."""
    means = per_user.mean()
    best = means.idxmax()
    n = len(per_user)

    def se(m: str) -> float:
        values = per_user[best] - per_user[m] if paired else per_user[best]
        return float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0

    return next(m for m in simplest_first if means[m] >= means[best] - se(m) - 1e-12)


@dataclass(frozen=True)
class GridResult:
    """Mean score by value tried (``means``, sorted), the best value, and the edge it still sits on (or None)."""

    means: pd.Series
    chosen: float
    edge: str | None


def search_log_grid(
    score: Callable[[float], float], grid: Sequence[float], factor: float = 4.0, max_extensions: int = 3
) -> GridResult:
    """The value of ``grid`` (positive) with the largest ``score(value)``; while it is the lowest or the
    highest value tried, ``value / factor`` or ``value * factor`` is tried too, at most
    ``max_extensions`` times (module docstring). Ties go to the smaller value."""
    means = {float(v): float(score(float(v))) for v in grid}

    def best() -> tuple[float, str | None]:
        values = sorted(means)
        chosen = max(values, key=lambda v: (means[v], -v))
        edge = "lowest" if chosen == values[0] else "highest" if chosen == values[-1] else None
        return chosen, edge if len(values) > 1 else None

    chosen, edge = best()
    for _ in range(max_extensions):
        if edge is None:
            break
        beyond = chosen / factor if edge == "lowest" else chosen * factor
        means[beyond] = float(score(beyond))
        chosen, edge = best()
    return GridResult(pd.Series(means).sort_index(), chosen, edge)
