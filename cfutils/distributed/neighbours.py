r"""Item-item top-k cosine neighbours in Spark, exact, written as parquet.

With :math:`X_{iu} = r_{ui}` (movies × users; a repeated pair summed, as scipy's COO to CSR does),

.. math::
    s(i, j) = \frac{\sum_u r_{ui} r_{uj}}{\lVert X_i \rVert \, \lVert X_j \rVert}

and each movie keeps its ``k`` largest :math:`s(i, j) > 0`, ``j != i``, ties to the smaller movie
id: :func:`cfutils.core.similarity.cosine_top_k` of :math:`X` (tested on small data).

How it scales: the numerators come from a self-join on the user, so the work and the shuffle grow
with :math:`\sum_u n_u^2` (pairs of movies a user rated), partially summed per partition before the
shuffle, whose size is bounded by the distinct movie pairs, :math:`\le m^2/2` (1.6e8 for Netflix's
17,770 movies). A user with thousands of ratings dominates the cost; ``max_user_ratings`` drops the
users above it (the result is then the cosine over the other users, no longer exact).
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


def item_neighbours(train: DataFrame, k: int = 20, max_user_ratings: int | None = None) -> DataFrame:
    """``movie_id, rank, neighbour_id, similarity`` (rank 1-based) of every movie with a positive cosine."""
    cells = train.groupBy("user_id", "movie_id").agg(F.sum(F.col("rating").cast("double")).alias("value"))
    if max_user_ratings is not None:
        counts = cells.groupBy("user_id").agg(F.count(F.lit(1)).alias("_n"))
        cells = cells.join(counts.filter(F.col("_n") <= max_user_ratings).select("user_id"), "user_id")
    cells = cells.persist()
    norms = cells.groupBy("movie_id").agg(F.sqrt(F.sum(F.col("value") * F.col("value"))).alias("norm"))
    left = cells.select("user_id", F.col("movie_id").alias("i"), F.col("value").alias("a"))
    right = cells.select("user_id", F.col("movie_id").alias("j"), F.col("value").alias("b"))
    dots = (
        left.join(right, "user_id")
        .filter(F.col("i") < F.col("j"))
        .groupBy("i", "j")
        .agg(F.sum(F.col("a") * F.col("b")).alias("dot"))
    )
    norm_i = norms.select(F.col("movie_id").alias("i"), F.col("norm").alias("n_i"))
    norm_j = norms.select(F.col("movie_id").alias("j"), F.col("norm").alias("n_j"))
    upper = (
        dots.join(norm_i, "i")
        .join(norm_j, "j")
        .select("i", "j", (F.col("dot") / (F.col("n_i") * F.col("n_j"))).alias("similarity"))
    )
    both = upper.unionByName(upper.select(F.col("j").alias("i"), F.col("i").alias("j"), "similarity"))
    rank = F.row_number().over(Window.partitionBy("i").orderBy(F.desc("similarity"), "j"))
    best = both.filter(F.col("similarity") > 0).withColumn("rank", rank).filter(F.col("rank") <= k)
    return best.select(F.col("i").alias("movie_id"), "rank", F.col("j").alias("neighbour_id"), "similarity")
