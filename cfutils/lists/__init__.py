"""Top-N recommenders with a public ``scores``: popular, EASE, item-kNN, implicit's ALS/BPR, rating blends, the
re-ranker. Imports core, data, eval, rating.

Modules::

    lists          ListRecommender: fit / scores / top_n, the cold-start fallback
    time_features  time features as of a day (leakage-free)
    fold_in        a new rating folded into a fitted item model without a refit
    baselines      most popular, top rated, random
    item_knn       item-kNN on binary interactions
    ease           EASE and its recency-aware variant
    factors        implicit's ALS and BPR
    rating_blend   a rating model of cfutils.rating blended with popularity
    recent         recent-items kNN and recency-decayed EASE
    blend          EASE + recent-items kNN on per-user normalised scores
    recency_search the recency family's settings tuned on validation folds
    rerank         candidates re-ranked by XGBRanker
    evaluation     validation, tuning, candidate recall, known and new users
    feedback       a feedback loop: lists, simulated responses, refit
"""

from __future__ import annotations

from cfutils.lists.baselines import PopularRecommender, RandomRecommender, TopRatedRecommender
from cfutils.lists.blend import NORMALISATIONS, EASERecentBlend, normalise_scores
from cfutils.lists.ease import EASE, RecencyEASE, ease_bytes, ease_weights, most_rated
from cfutils.lists.evaluation import (
    FoldValidation,
    candidate_recall,
    compare,
    compare_by_user,
    example_users,
    list_reports,
    validation_ndcg,
    validation_ndcg_by_user,
    variant,
)
from cfutils.lists.factors import ALS, BPR, ImplicitFactors
from cfutils.lists.feedback import FittedResponses, feedback_loop
from cfutils.lists.fold_in import FoldIn
from cfutils.lists.item_knn import ItemKNN, binary_item_similarity
from cfutils.lists.lists import (
    BATCH_COLUMNS,
    LIST_COLUMNS,
    ListRecommender,
    as_user_ids,
    batch_size,
    candidate_counts,
    popularity_scores,
    top_n_indices,
)
from cfutils.lists.rating_blend import RatingModel, Recommender
from cfutils.lists.recency_search import BLENDS, RECENCY_GRIDS, RecencyFamily, tune_recency
from cfutils.lists.recent import DecayedEASE, RecentKNN
from cfutils.lists.rerank import FEATURES, CandidateStage, ReRanker
from cfutils.lists.time_features import RatingClock, day_numbers, rating_clock, recency_ranks, train_recency_ranks

__all__ = [
    "ALS",
    "BLENDS",
    "BATCH_COLUMNS",
    "BPR",
    "CandidateStage",
    "DecayedEASE",
    "EASE",
    "EASERecentBlend",
    "FEATURES",
    "FittedResponses",
    "FoldIn",
    "FoldValidation",
    "ImplicitFactors",
    "ItemKNN",
    "LIST_COLUMNS",
    "ListRecommender",
    "NORMALISATIONS",
    "PopularRecommender",
    "RandomRecommender",
    "RatingClock",
    "RatingModel",
    "ReRanker",
    "RECENCY_GRIDS",
    "RecencyEASE",
    "RecencyFamily",
    "RecentKNN",
    "Recommender",
    "TopRatedRecommender",
    "as_user_ids",
    "batch_size",
    "binary_item_similarity",
    "candidate_counts",
    "candidate_recall",
    "compare",
    "compare_by_user",
    "day_numbers",
    "ease_bytes",
    "ease_weights",
    "example_users",
    "feedback_loop",
    "list_reports",
    "most_rated",
    "normalise_scores",
    "popularity_scores",
    "rating_clock",
    "recency_ranks",
    "top_n_indices",
    "train_recency_ranks",
    "tune_recency",
    "validation_ndcg",
    "validation_ndcg_by_user",
    "variant",
]
