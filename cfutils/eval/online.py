r"""Estimates that correct for what was observed, and the cheap online test: inverse propensity weighting and
interleaving.

**Missing not at random.** A rating :math:`r_{ui}` is observed with probability :math:`\pi_{ui}` (its
*propensity*), which depends on the user and the movie and so, through taste and popularity, on the rating
itself (Marlin and Zemel 2009; Steck 2010). The mean of the observed values then estimates the mean over the
*observed* pairs, not over all :math:`N` pairs. Weighting each observed value by :math:`1/\pi_{ui}` undoes the
selection (Schnabel et al. 2016):

.. math::

    \hat\mu_{\text{IPS}} = \frac{1}{N}\sum_{(u,i) \text{ observed}} \frac{y_{ui}}{\pi_{ui}}, \qquad
    \hat\mu_{\text{SNIPS}} = \frac{\sum_{\text{observed}} y_{ui}/\pi_{ui}}{\sum_{\text{observed}} 1/\pi_{ui}}.

IPS (Horvitz–Thompson) is unbiased when the :math:`\pi_{ui}` are right and positive; the self-normalised
SNIPS trades a small bias for much less variance, and needs no :math:`N`.

**Interleaving** (team draft, Radlinski, Kurup and Joachims 2008). Two lists :math:`A` and :math:`B` are merged
into one: at each step the team with fewer picks so far (a coin toss on a tie) adds its best movie not yet in
the merged list. A user's clicks credit the team that put each movie there; the list whose team collects more
clicks wins that user. Each user sees a single list, so interleaving needs far fewer users than an A/B test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cfutils.core import index_of
from cfutils.eval.metrics import PAD


def _weighted(values, propensity) -> tuple[np.ndarray, np.ndarray]:
    values, propensity = np.asarray(values, dtype=np.float64), np.asarray(propensity, dtype=np.float64)
    if values.shape != propensity.shape:
        raise ValueError(f"values and propensities differ in shape: {values.shape} != {propensity.shape}")
    if (propensity <= 0).any() or (propensity > 1).any():
        raise ValueError("propensities must lie in (0, 1]")
    return values, 1.0 / propensity


def ips_mean(values, propensity, n_pairs: int) -> float:
    r""":math:`\hat\mu_{\text{IPS}} = \frac{1}{N}\sum y/\pi` over the observed ``values`` (module docstring)."""
    values, weight = _weighted(values, propensity)
    return float((values * weight).sum() / n_pairs)


def snips_mean(values, propensity) -> float:
    r""":math:`\hat\mu_{\text{SNIPS}} = \sum (y/\pi) / \sum (1/\pi)` over the observed ``values``; NaN for none."""
    values, weight = _weighted(values, propensity)
    return float((values * weight).sum() / weight.sum()) if values.size else float("nan")


def count_propensity(ratings: pd.DataFrame, user_ids, movie_ids) -> np.ndarray:
    r"""Propensities estimated from the observed counts alone, as if users and movies met independently:
    :math:`\hat\pi_{ui} = \min(1, |I_u|\,|U_i| / |R|)`, with :math:`|I_u|` the user's ratings, :math:`|U_i|`
    the movie's and :math:`|R|` all of ``ratings``. Their sum over all pairs is :math:`|R|` (before the clip).
    It sees activity and popularity, not taste. A user or movie without ratings counts as one rating."""
    users, per_user = np.unique(ratings["user_id"].to_numpy(np.int64), return_counts=True)
    movies, per_movie = np.unique(ratings["movie_id"].to_numpy(np.int64), return_counts=True)
    u, i = index_of(users, user_ids), index_of(movies, movie_ids)
    n_u, n_i = np.where(u >= 0, per_user[np.maximum(u, 0)], 1), np.where(i >= 0, per_movie[np.maximum(i, 0)], 1)
    return np.minimum(1.0, n_u * n_i / len(ratings))


def list_pairs(user_ids, recommended: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``(user_id, movie_id)`` pair of every filled slot of the padded lists, and the row of each."""
    recommended = np.asarray(recommended)
    rows, slots = np.nonzero(recommended != PAD)
    return np.asarray(user_ids)[rows], recommended[rows, slots], rows


