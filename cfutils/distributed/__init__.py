"""The same analysis on Apache Spark (``make spark``), and ``python -m cfutils.distributed``. Imports data.

Modules::

    session     start_session; stage_timings and executor_summary from Spark's own accounting
    guard       CollectGuard: fails a collect of more than a small bound of rows
    read        Netflix / MovieLens text files parsed by Spark, parquet; with_row_position
    split       global_time, per_user_time and random (a seeded hash), equal to cfutils.data.split
    models      global mean and bias baseline as aggregates, explicit and implicit ALS
    lists       most-popular and implicit ALS top-N lists, without a users x movies table
    metrics     RMSE, NDCG@k and precision@k on the executors
    neighbours  exact item-item top-k cosine neighbours
    job         the command-line job that never collects
"""

from __future__ import annotations

from cfutils.distributed.guard import MAX_COLLECTED_ROWS, CollectGuard, CollectTooLarge
from cfutils.distributed.job import run_job
from cfutils.distributed.lists import als_top_n, collect_lists, popular_top_n
from cfutils.distributed.metrics import ranking_metrics, rmse
from cfutils.distributed.models import (
    bias_baseline,
    fit_als,
    grid_search,
    predict_baseline,
    predict_in_row_order,
    predict_mean,
    predict_ratings,
    train_summary,
)
from cfutils.distributed.neighbours import item_neighbours
from cfutils.distributed.read import (
    from_pandas,
    parquet_source,
    read_ratings_parquet,
    read_source,
    read_text_ratings,
    to_pandas,
    with_row_position,
)
from cfutils.distributed.session import JAVA_PACKAGE, executor_summary, stage_timings, start_session
from cfutils.distributed.split import SPARK_SPLIT_METHODS, single_machine_split, spark_split, split_identical

__all__ = [
    "JAVA_PACKAGE",
    "MAX_COLLECTED_ROWS",
    "SPARK_SPLIT_METHODS",
    "CollectGuard",
    "CollectTooLarge",
    "als_top_n",
    "bias_baseline",
    "collect_lists",
    "executor_summary",
    "fit_als",
    "from_pandas",
    "grid_search",
    "item_neighbours",
    "parquet_source",
    "popular_top_n",
    "predict_baseline",
    "predict_in_row_order",
    "predict_mean",
    "predict_ratings",
    "ranking_metrics",
    "read_ratings_parquet",
    "read_source",
    "read_text_ratings",
    "rmse",
    "run_job",
    "single_machine_split",
    "spark_split",
    "split_identical",
    "stage_timings",
    "start_session",
    "to_pandas",
    "train_summary",
    "with_row_position",
]
