r"""The recency family tuned on validation folds: recent-items kNN, decayed EASE and the EASE + recent-kNN blend.

How much what a user watched *last* says about the next movies can differ a lot between data sets (the
weights chosen on each cut are in ``benchmarks/results/topn_robustness_*.json``), so nothing here fixes a
recency strength: each setting is tuned on the
validation folds (:class:`~cfutils.lists.evaluation.FoldValidation`), on a wide log grid that extends
itself when its choice sits at an edge, by the one-standard-error rule towards the simpler end
(:func:`cfutils.eval.search_grid`):

* :math:`m`, the recent movies of :class:`~cfutils.lists.recent.RecentKNN` (fewer is simpler);
* :math:`h`, the half-life of :class:`~cfutils.lists.recent.DecayedEASE`
  (:math:`x_{uj} = 2^{-a_{uj}/h}`; longer is simpler, :math:`h = \infty` is EASE);
* :math:`w`, the weight of the recent-kNN in :class:`~cfutils.lists.blend.EASERecentBlend`, once per
  normalisation (:data:`~cfutils.lists.blend.NORMALISATIONS`; smaller is simpler, :math:`w = 0` is EASE),
  with the tuned :math:`m`.

EASE's :math:`\lambda` comes from the caller (tuned first, on the same folds). Notebook 06 and
``benchmarks/topn_robustness.py`` both tune the family here, so the two choose alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cfutils.eval.choice import GridSearch, search_grid
from cfutils.lists.blend import NORMALISATIONS, EASERecentBlend
from cfutils.lists.evaluation import FoldValidation, variant
from cfutils.lists.lists import ListRecommender
from cfutils.lists.recent import DecayedEASE, RecentKNN

#: Log-spaced grids: steps of 2 for m, 4 for h and w; a choice at an edge extends the grid by a factor of 3
#: (:func:`cfutils.eval.search_grid`), down to m = 1 at most.
RECENCY_GRIDS = {
    "recent_items": (5.0, 10.0, 20.0, 40.0, 80.0),
    "half_life": (2.0, 8.0, 32.0, 128.0, 512.0),
    "weight": (1 / 16, 1 / 4, 1.0, 4.0, 16.0),
}
#: Which end of each grid is the simpler model (module docstring).
SIMPLER = {"recent_items": "smaller", "half_life": "larger", "weight": "smaller"}
#: The family's recommenders, by the name the tuned settings are served under.
RECENT_KNN, DECAYED_EASE = "recent-kNN", "decayed EASE"
BLENDS = {how: f"blend ({how})" for how in NORMALISATIONS}


@dataclass(frozen=True)
class RecencyFamily:
    """The tuned settings (``searches``: one :class:`~cfutils.eval.GridSearch` per setting, keyed
    ``recent_items``, ``half_life`` and ``weight_<normalisation>``), the options every member is built
    with (:func:`tune_recency`), and the per-user validation NDCG of the decayed EASE and of each blend
    (``validation``, columns named as in :meth:`recommenders`)."""

    lam: float
    searches: dict[str, GridSearch]
    validation: pd.DataFrame
    n_neighbours: int = 100
    max_items: int | None = 3000
    fallback_days: int | None = 30

    @property
    def recent_items(self) -> int:
        return int(round(self.searches["recent_items"].chosen))

    @property
    def half_life(self) -> float:
        return self.searches["half_life"].chosen

    def weight(self, how: str) -> float:
        return self.searches[f"weight_{how}"].chosen

    @property
    def best_normalisation(self) -> str:
        """The normalisation whose blend has the higher mean validation NDCG."""
        return max(BLENDS, key=lambda how: self.validation[BLENDS[how]].mean())

    @property
    def best_blend(self) -> str:
        return BLENDS[self.best_normalisation]

    def recommenders(self) -> dict[str, ListRecommender]:
        """Unfitted members with the tuned settings: the recent-kNN, the decayed EASE and each blend."""
        ease = dict(max_items=self.max_items, fallback_days=self.fallback_days)
        return {
            RECENT_KNN: RecentKNN(self.recent_items, self.n_neighbours, fallback_days=self.fallback_days),
            DECAYED_EASE: DecayedEASE(self.lam, self.half_life, **ease),
            **{
                name: EASERecentBlend(self.lam, self.recent_items, self.weight(how), how, self.n_neighbours, **ease)
                for how, name in BLENDS.items()
            },
        }

    def named(self) -> dict[str, ListRecommender]:
        """The recent-kNN, the better blend (:attr:`best_blend`) and the decayed EASE, unfitted, under
        names that carry their tuned settings (notebook 06's rows), simplest first as the robustness
        benchmark orders them for the one-standard-error rule: the blend, the simple peer a re-ranker must
        beat, before the decayed EASE (each is EASE plus one ranking-time knob, w = 0 and h = ∞ being EASE)."""
        members, how = self.recommenders(), self.best_normalisation
        return {
            f"recent-kNN (m={self.recent_items})": members[RECENT_KNN],
            f"EASE + recent-kNN blend ({how}, w={self.weight(how):.3g})": members[BLENDS[how]],
            f"EASE, decayed (h={self.half_life:.3g})": members[DECAYED_EASE],
        }

    def settings(self) -> dict:
        """Every chosen value, and the settings still at an edge of their extended grid (``grid_edges``)."""
        chosen = {name: search.chosen for name, search in self.searches.items()}
        chosen["recent_items"] = self.recent_items  # the whole number of movies used (an extension may try 5 / 3)
        return {**chosen, "grid_edges": {name: s.edge for name, s in self.searches.items() if s.edge}}


def tune_recency(
    folds: FoldValidation,
    lam: float,
    grids: dict = RECENCY_GRIDS,
    n_neighbours: int = 100,
    max_items: int | None = 3000,
    fallback_days: int | None = 30,
) -> RecencyFamily:
    """Tune m, then h and each blend's w on ``folds`` (module docstring), with EASE's ``lam``.

    ``n_neighbours`` is the kNN's; ``max_items`` EASE's; ``fallback_days`` every member's list for
    unknown users. Each ranking-time setting (h, w) is searched on one fit per fold.
    """
    searches = {
        "recent_items": search_grid(
            lambda m: folds.score(RecentKNN(int(round(m)), n_neighbours, fallback_days=fallback_days)),
            grids["recent_items"],
            SIMPLER["recent_items"],
            lowest=1.0,  # at least the latest movie
        )
    }
    m = int(round(searches["recent_items"].chosen))
    decayed = folds.fit(DecayedEASE(lam, max_items=max_items, fallback_days=fallback_days))
    searches["half_life"] = folds.search(decayed, "half_life", grids["half_life"], SIMPLER["half_life"])
    h = searches["half_life"].chosen
    validation = {DECAYED_EASE: folds.ndcg_by_user(lambda k: variant(decayed[k], half_life=h))}
    for how, name in BLENDS.items():
        blends = folds.fit(EASERecentBlend(lam, m, 0.0, how, n_neighbours, max_items, fallback_days))
        search = folds.search(blends, "weight", grids["weight"], SIMPLER["weight"])
        searches[f"weight_{how}"] = search
        validation[name] = folds.ndcg_by_user(lambda k, fits=blends, w=search.chosen: variant(fits[k], weight=w))
    return RecencyFamily(lam, searches, pd.DataFrame(validation), n_neighbours, max_items, fallback_days)
