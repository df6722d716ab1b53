"""``python -m cfutils.distributed`` on a real Spark standalone cluster: a master and two workers
(1 core, 1 GB each) started with the installed PySpark's ``spark-class`` on free ports, a 512 MB
driver, generated Netflix-format files of ``CFUTILS_CLUSTER_RATINGS`` ratings (default 2,000,000, about
4 minutes on 2 idle cores; ``benchmarks/spark_scale.py`` measures 1M, 5M and 20M).
Every process the test starts is stopped at the end. Skipped, with one line, where PySpark is missing.

The outputs' correctness against ``cfutils`` is tested on small data in ``tests/test_spark.py``;
here: that the job runs on executors, never collects, and writes sound outputs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed; `make spark` adds it")

from cfutils.data.io import read_ratings  # noqa: E402
from cfutils.data.synth import write_netflix  # noqa: E402
from cfutils.distributed import MAX_COLLECTED_ROWS  # noqa: E402
from cfutils.distributed.standalone import StandaloneCluster  # noqa: E402

N_RATINGS = int(os.environ.get("CFUTILS_CLUSTER_RATINGS", 2_000_000))


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    data = write_netflix(
        tmp_path_factory.mktemp("cluster_data"), n_users=N_RATINGS // 50, n_movies=2_000, n_ratings=N_RATINGS,
        seed=1, n_files=2,
    )  # fmt: skip
    output = tmp_path_factory.mktemp("cluster_job")
    with StandaloneCluster(workers=2, cores=1, memory="1g", log_dir=output / "logs") as cluster:
        started = list(cluster.processes)
        done = subprocess.run(
            [
                sys.executable, "-m", "cfutils.distributed", "--master", cluster.url, "--data", str(data),
                "--output-dir", str(output), "--driver-memory", "512m", "--executor-memory", "1g",
                "--executor-cores", "1", "--shuffle-partitions", "8", "--max-iter", "5", "--top-k", "10",
            ],
            capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
    assert all(process.poll() is not None for process in started)  # master and workers stopped
    return done, output, data


def test_the_job_runs_on_the_cluster_executors_and_never_collects(job):
    done, output, _ = job
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((output / "metrics.json").read_text())
    assert metrics["executors"]["count"] == 2 and metrics["executors"]["shuffle_write_bytes"] > 0
    assert metrics["largest_collect_rows"] <= MAX_COLLECTED_ROWS


def test_the_metrics_add_up(job):
    _, output, data = job
    metrics = json.loads((output / "metrics.json").read_text())
    n = len(read_ratings(data))
    assert metrics["n_ratings"] == n and sum(metrics["split"].values()) == n
    assert metrics["split"]["test"] == round(0.2 * n)
    assert metrics["baseline_rmse"] < metrics["global_mean_rmse"] and 0 < metrics["als_rmse"] < 2
    assert 0 < metrics["popular_ndcg@10"] <= 1 and 0 < metrics["ndcg@10"] <= 1
    assert set(metrics["timings"]) >= {"read", "split", "baselines", "als_explicit", "item_neighbours"}


def test_the_lists_and_neighbours_are_written(job):
    _, output, _ = job
    metrics = json.loads((output / "metrics.json").read_text())
    for name in ("als", "popular"):
        lists = pd.read_parquet(output / "lists" / f"{name}.parquet")
        ranks = lists.groupby("user_id")["rank"]
        assert (ranks.max() == ranks.size()).all() and ranks.size().max() == 10
        assert not lists.duplicated(["user_id", "movie_id"]).any()
        assert lists["user_id"].nunique() >= metrics["n_eval_users"]
    neighbours = pd.read_parquet(output / "item_neighbours.parquet")
    assert neighbours["rank"].max() == 10 and (neighbours["movie_id"] != neighbours["neighbour_id"]).all()
    assert np.all((neighbours["similarity"] > 0) & (neighbours["similarity"] <= 1 + 1e-9))
