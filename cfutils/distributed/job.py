"""``python -m cfutils.distributed``: the whole analysis on the executors, nothing data-sized collected.

Read (Spark parses the text files), split, the global mean and the bias baseline as aggregates,
explicit ALS and its RMSE, implicit ALS and most-popular lists for every test user, NDCG@N and
precision@N on the executors, and item-item top-k cosine neighbours. It writes to ``--output-dir``
(a folder every executor can write on a cluster)::

    metrics.json              n_ratings, split {"train", "test"}, global_mean_rmse, baseline_rmse,
                              als_rmse, ndcg@10, popular_ndcg@10, precision@10, popular_precision@10,
                              n_eval_users, timings (seconds per step), executors, largest_collect_rows
    lists/als.parquet         user_id, rank, movie_id, score (implicit ALS; unknown users: most popular)
    lists/popular.parquet     the same for most popular
    item_neighbours.parquet   movie_id, rank, neighbour_id, similarity

The job runs inside :class:`cfutils.distributed.guard.CollectGuard`: a collect of more than
:data:`cfutils.distributed.guard.MAX_COLLECTED_ROWS` rows stops it (``CollectTooLarge``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from pyspark.errors import PythonException
from pyspark.sql import DataFrame, SparkSession

from cfutils.data.io import DataFormatError
from cfutils.distributed.guard import MAX_COLLECTED_ROWS, CollectGuard
from cfutils.distributed.lists import als_top_n, popular_top_n
from cfutils.distributed.metrics import ranking_metrics, rmse
from cfutils.distributed.models import (
    bias_baseline,
    fit_als,
    predict_baseline,
    predict_mean,
    predict_ratings,
    train_summary,
)
from cfutils.distributed.neighbours import item_neighbours
from cfutils.distributed.read import read_source
from cfutils.distributed.session import DEFAULT_MASTER, executor_summary, start_session
from cfutils.distributed.split import SPARK_SPLIT_METHODS, spark_split

_WORKER_ERROR = re.compile(r"DataFormatError: (.*)")

#: A broadcast join's table is built on the driver. Spark picks one by itself for any side that is
#: estimated under 10 MB, which at 20M ratings (a per-user table of the metrics) no longer fits a
#: 512 MB driver ("Not enough memory to build and broadcast the table", measured). The job therefore
#: broadcasts only the tables it marks with ``F.broadcast``, whose size does not grow with the data.
NO_AUTOMATIC_BROADCAST = {
    "spark.sql.autoBroadcastJoinThreshold": "-1",
    "spark.sql.adaptive.autoBroadcastJoinThreshold": "-1",
}


@contextmanager
def timed(timings: dict, step: str):
    """Adds the seconds the block took to ``timings[step]`` and prints one line to stderr."""
    start = time.perf_counter()
    yield
    timings[step] = round(time.perf_counter() - start, 3)
    print(f"[cfutils.distributed] {step}: {timings[step]:.1f} s", file=sys.stderr, flush=True)


def run_job(
    spark: SparkSession,
    data: str,
    output_dir: str | Path,
    split: str = "global_time",
    test_size: float = 0.2,
    seed: int = 0,
    rank: int = 10,
    max_iter: int = 10,
    reg: float = 0.1,
    alpha: float = 1.0,
    n: int = 10,
    top_k: int = 20,
    max_user_ratings: int | None = None,
) -> dict:
    """Runs every step on ``spark``, writes the outputs (see the module docstring), returns the metrics."""
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    with timed(timings, "read"):
        ratings = read_source(spark, data).persist()
        n_ratings = ratings.count()
    with timed(timings, "split"):
        train, test = spark_split(ratings, split, test_size, seed)
        sizes = {"train": train.count(), "test": test.count()}
        ratings.unpersist()
    with timed(timings, "baselines"):
        summary = train_summary(train)
        mean, scale = summary["mean"], summary["scale"]
        global_mean_rmse = rmse(predict_mean(test, mean))
        baseline_rmse = rmse(predict_baseline(test, mean, bias_baseline(train, mean), scale))
    with timed(timings, "als_explicit"):
        als_rmse = rmse(predict_ratings(fit_als(train, rank, reg, max_iter, seed=seed), test, mean, scale))
    users = test.select("user_id").distinct()
    with timed(timings, "lists_als"):
        implicit = fit_als(train, rank, reg, max_iter, implicit=True, alpha=alpha, seed=seed)
        als_lists = _written(als_top_n(implicit, train, users, n), output / "lists" / "als.parquet")
    with timed(timings, "lists_popular"):
        popular_lists = _written(popular_top_n(train, users, n), output / "lists" / "popular.parquet")
    with timed(timings, "ranking_metrics"):
        als_scores = ranking_metrics(als_lists, test, n)
        popular_scores = ranking_metrics(popular_lists, test, n)
    with timed(timings, "item_neighbours"):
        _written(item_neighbours(train, top_k, max_user_ratings), output / "item_neighbours.parquet")
    metrics = {
        "n_ratings": n_ratings,
        "split": sizes,
        "split_method": split,
        "global_mean_rmse": global_mean_rmse,
        "baseline_rmse": baseline_rmse,
        "als_rmse": als_rmse,
        f"ndcg@{n}": als_scores[f"ndcg@{n}"],
        f"popular_ndcg@{n}": popular_scores[f"ndcg@{n}"],
        f"precision@{n}": als_scores[f"precision@{n}"],
        f"popular_precision@{n}": popular_scores[f"precision@{n}"],
        "n_eval_users": als_scores["n_users"],
        "timings": timings,
        "executors": executor_summary(spark),
    }
    return metrics


def _written(frame: DataFrame, path: Path) -> DataFrame:
    """Writes ``frame`` as parquet at ``path`` and returns the frame read back (computed once)."""
    frame.write.mode("overwrite").parquet(str(path))
    return frame.sparkSession.read.parquet(str(path))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cfutils.distributed", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--master", default=None, help=f"Spark master URL (default $SPARK_MASTER, else {DEFAULT_MASTER})"
    )
    parser.add_argument("--data", required=True, help="parquet file/folder, or Netflix / MovieLens ratings files")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--driver-memory", default="1g")
    parser.add_argument("--executor-memory", default=None, help="spark.executor.memory (cluster default 1g)")
    parser.add_argument("--executor-cores", default=None, help="spark.executor.cores")
    parser.add_argument("--shuffle-partitions", type=int, default=None)
    parser.add_argument("--split", default="global_time", choices=SPARK_SPLIT_METHODS)
    parser.add_argument("--test-size", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--reg", type=float, default=0.1, help="ALS regParam")
    parser.add_argument("--alpha", type=float, default=1.0, help="implicit ALS confidence")
    parser.add_argument("--n", type=int, default=10, help="list length and metric cut-off")
    parser.add_argument("--top-k", type=int, default=20, help="neighbours per movie")
    parser.add_argument("--max-user-ratings", type=int, default=None, help="neighbours: drop heavier users")
    parser.add_argument("--max-collected-rows", type=int, default=MAX_COLLECTED_ROWS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    conf = {
        key: value
        for key, value in {
            "spark.executor.memory": args.executor_memory,
            "spark.executor.cores": args.executor_cores,
        }.items()
        if value is not None
    }
    conf |= NO_AUTOMATIC_BROADCAST
    spark = start_session(args.master, args.driver_memory, args.shuffle_partitions, "cfutils-job", conf)
    try:
        with CollectGuard(args.max_collected_rows) as guard:
            metrics = run_job(
                spark,
                args.data,
                args.output_dir,
                args.split,
                args.test_size,
                args.seed,
                args.rank,
                args.max_iter,
                args.reg,
                args.alpha,
                args.n,
                args.top_k,
                args.max_user_ratings,
            )
    except DataFormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except PythonException as error:
        found = _WORKER_ERROR.search(str(error))
        if found is None:
            raise
        print(f"error: {found.group(1)}", file=sys.stderr)
        return 2
    finally:
        spark.stop()
    metrics["largest_collect_rows"] = guard.largest
    (Path(args.output_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("timings", "executors")}))
    return 0
