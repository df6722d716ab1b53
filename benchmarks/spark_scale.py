"""``python -m cfutils.distributed`` on a Spark standalone cluster at growing sizes: wall time, shuffle, executor peak.

    python benchmarks/spark_scale.py --sizes 1000000 5000000 20000000 --output benchmarks/results/spark_cluster.json

For each size: generated Netflix-format files (``cfutils.data.synth.write_netflix``, ``size / 50`` users
and 2,000 movies, so each user has about 50 ratings at every size and the item-neighbour cost, which
grows with the sum of squared user degrees, grows like the data), written once under ``--data-dir``;
a fresh standalone cluster (:class:`cfutils.distributed.standalone.StandaloneCluster`: a master and
``--workers`` workers of 1 core and ``--worker-memory`` each); the job with a ``--driver-memory``
driver. Recorded: the job's wall time and its per-step timings, shuffle bytes written and read (the
executors' totals from Spark's REST API), the executors' peak JVM heap (Spark's own metric) and the
peak resident memory of any executor process (sampled every 0.5 s), the metrics it wrote, and the
growth of each figure from one size to the next. This is not a naive-against-ours comparison: the
single-machine route is compared in the job's tests (equal results on small data).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from scale import BENCHMARKS_DIR, save_result

from cfutils.core.memory import MiB
from cfutils.data.synth import write_netflix
from cfutils.distributed.standalone import StandaloneCluster

RATINGS_PER_USER = 50
N_MOVIES = 2_000


class ExecutorPeak:
    """Highest RSS of any process whose command line runs an executor, sampled in a thread."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for process in psutil.process_iter(["cmdline", "memory_info"]):
                if "CoarseGrainedExecutorBackend" in " ".join(process.info["cmdline"] or ()):
                    self.peak = max(self.peak, process.info["memory_info"].rss)
            time.sleep(self.interval)

    def __enter__(self) -> ExecutorPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def generated(size: int, data_dir: Path) -> Path:
    folder = data_dir / f"cluster_{size}"
    if not (folder / "combined_data_1.txt").exists():
        write_netflix(folder, n_users=size // RATINGS_PER_USER, n_movies=N_MOVIES, n_ratings=size, seed=0, n_files=2)
    return folder


def measure(size: int, args: argparse.Namespace) -> dict:
    data = generated(size, Path(args.data_dir))
    output = Path(args.data_dir) / f"out_{size}"
    with StandaloneCluster(args.workers, 1, args.worker_memory, log_dir=output / "logs") as cluster:
        command = [
            sys.executable, "-m", "cfutils.distributed", "--master", cluster.url, "--data", str(data),
            "--output-dir", str(output), "--driver-memory", args.driver_memory,
            "--executor-memory", args.worker_memory, "--executor-cores", "1",
            "--shuffle-partitions", str(args.shuffle_partitions), "--max-iter", str(args.max_iter),
        ]  # fmt: skip
        print(f"{size:,} ratings: {' '.join(command)}", flush=True)
        start = time.perf_counter()
        with ExecutorPeak() as peak:
            subprocess.run(command, check=True)
        seconds = time.perf_counter() - start
    metrics = json.loads((output / "metrics.json").read_text())
    executors = metrics["executors"]
    return {
        "ratings": metrics["n_ratings"],
        "wall_seconds": round(seconds, 1),
        "shuffle_write_MiB": round(executors["shuffle_write_bytes"] / MiB, 1),
        "shuffle_read_MiB": round(executors["shuffle_read_bytes"] / MiB, 1),
        "executor_peak_heap_MiB": round(executors["peak_jvm_heap_bytes"] / MiB),
        "executor_peak_rss_MiB": round(peak.peak / MiB),
        "executors": executors["count"],
        "timings": metrics["timings"],
        "metrics": {k: v for k, v in metrics.items() if k not in ("timings", "executors")},
        # The 1-minute load just after this size's job: its own driver and two executors account for
        # about 2 of it on 2 cores, so a much higher figure means something else ran beside it.
        "load_average_1min_after": round(os.getloadavg()[0], 2),
    }


def growth(rows: list[dict]) -> list[dict]:
    """Each figure's ratio from one size to the next, with the ratio of the ratings."""
    keys = ("wall_seconds", "shuffle_write_MiB", "executor_peak_heap_MiB", "executor_peak_rss_MiB")
    return [
        {
            "from": a["ratings"],
            "to": b["ratings"],
            "ratings": round(b["ratings"] / a["ratings"], 2),
            **{key: round(b[key] / a[key], 2) if a[key] else None for key in keys},
        }  # fmt: skip
        for a, b in zip(rows, rows[1:])
    ]


def print_table(result: dict) -> None:
    print(f"\n{result['workers']} workers x 1 core x {result['worker_memory']}, driver {result['driver_memory']}")
    print(f"{'ratings':>12}{'wall s':>9}{'shuffle MiB':>13}{'heap peak MiB':>15}{'RSS peak MiB':>14}")
    for row in result["sizes"]:
        print(
            f"{row['ratings']:>12,}{row['wall_seconds']:>9.1f}{row['shuffle_write_MiB']:>13.1f}"
            f"{row['executor_peak_heap_MiB']:>15}{row['executor_peak_rss_MiB']:>14}"
        )
    for step in result["growth"]:
        print(f"growth {step['from']:,} -> {step['to']:,}: {step}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000])
    parser.add_argument("--output", type=Path, required=True, help="results JSON")
    parser.add_argument("--data-dir", default=str(BENCHMARKS_DIR / "data"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="1g")
    parser.add_argument("--driver-memory", default="512m")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    parser.add_argument("--max-iter", type=int, default=10)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    rows = []
    for size in args.sizes:
        rows.append(measure(size, args))
        result = {
            "workers": args.workers, "worker_memory": args.worker_memory, "driver_memory": args.driver_memory,
            "max_iter": args.max_iter, "cpus": os.cpu_count(), "sizes": rows, "growth": growth(rows),
        }  # fmt: skip
        save_result(args.output, result)  # after each size, so a long run keeps what it measured
    print_table(result)
    return result


if __name__ == "__main__":
    main()
