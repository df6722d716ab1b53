r"""EASE blended with recent-items kNN on per-user normalised scores.

EASE and :class:`~cfutils.lists.recent.RecentKNN` scores live on different scales that also differ
from user to user, so each is normalised per user over the user's candidates :math:`C_u` (the
movies EASE scores that the user has not rated) before they are added:

.. math:: \mathrm{score}(u, i) = \nu_u(e_{u\cdot})_i + w\, \nu_u(k_{u\cdot})_i, \qquad i \in C_u,

with :math:`e` the EASE scores, :math:`k` the recent-kNN scores (0 where the kNN has none) and
:math:`\nu_u` one of (:func:`normalise_scores`)

* ``"max"``: :math:`\nu_u(s)_i = s_i / \max_{j \in C_u} |s_j|`;
* ``"z"``: :math:`\nu_u(s)_i = (s_i - \bar s_{C_u}) / \mathrm{sd}_{C_u}(s)`.

A zero scale (all scores equal) leaves the scores unscaled. :math:`w` (``weight``) acts at ranking
time only, so one fit serves a whole grid (:func:`~cfutils.lists.evaluation.variant`).
"""

from __future__ import annotations

import numpy as np

from cfutils.core.train_data import TrainData
from cfutils.lists.ease import EASE
from cfutils.lists.lists import ListRecommender
from cfutils.lists.recent import RecentKNN

NORMALISATIONS = ("max", "z")


def normalise_scores(scores: np.ndarray, candidate: np.ndarray, how: str = "max") -> np.ndarray:
    """Each row of ``scores`` normalised over its ``candidate`` columns (module docstring); other
    columns are set to 0."""
    if how not in NORMALISATIONS:
        raise ValueError(f"how must be one of {NORMALISATIONS}, not {how!r}")
    values = np.where(candidate, scores, 0.0)
    count = np.maximum(candidate.sum(axis=1, keepdims=True), 1)
    if how == "max":
        centre, scale = 0.0, np.abs(values).max(axis=1, keepdims=True)
    else:
        centre = values.sum(axis=1, keepdims=True) / count
        scale = np.sqrt((np.where(candidate, values - centre, 0.0) ** 2).sum(axis=1, keepdims=True) / count)
    scale = np.where(scale > 0, scale, 1.0)
    return np.where(candidate, (values - centre) / scale, 0.0)


class EASERecentBlend(ListRecommender):
    """Normalised EASE plus ``weight`` times normalised recent-items kNN (module docstring).

    Only EASE's movies are candidates; an unknown user gets the fallback.
    """

    reason = "EASE and what you watched last"

    def __init__(
        self,
        lam: float = 500.0,
        recent_items: int = 20,
        weight: float = 1.0,
        normalisation: str = "max",
        n_neighbours: int = 100,
        max_items: int | None = 3000,
        fallback_days: int | None = 30,
    ):
        self.lam, self.recent_items, self.weight, self.normalisation = lam, recent_items, weight, normalisation
        self.n_neighbours, self.max_items, self.fallback_days = n_neighbours, max_items, fallback_days

    def _fit(self, data: TrainData) -> None:
        self.ease_ = EASE(self.lam, self.max_items, self.fallback_days, self.budget_bytes).fit(data)
        self.recent_ = RecentKNN(
            self.recent_items, self.n_neighbours, fallback_days=self.fallback_days, budget_bytes=self.budget_bytes
        ).fit(data)

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        ease = self.ease_.scores(user_idx)
        knn = self.recent_.scores(user_idx)
        candidate = np.isfinite(ease) & ~self.rated_mask(user_idx)
        knn = np.where(np.isfinite(knn), knn, 0.0)
        blended = normalise_scores(ease, candidate, self.normalisation) + self.weight * normalise_scores(
            knn, candidate, self.normalisation
        )
        return np.where(candidate, blended, -np.inf)

    def explain(self, user_idx: int, movie_idx: np.ndarray, from_fallback: np.ndarray) -> list[str]:
        return self.ease_.explain(user_idx, movie_idx, from_fallback)
