r"""The same analysis on Apache Spark: session, parquet data, splits, ALS and top-N lists.

Only the engine changes; the rules stay those of the single-machine package:

- :func:`read_ratings_parquet` reads the parquet cache that :func:`cfutils.data.io.read_ratings`
  writes (no pandas round trip) and adds ``row``, each rating's position in that frame;
- :func:`spark_split` cuts ``global_time``, ``per_user_time`` and ``random`` exactly as
  :func:`cfutils.data.split.make_split` does, ties included (:func:`split_identical` checks it);
- :func:`fit_als` fits :class:`pyspark.ml.recommendation.ALS`, explicit for ratings and
  implicit (``implicitPrefs=True``) for ranking, and :func:`grid_search` tunes it on a
  validation set cut from train by date, as notebook 05 does;
- :func:`als_top_n` and :func:`popular_top_n` return the long ``user_id, rank, movie_id,
  score`` frame that :mod:`cfutils.eval.metrics` scores once collected with :func:`collect_lists`.

Explicit ALS minimises :math:`\sum_{(u,i)} (r_{ui} - p_u^T q_i)^2 + \lambda \sum_u n_u
\lVert p_u\rVert^2 + \lambda \sum_i n_i \lVert q_i\rVert^2` (``regParam`` = :math:`\lambda`,
scaled by each user's and item's rating count). Implicit ALS (Hu, Koren and Volinsky 2008)
fits preferences :math:`p_{ui} = [r_{ui} > 0]` with confidences :math:`c_{ui} = 1 + \alpha r_{ui}`
over *all* user-item cells. Neither has biases or knows an unseen user or movie: with
``coldStartStrategy="nan"`` their prediction is NaN, and :func:`predict_ratings` replaces it
with the train mean instead of dropping the row (dropping would score only the easy rows).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import shutil
import sys
import urllib.request
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from cfutils.data.dataset import source_path
from cfutils.data.io import RATINGS_DTYPES, ratings_cache_path, read_ratings
from cfutils.data.split import Split, check_fraction

#: Environment variable naming the cluster, e.g. ``spark://host:7077``, ``yarn`` or ``k8s://...``.
MASTER_ENV = "SPARK_MASTER"
DEFAULT_MASTER = "local[*]"
#: What to install when ``java`` is missing (Debian/Ubuntu name; Spark 4 needs Java 17 or 21).
JAVA_PACKAGE = "openjdk-17-jre-headless"
RATING_COLUMNS = list(RATINGS_DTYPES)
ROW = "row"
#: Measured: PySpark 4.3 works with the project's pandas 3 (this module's tests); it only warns.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
#: Bits of ``monotonically_increasing_id`` that hold the record number within a partition.
_RECORD_BITS = 33


def start_session(
    master: str | None = None,
    driver_memory: str = "2g",
    shuffle_partitions: int | None = None,
    app_name: str = "cfutils",
) -> SparkSession:
    """A Spark session on ``master`` (default ``$SPARK_MASTER``, else ``local[*]``).

    ``driver_memory`` is the driver JVM's heap (in local mode the executors live in it too);
    it only takes effect when no session is running yet. ``shuffle_partitions`` sets
    ``spark.sql.shuffle.partitions`` (Spark's default 200 suits a cluster, not a laptop).
    Session time zone UTC, so dates mean the same on every machine. Raises ``RuntimeError``
    naming the package to install when no ``java`` is found.
    """
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise RuntimeError(f"Spark needs Java 17 or newer and no `java` was found: install {JAVA_PACKAGE}")
    builder = (
        SparkSession.builder.master(master or os.environ.get(MASTER_ENV, DEFAULT_MASTER))
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.ui.showConsoleProgress", "false")
    )
    if shuffle_partitions is not None:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# --------------------------------------------------------------------------- data


def parquet_source(data: str | Path) -> str:
    """Where Spark reads the ratings of ``data`` (``"sample"``, ``"movielens-small"`` or a path).

    A path ending in ``.parquet`` is taken as it is: on a cluster, a file or folder every
    executor can read (a shared file system, or an object store URL such as
    ``s3a://bucket/ratings.parquet``). Otherwise the parquet cache that
    :func:`cfutils.data.io.read_ratings` keeps for the source; when it does not exist yet, the
    files are parsed once, on this machine, to write it.
    """
    if str(data).endswith(".parquet"):
        return str(data)
    source = source_path(data)
    cache = ratings_cache_path(source)
    if not cache.exists():
        read_ratings(source, cache=True)
    return str(cache)


def with_row_position(frame: DataFrame, name: str = ROW) -> DataFrame:
    """``frame`` with ``name``: 0, 1, 2, ... in the frame's current order, computed per partition.

    ``monotonically_increasing_id`` is ``(partition << 33) + record``; one pass counts the
    records of each partition, and the position is the partition's offset plus the record
    number: no single partition ever holds all rows. The frame is persisted so that both
    passes see the same partitions.
    """
    marked = frame.withColumn("_id", F.monotonically_increasing_id()).persist()
    partition = F.shiftright(F.col("_id"), _RECORD_BITS)
    counts = marked.groupBy(partition.alias("_part")).count().orderBy("_part").toPandas()
    offsets = counts.assign(_offset=counts["count"].cumsum() - counts["count"])[["_part", "_offset"]]
    offset_table = frame.sparkSession.createDataFrame(offsets.astype("int64"))
    record = F.col("_id").bitwiseAND(F.lit((1 << _RECORD_BITS) - 1))
    return (
        marked.join(F.broadcast(offset_table), partition == F.col("_part"))
        .withColumn(name, F.col("_offset") + record)
        .drop("_id", "_part", "_offset")
    )


def read_ratings_parquet(spark: SparkSession, path: str) -> DataFrame:
    """The ratings of a parquet file written by :func:`cfutils.data.io.read_ratings`, with ``row``.

    Columns ``user_id``, ``movie_id`` (int), ``rating`` (float), ``date`` (timestamp) and
    ``row``: the rating's position in the frame that ``read_ratings`` returns (file order),
    which is what the ``random`` split draws from and what breaks a tie on every key.
    """
    frame = spark.read.parquet(str(path)).select(
        F.col("user_id").cast("int"),
        F.col("movie_id").cast("int"),
        F.col("rating").cast("float"),
        F.col("date").cast("timestamp_ntz").alias("date"),
    )
    return with_row_position(frame)


def from_pandas(spark: SparkSession, ratings: pd.DataFrame) -> DataFrame:
    """A pandas ratings frame as a Spark frame with ``row`` = its position (for tests and small data)."""
    frame = spark.createDataFrame(
        ratings[RATING_COLUMNS].reset_index(drop=True).assign(**{ROW: np.arange(len(ratings))})
    )
    return frame.withColumn("date", F.col("date").cast("timestamp_ntz"))


def to_pandas(frame: DataFrame) -> pd.DataFrame:
    """Collect a ratings frame in ``row`` order, indexed by ``row``, with the contract dtypes.

    A part of a split then equals the part that :mod:`cfutils.data.split` returns, index included.
    """
    local = frame.select(*RATING_COLUMNS, ROW).orderBy(ROW).toPandas()
    return local.set_index(ROW).rename_axis(None).astype(RATINGS_DTYPES)


# --------------------------------------------------------------------------- splits


#: The splits written in Spark. The Netflix Prize's ``probe`` split needs ``probe.txt``, read on one
#: machine (:mod:`cfutils.data.io.prize`), so notebook 07 refuses it.
SPARK_SPLIT_METHODS = ("global_time", "per_user_time", "random")


def spark_split(frame: DataFrame, method: str = "global_time", test_size: float = 0.2, seed: int = 0) -> Split:
    """:func:`cfutils.data.split.make_split`, in Spark: the same rows in train and in test.

    ``global_time``: order by ``(date, user_id, movie_id, row)``; the last
    ``round(test_size * n)`` are test. ``per_user_time``: within each user, order by
    ``(date, movie_id, row)``; the last ``floor(test_size * n_u)`` are test. ``random``: the
    positions drawn by ``numpy.random.default_rng(seed).choice(n, round(test_size * n))``, on
    the driver (the only way to reproduce numpy's generator), joined on ``row``. ``row`` is
    the last key everywhere, as the stable sorts of :mod:`cfutils.data.split` keep input order.
    """
    check_fraction(test_size)
    if ROW not in frame.columns:
        raise ValueError(
            f"the frame needs the `{ROW}` column of read_ratings_parquet, from_pandas or with_row_position"
        )
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
        n = frame.count()
        drawn = np.random.default_rng(seed).choice(n, size=int(round(test_size * n)), replace=False)
        chosen = frame.sparkSession.createDataFrame(pd.DataFrame({ROW: drawn.astype(np.int64), "_test": True}))
        order = frame.join(chosen, ROW, "left")
        is_test = F.col("_test").isNotNull()
    else:
        raise ValueError(f"unknown split {method!r}; Spark splits by one of {', '.join(SPARK_SPLIT_METHODS)}")
    flagged = order.withColumn("_is_test", is_test).select(*frame.columns, "_is_test").persist()
    return Split(flagged.filter(~F.col("_is_test")).drop("_is_test"), flagged.filter("_is_test").drop("_is_test"))


def split_identical(spark_parts: Split, pandas_parts: Split) -> bool:
    """True when both parts hold the same rows, in the same order, with the same values."""
    return all(to_pandas(mine).equals(theirs) for mine, theirs in zip(spark_parts, pandas_parts))


# --------------------------------------------------------------------------- ALS


def fit_als(
    train: DataFrame,
    rank: int = 10,
    regParam: float = 0.1,
    maxIter: int = 10,
    implicit: bool = False,
    alpha: float = 1.0,
    seed: int = 0,
    blocks: int | None = None,
) -> ALSModel:
    """:class:`pyspark.ml.recommendation.ALS` on ``train`` (see the module docstring for the loss).

    ``implicit`` fits confidences :math:`1 + \\alpha r_{ui}` instead of the ratings. ``blocks``
    sets ``numUserBlocks`` and ``numItemBlocks`` (Spark's default 10): the factors are
    exchanged between blocks once per half-iteration, so it is the unit of parallelism.
    """
    options = {"numUserBlocks": blocks, "numItemBlocks": blocks} if blocks else {}
    als = ALS(
        userCol="user_id",
        itemCol="movie_id",
        ratingCol="rating",
        rank=rank,
        regParam=regParam,
        maxIter=maxIter,
        implicitPrefs=implicit,
        alpha=alpha,
        seed=seed,
        coldStartStrategy="nan",
        **options,
    )
    return als.fit(train)


def predict_ratings(model: ALSModel, pairs: DataFrame, train_mean: float, scale: tuple[float, float]) -> DataFrame:
    """``pairs`` with ``prediction`` = :math:`p_u^T q_i` clipped into ``scale``; the train mean where
    the user or the movie is unknown to the model (ALS's NaN)."""
    raw = F.when(F.isnan("prediction"), F.lit(train_mean)).otherwise(F.col("prediction"))
    clipped = F.least(F.greatest(raw, F.lit(scale[0])), F.lit(scale[1]))
    return model.transform(pairs).withColumn("prediction", clipped.cast("double"))


def predict_in_row_order(
    model: ALSModel, pairs: DataFrame, train_mean: float, scale: tuple[float, float]
) -> np.ndarray:
    """:func:`predict_ratings` of ``pairs``, collected as a numpy array in ``row`` order: aligned with
    ``to_pandas(pairs)``, so it scores against the same rows as a single-machine model's predictions."""
    predictions = predict_ratings(model, pairs, train_mean, scale).select(ROW, "prediction").orderBy(ROW)
    return predictions.toPandas()["prediction"].to_numpy()


def spark_rmse(predictions: DataFrame) -> float:
    r""":math:`\sqrt{\frac{1}{n}\sum_i (r_i - \hat r_i)^2}` of ``rating`` and ``prediction``, computed in Spark."""
    error = F.col("rating").cast("double") - F.col("prediction")
    return float(predictions.agg(F.sqrt(F.avg(error * error))).first()[0])


def grid_search(
    fit: Callable[..., ALSModel],
    score: Callable[[ALSModel], float],
    grid: Mapping[str, Sequence],
    higher_is_better: bool = False,
) -> tuple[pd.DataFrame, dict]:
    """Every combination of ``grid`` (a dict of lists): ``score(fit(**params))``.

    Returns the table (one row per combination, column ``score``) and the best parameters;
    ties go to the first combination in grid order.
    """
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    table = pd.DataFrame([{**params, "score": score(fit(**params))} for params in combos])
    scores = table["score"].to_numpy()
    best = int(np.argmax(scores) if higher_is_better else np.argmin(scores))
    return table, combos[best]


# --------------------------------------------------------------------------- top-N lists


def _seen_buckets(train: DataFrame, users: DataFrame) -> DataFrame:
    """``users`` with ``n_seen`` (their train ratings) and ``bucket``: the smallest power of 4, at
    least 16, that is >= n_seen. Few buckets (one Spark job each), each at most 4 × n_seen + 16."""
    seen = train.groupBy("user_id").agg(F.count(F.lit(1)).alias("n_seen"))
    counted = users.join(seen, "user_id", "left").fillna(0, ["n_seen"])
    bucket = F.pow(F.lit(4), F.ceil(F.log(4.0, F.greatest("n_seen", F.lit(16))))).cast("int")
    return counted.withColumn("bucket", F.when(bucket < F.col("n_seen"), bucket * 4).otherwise(bucket))


def _rank_unseen(candidates: DataFrame, train: DataFrame, n: int) -> DataFrame:
    """Drop what each user rated in train; rank by score (high first), then movie_id; keep n."""
    unseen = candidates.join(train.select("user_id", "movie_id"), ["user_id", "movie_id"], "left_anti")
    rank = F.row_number().over(Window.partitionBy("user_id").orderBy(F.desc("score"), "movie_id"))
    return unseen.withColumn("rank", rank).filter(F.col("rank") <= n).select("user_id", "rank", "movie_id", "score")


def popular_top_n(train: DataFrame, users: DataFrame, n: int = 10) -> DataFrame:
    """Most popular: score = number of train ratings of the movie; each user's top ``n`` unseen.

    A user who rated ``s`` movies finds their list among the ``n + s`` most popular, so each
    user is crossed with the top ``n + bucket`` (``bucket`` >= s, a power of 4) only: the
    work grows with the ratings, not with users × movies.
    """
    counts = train.groupBy("movie_id").agg(F.count(F.lit(1)).cast("double").alias("score"))
    top = counts.withColumn("_pos", F.row_number().over(Window.orderBy(F.desc("score"), "movie_id")))
    buckets = _seen_buckets(train, users.select("user_id").distinct())
    candidates = buckets.join(F.broadcast(top), F.col("_pos") <= F.col("bucket") + n)
    return _rank_unseen(candidates.select("user_id", "movie_id", "score"), train, n)


def als_top_n(model: ALSModel, train: DataFrame, users: DataFrame, n: int = 10) -> DataFrame:
    """Each user's top ``n`` unseen movies by :math:`p_u^T q_i`; users unknown to train get
    :func:`popular_top_n` (their score column then counts ratings).

    ``recommendForUserSubset(users, n + bucket)`` ranks every movie per user within ALS's
    blocks, keeping only the best ``n + bucket`` (``bucket`` >= the user's train ratings),
    so that ``n`` remain after the seen movies are dropped; no users × movies table is formed.
    """
    known = model.userFactors.select(F.col("id").alias("user_id"))
    buckets = _seen_buckets(train, users.select("user_id").distinct().join(known, "user_id"))
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
    warm = _rank_unseen(functools.reduce(DataFrame.unionByName, parts, empty), train, n)
    cold = popular_top_n(train, users.select("user_id").distinct().join(known, "user_id", "left_anti"), n)
    return warm.unionByName(cold)


def collect_lists(lists: DataFrame) -> pd.DataFrame:
    """The long frame ``user_id, rank, movie_id, score`` on the driver, by user then rank."""
    local = lists.select("user_id", "rank", "movie_id", "score").orderBy("user_id", "rank").toPandas()
    return local.astype({"user_id": np.int64, "rank": np.int64, "movie_id": np.int64, "score": np.float64})


# --------------------------------------------------------------------------- what a job cost


def stage_timings(spark: SparkSession, job_group: str) -> pd.DataFrame:
    """The stages of the jobs run under ``sparkContext.setJobGroup(job_group, ...)``, from the
    Spark UI's REST API: name, tasks, wall seconds, executor CPU seconds, shuffle bytes.

    Empty when the UI is disabled (``spark.ui.enabled=false``) or does not answer in time.
    """
    context = spark.sparkContext
    if not context.uiWebUrl:
        return pd.DataFrame()
    base = f"{context.uiWebUrl}/api/v1/applications/{context.applicationId}"
    try:
        jobs, stages = _get_json(f"{base}/jobs"), _get_json(f"{base}/stages")
    except OSError:  # URLError, a refused connection or a timeout
        return pd.DataFrame()
    wanted = {stage for job in jobs if job.get("jobGroup") == job_group for stage in job["stageIds"]}
    rows = [
        {
            "stage": stage["stageId"],
            "name": stage["name"].split(" at ")[0],
            "tasks": stage["numTasks"],
            "seconds": _seconds(stage.get("submissionTime"), stage.get("completionTime")),
            "executor_seconds": stage.get("executorRunTime", 0) / 1000,
            "shuffle_read_MiB": stage.get("shuffleReadBytes", 0) / 2**20,
            "shuffle_write_MiB": stage.get("shuffleWriteBytes", 0) / 2**20,
        }
        for stage in stages
        if stage["stageId"] in wanted and stage["status"] == "COMPLETE"
    ]
    return pd.DataFrame(rows).sort_values("stage", ignore_index=True) if rows else pd.DataFrame()


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def _seconds(start: str | None, end: str | None) -> float:
    """Seconds between two times of the REST API (``2026-01-02T03:04:05.678GMT``)."""
    if not start or not end:
        return float("nan")
    return (pd.Timestamp(end.replace("GMT", "+00:00")) - pd.Timestamp(start.replace("GMT", "+00:00"))).total_seconds()