def list_means(user_ids, recommended: np.ndarray, value) -> np.ndarray:
    """The mean of ``value(user_ids, movie_ids)`` over each padded list's filled slots (NaN for an empty list):
    e.g. each list's like rate, with ``value`` the truth's chance that the user likes the movie."""
    users, movies, rows = list_pairs(user_ids, recommended)
    counts = np.bincount(rows, minlength=len(recommended))
    sums = np.bincount(rows, weights=value(users, movies), minlength=len(recommended))
    return np.divide(sums, counts, out=np.full(len(recommended), np.nan), where=counts > 0)


def team_draft(lists_a: np.ndarray, lists_b: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Team-draft interleaving of two padded list arrays of the same users (module docstring).

    Returns ``(merged, team)``: ``merged[u]`` holds the interleaved list, as long as the longer of the two
    (padded with ``-1``), and ``team[u, r]`` is 0 where list A contributed the movie, 1 where B did, -1 on
    padding. A list that runs out lets the other keep picking.
    """
    lists_a, lists_b = np.asarray(lists_a), np.asarray(lists_b)
    width = max(lists_a.shape[1], lists_b.shape[1])
    merged, team = np.full((len(lists_a), width), PAD, dtype=np.int64), np.full((len(lists_a), width), -1, np.int8)
    coins = rng.random((len(lists_a), width)) < 0.5
    for u, (a, b) in enumerate(zip(lists_a.tolist(), lists_b.tolist())):
        sources, next_of, picks, shown = ([m for m in a if m != PAD], [m for m in b if m != PAD]), [0, 0], [0, 0], set()
        for r in range(width):
            for side in (0, 1):  # skip what the other team already showed
                while next_of[side] < len(sources[side]) and sources[side][next_of[side]] in shown:
                    next_of[side] += 1
            turn = 0 if picks[0] < picks[1] or (picks[0] == picks[1] and coins[u, r]) else 1
            if next_of[turn] == len(sources[turn]):
                turn = 1 - turn
            if next_of[turn] == len(sources[turn]):
                break
            merged[u, r], team[u, r] = sources[turn][next_of[turn]], turn
            shown.add(merged[u, r])
            picks[turn] += 1
    return merged, team


def simulated_clicks(rng: np.random.Generator, user_ids, merged: np.ndarray, probability) -> np.ndarray:
    """Clicks on padded lists (boolean, shaped like ``merged``): each filled slot is clicked, independently, with
    probability ``probability(user_ids, movie_ids)`` (for example the truth's chance that the user likes it)."""
    users, movies, rows = list_pairs(user_ids, merged)
    clicks = np.zeros(np.shape(merged), dtype=bool)
    clicks[np.nonzero(np.asarray(merged) != PAD)] = rng.random(rows.size) < probability(users, movies)
    return clicks


def interleaving_wins(team: np.ndarray, clicks: np.ndarray) -> dict[str, float]:
    """Share of users whose clicks credit team A more (``"a"``), team B more (``"b"``) or both alike (``"tie"``),
    over the users with at least one click; ``n_users`` counts them. ``clicks`` is boolean, shaped like ``team``."""
    clicks = np.asarray(clicks, dtype=bool) & (np.asarray(team) >= 0)
    for_a, for_b = (clicks & (team == 0)).sum(axis=1), (clicks & (team == 1)).sum(axis=1)
    active = clicks.any(axis=1)
    n = int(active.sum())
    shares = {
        side: float(mask[active].mean()) if n else float("nan")
        for side, mask in (("a", for_a > for_b), ("b", for_b > for_a), ("tie", for_a == for_b))
    }
    return {**shares, "n_users": n}
