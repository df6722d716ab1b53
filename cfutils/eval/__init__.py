"""How results are judged: error and ranking metrics, and descriptive statistics. Imports core.

Modules::

    beyond   novelty, intra-list diversity, long-tail share, Gini of exposure
    online   inverse propensity estimates (IPS, SNIPS), team-draft interleaving
    metrics  RMSE, MAPE, warm/cold errors, precision/recall/NDCG/MAP@k, coverage and popularity of lists
    stats    sparsity, the three averages, cold start under a split
    intervals      bootstrap over users: 95 % intervals, paired differences, winners per segment
    choice         the one-standard-error rule, grid edges and grids that extend themselves
    data_adequacy  whether the data can carry a notebook's lessons
"""

from __future__ import annotations

from cfutils.eval.beyond import (
    beyond_accuracy,
    exposure_counts,
    gini,
    head_movies,
    intra_list_diversity,
    long_tail_share,
    novelty,
    unit_columns,
)
from cfutils.eval.choice import (
    GridSearch,
    grid_edge,
    grid_edges,
    one_standard_error,
    search_grid,
    standard_errors,
    within_one_standard_error,
)
from cfutils.eval.data_adequacy import adequacy, adequacy_banner
from cfutils.eval.intervals import (
    INDISTINGUISHABLE,
    Bootstrap,
    paired_table,
    percentile_interval,
    resamples,
    rmse_bootstrap,
    segment_scores,
    segment_winner,
    squared_errors_by_user,
    user_bootstrap,
    verdict,
)
from cfutils.eval.metrics import (
    as_padded_array,
    average_precision_at_k,
    catalogue_coverage,
    hit_matrix,
    item_popularity,
    list_report,
    mape,
    mean_popularity,
    ndcg_at_k,
    precision_at_k,
    quiz_rmse,
    ranking_by_user,
    ranking_metrics,
    recall_at_k,
    rmse,
    warm_cold_errors,
    warm_cold_table,
)
from cfutils.eval.online import (
    count_propensity,
    interleaving_wins,
    ips_mean,
    list_means,
    list_pairs,
    simulated_clicks,
    snips_mean,
    team_draft,
)
from cfutils.eval.stats import averages, cold_start_report, dense_bytes, sparsity, split_summary, top_decile_share

__all__ = [
    "adequacy",
    "adequacy_banner",
    "GridSearch",
    "grid_edge",
    "grid_edges",
    "one_standard_error",
    "search_grid",
    "standard_errors",
    "within_one_standard_error",
    "INDISTINGUISHABLE",
    "Bootstrap",
    "paired_table",
    "percentile_interval",
    "resamples",
    "rmse_bootstrap",
    "segment_scores",
    "segment_winner",
    "squared_errors_by_user",
    "user_bootstrap",
    "verdict",
    "ranking_by_user",
    "count_propensity",
    "interleaving_wins",
    "ips_mean",
    "list_pairs",
    "list_means",
    "simulated_clicks",
    "snips_mean",
    "team_draft",
    "beyond_accuracy",
    "exposure_counts",
    "gini",
    "head_movies",
    "intra_list_diversity",
    "long_tail_share",
    "novelty",
    "unit_columns",
    "as_padded_array",
    "average_precision_at_k",
    "averages",
    "catalogue_coverage",
    "cold_start_report",
    "dense_bytes",
    "hit_matrix",
    "item_popularity",
    "list_report",
    "mape",
    "mean_popularity",
    "ndcg_at_k",
    "precision_at_k",
    "quiz_rmse",
    "ranking_metrics",
    "recall_at_k",
    "rmse",
    "sparsity",
    "split_summary",
    "top_decile_share",
    "warm_cold_errors",
    "warm_cold_table",
]
