"""A Spark session, and what its jobs cost according to Spark's own accounting (the UI's REST API)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import urllib.request
import warnings
from collections.abc import Mapping

import pandas as pd
from pyspark import SparkConf
from pyspark.sql import SparkSession

#: Environment variable naming the cluster, e.g. ``spark://host:7077``, ``yarn`` or ``k8s://...``.
MASTER_ENV = "SPARK_MASTER"
DEFAULT_MASTER = "local[*]"
#: What to install when ``java`` is missing (Debian/Ubuntu name; Spark 4 needs Java 17 or 21).
JAVA_PACKAGE = "openjdk-17-jre-headless"
#: Measured: PySpark 4.3 works with the project's pandas 3 (this package's tests); it only warns.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


def start_session(
    master: str | None = None,
    driver_memory: str = "2g",
    shuffle_partitions: int | None = None,
    app_name: str = "cfutils",
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """A Spark session on ``master`` (default ``$SPARK_MASTER``, else the master ``spark-submit`` set,
    else ``local[*]``).

    ``driver_memory`` is the driver JVM's heap (in local mode the executors live in it too);
    it only takes effect when no session is running yet. ``shuffle_partitions`` sets
    ``spark.sql.shuffle.partitions`` (Spark's default 200 suits a cluster, not a laptop);
    ``conf`` adds any other setting (``spark.executor.memory``, ``spark.executor.cores`` ...).
    The Python workers run this interpreter (``PYSPARK_PYTHON``
    unless set). Session time zone UTC, so dates mean the same on every machine. Raises ``RuntimeError``
    naming the package to install when no ``java`` is found.
    """
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise RuntimeError(f"Spark needs Java 17 or newer and no `java` was found: install {JAVA_PACKAGE}")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the Python workers run this environment's Python
    settings = {
        "spark.driver.memory": driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.pyspark.python": sys.executable,
        "spark.ui.showConsoleProgress": "false",
        **({"spark.sql.shuffle.partitions": str(shuffle_partitions)} if shuffle_partitions is not None else {}),
        **(conf or {}),
    }
    builder = SparkSession.builder.appName(app_name)
    resolved = master or os.environ.get(MASTER_ENV)
    if resolved is None and not SparkConf().contains("spark.master"):  # spark-submit sets spark.master
        resolved = DEFAULT_MASTER
    if resolved is not None:
        builder = builder.master(resolved)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def stage_timings(spark: SparkSession, job_group: str | None = None) -> pd.DataFrame:
    """The completed stages of the jobs run under ``sparkContext.setJobGroup(job_group, ...)`` (every
    job when ``job_group`` is None): name, tasks, wall seconds, executor CPU seconds, shuffle bytes.

    Empty when the UI is disabled (``spark.ui.enabled=false``) or does not answer in time.
    """
    base = _application_url(spark)
    try:
        jobs, stages = (_get_json(f"{base}/jobs"), _get_json(f"{base}/stages")) if base else ([], [])
    except OSError:  # URLError, a refused connection or a timeout
        return pd.DataFrame()
    wanted = {stage for job in jobs if job_group in (None, job.get("jobGroup")) for stage in job["stageIds"]}
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


def executor_summary(spark: SparkSession) -> dict:
    """The executors this application launched (the driver excluded, dead ones included):
    ``count``, ``peak_jvm_heap_bytes`` (largest ``JVMHeapMemory`` peak of any executor),
    ``shuffle_write_bytes`` and ``shuffle_read_bytes`` (summed). Empty when the UI does not answer.
    In local mode the one "executor" is the driver itself, so ``count`` is 0.
    """
    base = _application_url(spark)
    try:
        executors = _get_json(f"{base}/allexecutors") if base else []
    except OSError:
        return {}
    workers = [executor for executor in executors if executor["id"] != "driver"]
    return {
        "count": len(workers),
        "peak_jvm_heap_bytes": max(
            (executor.get("peakMemoryMetrics", {}).get("JVMHeapMemory", 0) for executor in workers), default=0
        ),
        "shuffle_write_bytes": sum(executor.get("totalShuffleWrite", 0) for executor in workers),
        "shuffle_read_bytes": sum(executor.get("totalShuffleRead", 0) for executor in workers),
    }


def _application_url(spark: SparkSession) -> str | None:
    context = spark.sparkContext
    return f"{context.uiWebUrl}/api/v1/applications/{context.applicationId}" if context.uiWebUrl else None


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.load(response)


def _seconds(start: str | None, end: str | None) -> float:
    """Seconds between two times of the REST API (``2026-01-02T03:04:05.678GMT``)."""
    if not start or not end:
        return float("nan")
    return (pd.Timestamp(end.replace("GMT", "+00:00")) - pd.Timestamp(start.replace("GMT", "+00:00"))).total_seconds()
