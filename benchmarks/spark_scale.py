"""Spark (local mode) against the single-machine route, stage by stage, on generated Netflix data.

    python benchmarks/spark_scale.py --fraction 0.01 --output benchmarks/results/spark_scale_0.01.json

The data is ``cfutils.data.synth.NETFLIX.scaled(fraction)`` in the Kaggle format (the files of
``benchmarks/scale.py``, reused when present), parsed once into the parquet cache of
``read_ratings``. Both routes then run the same four stages on it:

=========  ======================================  =========================================
stage      Spark (``cfutils.distributed.spark``)               one machine (``cfutils``)
=========  ======================================  =========================================
read       ``read_ratings_parquet`` + count        ``read_ratings`` from the same parquet
split      ``spark_split(..., "global_time")``     ``temporal_split``
fit        ALS, rank R, I iterations               Surprise SVD, R factors, I epochs (the same
                                                   model class, SGD instead of ALS), and the
                                                   numpy ``BiasBaseline``
evaluate   predictions + RMSE on test, in Spark    predictions + RMSE on test
=========  ======================================  =========================================

The two splits are checked equal (count and sum of the test rows' positions) before anything
is fitted; the fitted models differ, so their test RMSEs are printed side by side, not compared.
Other jobs on the machine slow Spark's many small tasks most: the JSON keeps the 1-minute load
average before and after the run. Memory: each stage's peak resident memory of this Python process
and, for Spark, of the driver JVM (local mode: the executors live in it), sampled every 0.1 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
from pyspark.sql import functions as F
from scale import BENCHMARKS_DIR, save_result, scale_parser

from cfutils.core.memory import MiB
from cfutils.data import synth
from cfutils.data.io import ratings_cache_path, read_ratings
from cfutils.data.split import temporal_split
from cfutils.distributed import spark as cs
from cfutils.eval.metrics import rmse
from cfutils.rating.models import SVD, BiasBaseline, rating_scale


class PeakMemory:
    """Highest RSS of this process and of its child processes (the JVM), sampled in a thread."""

    def __init__(self, interval: float = 0.1):
        self.interval, self.python, self.children = interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            self.python = max(self.python, me.memory_info().rss)
            try:
                self.children = max(self.children, sum(c.memory_info().rss for c in me.children(recursive=True)))
            except psutil.NoSuchProcess:
                pass
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class Stages:
    """Wall time and peak memory of named stages, per route."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    @contextmanager
    def stage(self, route: str, name: str):
        print(f"{route:>8} {name} ...", flush=True)
        start = time.perf_counter()
        with PeakMemory() as peak:
            yield
        row = {
            "route": route,
            "stage": name,
            "seconds": round(time.perf_counter() - start, 2),
            "python_peak_mb": round(peak.python / MiB),
            "jvm_peak_mb": round(peak.children / MiB),
        }
        self.rows.append(row)
        print(
            f"{'':9}{row['seconds']:.1f} s, Python {row['python_peak_mb']} MiB, JVM {row['jvm_peak_mb']} MiB",
            flush=True,
        )


def prepare(fraction: float, data_dir: Path) -> Path:
    """The generated files (written when missing) and their parquet cache; returns the cache path."""
    synth.write_preset(data_dir, synth.NETFLIX.scaled(fraction), progress=True)
    cache_dir = data_dir / "parquet_cache"
    read_ratings(data_dir, cache=True, cache_dir=cache_dir)
    return ratings_cache_path(data_dir, cache_dir)


def run(args: argparse.Namespace) -> dict:
    data_dir = Path(args.data_dir or BENCHMARKS_DIR / "data" / f"scale_{args.fraction:g}")
    parquet = prepare(args.fraction, data_dir)
    stages = Stages()
    rmses = {}
    load_before = os.getloadavg()[0]

    with stages.stage("one", "read"):
        ratings = read_ratings(data_dir, cache=True, cache_dir=parquet.parent, progress=False)
    with stages.stage("one", "split"):
        train, test = temporal_split(ratings, test_size=0.2)
    del ratings
    scale = rating_scale(train)
    models = [BiasBaseline()]
    if len(train) <= args.svd_max_ratings:
        models.append(SVD(n_factors=args.rank, n_epochs=args.iterations, random_state=0))
    for model in models:
        with stages.stage("one", f"fit {model.name}"):
            model.fit(train)
        with stages.stage("one", f"evaluate {model.name}"):
            rmses[model.name] = rmse(test["rating"], model.predict(test))
        del model
    single = {"n_test": len(test), "test_row_sum": int(test.index.to_numpy().sum())}
    del train, test, models

    with stages.stage("spark", "start"):
        spark = cs.start_session(
            args.master,
            driver_memory=args.driver_memory,
            shuffle_partitions=args.shuffle_partitions,
            app_name="spark_scale",
        )
    with stages.stage("spark", "read"):
        ratings = cs.read_ratings_parquet(spark, parquet).persist()
        n_ratings = ratings.count()
    with stages.stage("spark", "split"):
        train, test = cs.spark_split(ratings, "global_time", 0.2)
        mine = test.agg(F.count(F.lit(1)).alias("n"), F.sum(cs.ROW).alias("s")).first()
    if (mine["n"], mine["s"]) != (single["n_test"], single["test_row_sum"]):
        raise AssertionError(f"the Spark split differs from temporal_split: {tuple(mine)} != {tuple(single.values())}")
    with stages.stage("spark", "fit als"):
        model = cs.fit_als(train, rank=args.rank, maxIter=args.iterations, regParam=0.1, blocks=args.blocks)
    with stages.stage("spark", "evaluate als"):
        mean = train.agg(F.avg("rating")).first()[0]
        rmses["als"] = cs.spark_rmse(cs.predict_ratings(model, test, mean, scale))
    spark.stop()

    return {
        "fraction": args.fraction,
        "ratings": n_ratings,
        "master": args.master or cs.DEFAULT_MASTER,
        "driver_memory": args.driver_memory,
        "rank": args.rank,
        "iterations": args.iterations,
        "test_rmse": {k: round(float(v), 5) for k, v in rmses.items()},
        "stages": stages.rows,
        "cpus": os.cpu_count(),
        "load_average_1min": [load_before, os.getloadavg()[0]],
    }


def print_table(result: dict) -> None:
    print(
        f"\n{result['ratings']:,} ratings (fraction {result['fraction']:g}), Spark {result['master']}; "
        f"test RMSE {result['test_rmse']}; {result['cpus']} CPUs, load average {result['load_average_1min']}"
    )
    print(f"{'route':<7}{'stage':<16}{'seconds':>9}{'Python MiB':>12}{'JVM MiB':>9}")
    for row in result["stages"]:
        print(
            f"{row['route']:<7}{row['stage']:<16}{row['seconds']:>9.1f}{row['python_peak_mb']:>12}{row['jvm_peak_mb']:>9}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = scale_parser(__doc__.split("\n\n")[0], default_fraction=0.01)
    parser.add_argument("--master", default=None, help="Spark master (default $SPARK_MASTER, else local[*])")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--shuffle-partitions", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=None, help="ALS user and item blocks (default Spark's 10)")
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument(
        "--svd-max-ratings",
        type=int,
        default=20_000_000,
        help="skip the Surprise SVD fit above this many train ratings (159 bytes per rating)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    save_result(args.output, result)
    print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
