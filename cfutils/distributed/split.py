"""The project's splits in Spark, row for row those of :mod:`cfutils.data.split`, with nothing collected.

``global_time``: order by ``(date, user_id, movie_id, row)``; the last ``round(test_size * n)``
are test (a global sort: a range-partitioned shuffle, then positions per partition).
``per_user_time``: within each user, order by ``(date, movie_id, row)``; the last
``floor(test_size * n_u)`` are test (a window partitioned by user: a shuffle by user).
``random``: :func:`cfutils.data.split.hashed_split`, a rating is test when the seeded hash of its
``(user_id, movie_id)`` is below ``round(test_size * 2**32)``: decided row by row, no shuffle and
no draw on the driver. (:func:`cfutils.data.split.random_split` draws exact positions with numpy's
generator; reproducing that needs every row in one place, so the distributed split is the hash.)
A second ``random`` cut of one part (a validation set from train) needs another seed: with the
same seed every train row is already above the cut, and the cut would be empty.
"""

from __future__ import annotations

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from cfutils.data import HASH_MASK, HASH_MULTIPLIER, Split, SplitMethod, check_fraction, hashed_split, make_split
from cfutils.distributed.read import ROW, to_pandas, with_row_position

#: The splits written in Spark. The Netflix Prize's ``probe`` split needs ``probe.txt``, read on one machine.
SPARK_SPLIT_METHODS = ("global_time", "per_user_time", "random")


def mix32(x: Column) -> Column:
    """:func:`cfutils.data.split.mix32` on a long column holding values below 2**32 (products stay below 2**59)."""
    for _ in range(2):
        x = ((x.bitwiseXOR(F.shiftright(x, 16))) * F.lit(HASH_MULTIPLIER)).bitwiseAND(F.lit(HASH_MASK))
    return x.bitwiseXOR(F.shiftright(x, 16))


def pair_hash(seed: int) -> Column:
    """:func:`cfutils.data.split.pair_hash` of the ``user_id`` and ``movie_id`` columns."""
    start = F.lit(seed & HASH_MASK).cast("long")
    user = F.col("user_id").cast("long").bitwiseAND(F.lit(HASH_MASK))
    movie = F.col("movie_id").cast("long").bitwiseAND(F.lit(HASH_MASK))
    return mix32(mix32(mix32(start).bitwiseXOR(user)).bitwiseXOR(movie))


def spark_split(
    frame: DataFrame, method: str | SplitMethod = "global_time", test_size: float = 0.2, seed: int = 0
) -> Split:
    """``(train, test)`` of ``frame`` by ``method``, a name or a :class:`cfutils.data.SplitMethod`
    (see the module docstring); both persisted once."""
    check_fraction(test_size)
    method = str(method)
    if ROW not in frame.columns:
        raise ValueError(f"the frame needs the `{ROW}` column of cfutils.distributed.read's readers")
    if method == "global_time":
        n = frame.count()
        n_test = int(round(test_size * n))
        order = with_row_position(frame.orderBy("date", "user_id", "movie_id", ROW), "_order")
        is_test = F.col("_order") >= n - n_test
    elif method == "per_user_time":
        order = frame.withColumn(
            "_k", F.row_number().over(Window.partitionBy("user_id").orderBy("date", "movie_id", ROW))
        )
        order = order.withColumn("_n", F.count(F.lit(1)).over(Window.partitionBy("user_id")))
        is_test = F.col("_k") > F.col("_n") - F.floor(F.lit(float(test_size)) * F.col("_n"))
    elif method == "random":
        order = frame
        is_test = pair_hash(seed) < F.lit(round(test_size * 2**32))
    else:
        raise ValueError(f"unknown split {method!r}; Spark splits by one of {', '.join(SPARK_SPLIT_METHODS)}")
    flagged = order.withColumn("_is_test", is_test).select(*frame.columns, "_is_test").persist()
    return Split(flagged.filter(~F.col("_is_test")).drop("_is_test"), flagged.filter("_is_test").drop("_is_test"))


def single_machine_split(
    ratings: pd.DataFrame, method: str | SplitMethod, test_size: float = 0.2, seed: int = 0
) -> Split:
    """The :mod:`cfutils.data.split` split that :func:`spark_split` equals row for row: ``make_split``,
    and :func:`cfutils.data.split.hashed_split` for ``random``."""
    if str(method) == "random":
        return hashed_split(ratings, test_size, seed)
    return make_split(ratings, method, test_size=test_size, seed=seed)


def split_identical(spark_parts: Split, pandas_parts: Split) -> bool:
    """True when both parts hold the same rows, in the same order, with the same values (small data: collects)."""
    return all(to_pandas(mine).equals(theirs) for mine, theirs in zip(spark_parts, pandas_parts))
