r"""Errors and ranking metrics computed on the executors, equal to :mod:`cfutils.eval.metrics`.

Relevant items :math:`T_u`: the test rows of user :math:`u` rated ``>= threshold`` (a repeated
pair counts twice in :math:`|T_u|`, as in :func:`cfutils.eval.metrics.hit_matrix`). The average runs
over the users with :math:`|T_u| > 0`; such a user without a list scores 0. With hits
:math:`h_{u,r} = [\text{movie at rank } r \in T_u]`:

.. math::
    \mathrm{precision@}k = \frac{1}{k}\sum_{r \le k} h_{u,r}, \qquad
    \mathrm{NDCG@}k = \frac{\sum_{r \le k} h_{u,r} / \log_2(r + 1)}{\sum_{r \le \min(k, |T_u|)} 1 / \log_2(r + 1)}
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def ranking_metrics(lists: DataFrame, test: DataFrame, k: int = 10, threshold: float = 4.0) -> dict[str, float]:
    """``ndcg@k``, ``precision@k`` and ``n_users`` of the long frame ``lists`` (``user_id, rank,
    movie_id``) against ``test``, in one aggregate (one row comes back). NaN with no relevant user."""
    relevant = test.filter(F.col("rating") >= threshold).select("user_id", "movie_id")
    n_relevant = relevant.groupBy("user_id").agg(F.count(F.lit(1)).alias("n_rel"))
    hits = (
        lists.filter(F.col("rank") <= k)
        .join(relevant.distinct(), ["user_id", "movie_id"])
        .groupBy("user_id")
        .agg(F.count(F.lit(1)).alias("hits"), F.sum(F.lit(1.0) / F.log2(F.col("rank") + 1)).alias("dcg"))
    )
    ideal_table = [(n, float(sum(1 / math.log2(r + 1) for r in range(1, n + 1)))) for n in range(k + 1)]
    ideal = test.sparkSession.createDataFrame(ideal_table, "n_ideal int, idcg double")
    per_user = (
        n_relevant.join(hits, "user_id", "left")
        .fillna(0, ["hits"])
        .fillna(0.0, ["dcg"])
        .withColumn("n_ideal", F.least(F.col("n_rel"), F.lit(k)).cast("int"))
        .join(F.broadcast(ideal), "n_ideal")
    )
    row = per_user.agg(
        F.avg(F.col("dcg") / F.col("idcg")).alias("ndcg"), F.avg(F.col("hits") / k).alias("precision"), F.count("*")
    ).first()
    nan = float("nan")
    return {
        f"ndcg@{k}": float(row["ndcg"]) if row[2] else nan,
        f"precision@{k}": float(row["precision"]) if row[2] else nan,
        "n_users": int(row[2]),
    }


def rmse(predictions: DataFrame) -> float:
    r""":math:`\sqrt{\frac{1}{n}\sum_i (r_i - \hat r_i)^2}` of ``rating`` and ``prediction``, one aggregate."""
    error = F.col("rating").cast("double") - F.col("prediction")
    return float(predictions.agg(F.sqrt(F.avg(error * error))).first()[0])
