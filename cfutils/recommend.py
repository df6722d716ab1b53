"""The public names of :mod:`cfutils.recommenders`, importable from where they always were."""

from cfutils.recommenders.baselines import PopularRecommender, RandomRecommender, TopRatedRecommender
from cfutils.recommenders.lists import (
    BATCH_COLUMNS,
    FALLBACK_REASON,
    LIST_COLUMNS,
    ListRecommender,
    candidate_counts,
    top_n_indices,
)
from cfutils.recommenders.rating_blend import RatingModel, Recommender, Scorer, tune_popularity_weight

__all__ = [
    "BATCH_COLUMNS",
    "FALLBACK_REASON",
    "LIST_COLUMNS",
    "ListRecommender",
    "PopularRecommender",
    "RandomRecommender",
    "RatingModel",
    "Recommender",
    "Scorer",
    "TopRatedRecommender",
    "candidate_counts",
    "top_n_indices",
    "tune_popularity_weight",
]
