"""Top-N lists in Spark: most popular and implicit ALS, as the long frame ``user_id, rank, movie_id,
score`` (rank 1-based, by score high first, then movie id), without a users × movies table.

A user who rated ``s`` movies in train finds their list among the best ``n + s`` candidates, so
each user is offered the best ``n + bucket`` only, ``bucket`` the smallest power of 4 (at least
16) that is >= ``s``: the work grows with the ratings, and there are few buckets (one Spark job each).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

#: The bucket sizes ``4**k`` for k in this range (16 up to 4**15, more than any catalogue).
BUCKET_POWERS = (2, 16)


def seen_buckets(train: DataFrame, users: DataFrame) -> DataFrame:
    """``users`` with ``n_seen`` (their train ratings) and ``bucket``: the smallest power of 4, at
    least 16, that is >= n_seen. Few buckets (one Spark job each), each at most 4 × n_seen + 16."""
    seen = train.groupBy("user_id").agg(F.count(F.lit(1)).alias("n_seen"))
    counted = users.join(seen, "user_id", "left").fillna(0, ["n_seen"])
    bucket = F.pow(F.lit(4), F.ceil(F.log(4.0, F.greatest("n_seen", F.lit(16))))).cast("int")
    return counted.withColumn("bucket", F.when(bucket < F.col("n_seen"), bucket * 4).otherwise(bucket))


def rank_unseen(candidates: DataFrame, train: DataFrame, n: int) -> DataFrame:
    """Drop what each user rated in train; rank by score (high first), then movie_id; keep n."""
    unseen = candidates.join(train.select("user_id", "movie_id"), ["user_id", "movie_id"], "left_anti")
    rank = F.row_number().over(Window.partitionBy("user_id").orderBy(F.desc("score"), "movie_id"))
    return unseen.withColumn("rank", rank).filter(F.col("rank") <= n).select("user_id", "rank", "movie_id", "score")


def popular_top_n(train: DataFrame, users: DataFrame, n: int = 10) -> DataFrame:
    """Most popular: score = number of train ratings of the movie; each user's top ``n`` unseen.

    The movies are ranked once (a movies-sized window); each possible bucket ``4**k`` gets the
    best ``4**k + n`` (a table of a few times the movies), and users join it on their bucket: an
    equi-join of about ``4 s + n`` rows per user, never users × movies comparisons.
    """
    counts = train.groupBy("movie_id").agg(F.count(F.lit(1)).cast("double").alias("score"))
    top = counts.withColumn("_pos", F.row_number().over(Window.orderBy(F.desc("score"), "movie_id")))
    levels = train.sparkSession.range(*BUCKET_POWERS).select(F.pow(F.lit(4), "id").cast("int").alias("bucket"))
    offered = top.crossJoin(F.broadcast(levels)).filter(F.col("_pos") <= F.col("bucket") + n)
    buckets = seen_buckets(train, users.select("user_id").distinct())
    candidates = buckets.join(offered, "bucket")
    return rank_unseen(candidates.select("user_id", "movie_id", "score"), train, n)


def als_top_n(model: ALSModel, train: DataFrame, users: DataFrame, n: int = 10) -> DataFrame:
    """Each user's top ``n`` unseen movies by :math:`p_u^T q_i`; users unknown to train get
    :func:`popular_top_n` (their score column then counts ratings).

    ``recommendForUserSubset(users, n + bucket)`` ranks every movie per user within ALS's
    blocks, keeping only the best ``n + bucket`` (``bucket`` >= the user's train ratings),
    so that ``n`` remain after the seen movies are dropped; no users × movies table is formed.
    """
    known = model.userFactors.select(F.col("id").alias("user_id"))
    buckets = seen_buckets(train, users.select("user_id").distinct().join(known, "user_id")).persist()
    parts = []
    for bucket in sorted(row["bucket"] for row in buckets.select("bucket").distinct().collect()):
        subset = buckets.filter(F.col("bucket") == bucket).select("user_id")
        listed = model.recommendForUserSubset(subset, n + bucket)
        parts.append(
            listed.select("user_id", F.explode("recommendations").alias("r")).select(
                "user_id", F.col("r.movie_id").alias("movie_id"), F.col("r.rating").cast("double").alias("score")
            )
        )
    empty = train.sparkSession.createDataFrame([], "user_id int, movie_id int, score double")
    warm = rank_unseen(functools.reduce(DataFrame.unionByName, parts, empty), train, n)
    cold = popular_top_n(train, users.select("user_id").distinct().join(known, "user_id", "left_anti"), n)
    return warm.unionByName(cold)


def collect_lists(lists: DataFrame) -> pd.DataFrame:
    """The long frame ``user_id, rank, movie_id, score`` on the driver, by user then rank (small data only)."""
    local = lists.select("user_id", "rank", "movie_id", "score").orderBy("user_id", "rank").toPandas()
    return local.astype({"user_id": np.int64, "rank": np.int64, "movie_id": np.int64, "score": np.float64})
