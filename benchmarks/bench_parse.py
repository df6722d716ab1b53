"""Parse throughput: the tutorial's per-line loader against ``cfutils.data.io.read_ratings``.

Writes a Netflix-like data set in the Kaggle format with ``cfutils.data.synth.write_netflix``
(default 5M ratings, about 100 MB, in ``benchmarks/data/``), then, each in its own
subprocess so that its peak memory is its own:

1. ``naive``: ``benchmarks/tutorial_loader.py`` (a Python step per line, an
   intermediate CSV, pandas reads it back);
2. ``fast``: ``read_ratings(path, cache=False)`` (vectorised, pyarrow);
3. ``cache write`` and ``cache reload``: ``read_ratings(path, cache=True)`` twice, into a
   temporary cache folder.

It checks that all frames are equal (the naive one converted to the contract dtypes)
and prints MB/s of input text (wall clock, and per CPU-second summed over threads, which
is steadier on a shared machine), the speed ratio and the peak RSS of each subprocess.

    .venv/bin/python benchmarks/bench_parse.py [--ratings 5000000] [--files 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

BENCHMARKS = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCHMARKS.parent), str(BENCHMARKS)]

from tutorial_loader import load_data  # noqa: E402

from cfutils.core.memory import current_rss_bytes, format_bytes, peak_rss_bytes  # noqa: E402
from cfutils.data import synth  # noqa: E402
from cfutils.data.io import RATINGS_DTYPES, read_ratings  # noqa: E402


def worker(approach: str, data_dir: Path, output: Path, cache_dir: Path) -> None:
    """Run one approach, save its frame to ``output`` and print its timing as JSON."""
    files = sorted(data_dir.glob("combined_data_*.txt"))
    baseline = current_rss_bytes()
    start, cpu_start = time.perf_counter(), time.process_time()
    if approach == "naive":
        frame = load_data(files, output.with_suffix(".csv"))
    else:
        frame = read_ratings(data_dir, cache=approach != "fast", cache_dir=cache_dir, progress=False)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    frame.to_parquet(output)
    print(
        json.dumps(
            {"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss": peak_rss_bytes(), "baseline_rss": baseline}
        )
    )


def run_worker(approach: str, data_dir: Path, output: Path, cache_dir: Path) -> dict:
    command = [sys.executable, __file__, "--worker", approach, str(data_dir), str(output), str(cache_dir)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def as_contract(naive: pd.DataFrame) -> pd.DataFrame:
    """The tutorial's frame in the contract's columns and dtypes."""
    columns = {"user_id": naive["user"], "movie_id": naive["movie"], "rating": naive["rating"], "date": naive["date"]}
    return pd.DataFrame(columns).astype(RATINGS_DTYPES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=5_000_000)
    parser.add_argument("--files", type=int, default=1)
    parser.add_argument("--worker", nargs=4, metavar=("APPROACH", "DATA", "OUTPUT", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        approach, *paths = args.worker
        worker(approach, *map(Path, paths))
        return

    n_users = max(1_000, args.ratings // 200)
    data_dir = BENCHMARKS / "data" / f"netflix_{args.ratings}"
    n_movies = synth.NETFLIX.n_movies
    print(f"writing {args.ratings:,} ratings ({n_users:,} users, {n_movies:,} movies) to {data_dir} ...", flush=True)
    synth.write_netflix(data_dir, n_users=n_users, n_movies=n_movies, n_ratings=args.ratings, n_files=args.files)
    megabytes = sum(f.stat().st_size for f in data_dir.glob("combined_data_*.txt")) / 1e6

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        results, frames = {}, {}
        for approach in ("naive", "fast", "cache write", "cache reload"):
            output = scratch / f"{approach.replace(' ', '_')}.parquet"
            results[approach] = run_worker(approach, data_dir, output, scratch / "cache")
            frames[approach] = pd.read_parquet(output)
        reference = as_contract(frames.pop("naive"))
        for approach, frame in frames.items():
            pd.testing.assert_frame_equal(frame.astype(RATINGS_DTYPES), reference, obj=approach)

    print(f"\n{megabytes:.0f} MB of Kaggle text, {args.ratings:,} ratings; all frames equal.\n")
    print(f"{'approach':<14}{'wall s':>8}{'MB/s':>8}{'CPU s':>8}{'MB/CPU-s':>10}{'peak RSS':>12}{'after imports':>15}")
    for approach, result in results.items():
        wall, cpu = result["seconds"], result["cpu_seconds"]
        print(
            f"{approach:<14}{wall:>8.2f}{megabytes / wall:>8.1f}{cpu:>8.2f}{megabytes / cpu:>10.1f}"
            f"{format_bytes(result['peak_rss']):>12}{format_bytes(result['baseline_rss']):>15}"
        )
    naive, fast = results["naive"], results["fast"]
    print(
        f"\nspeed ratio tutorial / read_ratings: {naive['seconds'] / fast['seconds']:.1f}x wall clock, "
        f"{naive['cpu_seconds'] / fast['cpu_seconds']:.1f}x CPU time;"
    )
    print(f"reloading from the parquet cache takes {results['cache reload']['seconds']:.2f} s.")


if __name__ == "__main__":
    main()
