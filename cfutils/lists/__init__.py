"""Top-N recommenders with a public ``scores``: popular, EASE, item-kNN, implicit's ALS/BPR, rating blends, the
re-ranker. Imports core, data, eval, rating.

Modules::

    lists          ListRecommender: fit / scores / top_n, the cold-start fallback
    time_features  time features as of a day (leakage-free)
    fold_in        a new rating folded into a fitted item model without a refit
    explain        the weights behind a score, for explanations
    baselines      most popular, top rated, random
    item_knn       item-kNN on binary interactions
    ease           EASE and its recency-aware variant
    factors        implicit's ALS and BPR
    rating_blend   a rating model blended with popularity
    recent         recent-items kNN and recency-decayed EASE
    blend          EASE + recent-items kNN on per-user normalised scores
    rerank         candidates re-ranked by XGBRanker
    selection      per-user NDCG, the one-standard-error rule, a self-extending log grid
    evaluation     validation, tuning, candidate recall, known and new users
    feedback       a feedback loop: lists, simulated responses, refit
"""

from __future__ import annotations

from cfutils.lists.baselines import PopularRecommender, RandomRecommender, TopRatedRecommender
from cfutils.lists.blend import NORMALISATIONS, EASERecentBlend, normalise_scores
from cfutils.lists.ease import EASE, RecencyEASE, ease_bytes, ease_weights, most_rated
from cfutils.lists.evaluation import candidate_recall, compare, example_users, list_reports, validation_ndcg, variant
from cfutils.lists.explain import ExplainedByRatedMovies, because_you_rated
from cfutils.lists.factors import ALS, BPR, ImplicitFactors
from cfutils.lists.feedback import FittedResponses, feedback_loop
from cfutils.lists.fold_in import FoldIn
from cfutils.lists.item_knn import ItemKNN, binary_item_similarity
from cfutils.lists.lists import (
    BATCH_COLUMNS,
    FALLBACK_REASON,
    LIST_COLUMNS,
    ListRecommender,
    TitleTable,
    as_user_ids,
    batch_size,
    candidate_counts,
    popularity_scores,
    top_n_indices,
)
from cfutils.lists.rating_blend import (
    RatingModel,
    Recommender,
    factor_dots,
    model_scorer,
    neighbour_deviation,
    residual_svd,
    tune_popularity_weight,
)
from cfutils.lists.recent import DecayedEASE, RecentKNN
from cfutils.lists.rerank import FEATURES, CandidateStage, ReRanker
from cfutils.lists.selection import GridResult, one_standard_error, per_user_ndcg, search_log_grid
from cfutils.lists.time_features import RatingClock, day_numbers, rating_clock, recency_ranks, train_recency_ranks

__all__ = [
    "ALS",
    "BATCH_COLUMNS",
    "BPR",
    "CandidateStage",
    "DecayedEASE",
    "EASE",
    "EASERecentBlend",
    "ExplainedByRatedMovies",
    "FALLBACK_REASON",
    "FEATURES",
    "FittedResponses",
    "FoldIn",
    "GridResult",
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
    "RecencyEASE",
    "RecentKNN",
    "Recommender",
    "TitleTable",
    "TopRatedRecommender",
    "as_user_ids",
    "batch_size",
    "because_you_rated",
    "binary_item_similarity",
    "candidate_counts",
    "candidate_recall",
    "compare",
    "day_numbers",
    "ease_bytes",
    "ease_weights",
    "example_users",
    "factor_dots",
    "feedback_loop",
    "list_reports",
    "model_scorer",
    "most_rated",
    "neighbour_deviation",
    "normalise_scores",
    "one_standard_error",
    "per_user_ndcg",
    "popularity_scores",
    "rating_clock",
    "recency_ranks",
    "residual_svd",
    "search_log_grid",
    "top_n_indices",
    "train_recency_ranks",
    "tune_popularity_weight",
    "validation_ndcg",
    "variant",
]
