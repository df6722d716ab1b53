"""Benchmark cfutils.rating.features.similarity_features against the tutorial's per-rating loop.

Run: ``.venv/bin/python benchmarks/bench_features.py [--quick]``. Three parts, each on generated data:

1. MovieLens-100K-sized (943 users, 1,682 movies, 100k ratings; ``cfutils.data.synth`` with ids
   relabelled 1..n like MovieLens), split 80/20 by date, features of all 100k pairs (train and
   test) from train, exact (``k=None``). The faithful tutorial loop runs on a few hundred of
   the same pairs and is extrapolated; the *fixed* loop (benchmarks/tutorial_features.py) must
   give exactly our values on them. Also: the vectorised-numpy route for ``sur`` (concatenate
   every pair's candidates, one lexsort) against the compiled scan, to justify numba.
2. AppliedAI-course-sized: 10k random users x 1k random movies of a Netflix-like matrix
   (``benchmarks/similarity_data.py``), about 130k train ratings, features of all of them, exact.
3. Netflix scale, finite k: fractions of a Netflix-like matrix; features of every rating with
   k=100 (the tutorial's neighbour count). The top-k lists come from ``cosine_top_k``, computed
   first through the ``TrainData`` the features then read (its matrix is built before, untimed),
   and are timed separately (that is the similarity module's cost, cached in practice); the
   feature step is extrapolated linearly in the number of pairs (each pair walks at most k neighbours
   per side; the one-off re-keying of the lists grows with users x k).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from similarity_data import NETFLIX_RATINGS, NETFLIX_USERS, netflix_like_matrix  # noqa: E402
from tutorial_features import raw_id_matrix, tutorial_features  # noqa: E402

from cfutils.core.matrix import RatingMatrix  # noqa: E402
from cfutils.core.memory import format_bytes  # noqa: E402
from cfutils.core.train_data import TrainData  # noqa: E402
from cfutils.data.io import read_ratings  # noqa: E402
from cfutils.data.split import temporal_split  # noqa: E402
from cfutils.data.synth import write_netflix  # noqa: E402
from cfutils.rating.features import feature_names, neighbour_ratings, similarity_features  # noqa: E402

NETFLIX_TRAIN_RATINGS = 80_000_000


def timed(function, *args, **kwargs):
    """(result, seconds, peak bytes allocated through numpy/Python during the call)."""
    tracemalloc.start()
    start = time.perf_counter()
    result = function(*args, **kwargs)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def frame_of(matrix) -> pd.DataFrame:
    coo = matrix.tocoo()
    return pd.DataFrame(
        {
            "user_id": coo.row.astype(np.int32),
            "movie_id": coo.col.astype(np.int32),
            "rating": coo.data.astype(np.float32),
        }
    )


def movielens_100k_like() -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as directory:
        ratings = read_ratings(
            write_netflix(directory, n_users=943, n_movies=1682, n_ratings=100_000, seed=1), cache=False, progress=False
        )
    ratings["user_id"] = (np.unique(ratings["user_id"], return_inverse=True)[1] + 1).astype(np.int32)
    return ratings


def numpy_lexsort_sur(matrix: RatingMatrix, users: np.ndarray, movies: np.ndarray, n: int) -> np.ndarray:
    """sur without a compiled loop: all candidates of all pairs concatenated, one lexsort, first n per pair."""
    X = matrix.csr.astype(np.float64)
    dots = (X @ X.T).toarray()  # fits at 943 users; the point here is the selection step
    squared_norms = np.asarray(X.multiply(X).sum(axis=1)).ravel()
    csc = matrix.csc
    counts = np.diff(csc.indptr)[movies]
    pair = np.repeat(np.arange(len(users)), counts)
    position = np.repeat(csc.indptr[movies] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    v, rating = csc.indices[position], csc.data[position]
    d = dots[users[pair], v]
    keep = (d > 0) & (v != users[pair])
    pair, v, rating, key = pair[keep], v[keep], rating[keep], (d[keep] ** 2) / squared_norms[v[keep]]
    order = np.lexsort((v, -key, pair))
    pair, rating = pair[order], rating[order]
    rank = np.arange(len(pair)) - np.searchsorted(pair, pair)
    out = np.full((len(users), n), np.nan, dtype=np.float32)
    out[pair[rank < n], rank[rank < n]] = rating[rank < n]
    return out


def tutorial_rows(train: pd.DataFrame, pairs: pd.DataFrame, fixed: bool) -> np.ndarray:
    rows = tutorial_features(raw_id_matrix(train), pairs, fixed=fixed)
    return np.array([row[2:] for row in rows], dtype=np.float32) if fixed else rows


def compare_with_tutorial(
    name: str, train: pd.DataFrame, pairs: pd.DataFrame, ours: pd.DataFrame, ours_seconds: float, n_loop: int, seed: int
) -> None:
    sample = pairs.sample(n_loop, random_state=seed)
    sample = sample[sample["user_id"].isin(train["user_id"]) & sample["movie_id"].isin(train["movie_id"])]
    faithful, loop_seconds, _ = timed(tutorial_rows, train, sample, fixed=False)
    fixed, fixed_seconds, _ = timed(tutorial_rows, train, sample, fixed=True)
    per_pair = loop_seconds / len(sample)
    ragged = sum(len(row) != 15 for row in faithful)
    mismatches = int((~np.isclose(fixed, ours.loc[sample.index].to_numpy(), rtol=1e-6, atol=0)).any(axis=1).sum())
    print(
        f"  tutorial loop (faithful): {per_pair * 1e3:.2f} ms/pair on {len(sample)} warm pairs "
        f"-> {per_pair * len(pairs):,.0f} s extrapolated to {len(pairs):,} pairs "
        f"({ragged} of {len(sample)} rows ragged from the padding bug)"
    )
    print(
        f"  tutorial loop (fixed):    {fixed_seconds / len(sample) * 1e3:.2f} ms/pair; rows differing from "
        f"cfutils: {mismatches} of {len(sample)}"
    )
    print(f"  {name}: speed-up {per_pair * len(pairs) / ours_seconds:,.0f}x")
    if mismatches:
        raise SystemExit("cfutils and the fixed tutorial loop disagree")


def part_movielens(n_loop: int) -> None:
    ratings = movielens_100k_like()
    train, test = temporal_split(ratings)
    pairs = pd.concat([train, test])
    print(
        f"\n[1] MovieLens-100K-sized: {len(ratings):,} ratings, {ratings.user_id.nunique()} users, "
        f"{ratings.movie_id.nunique()} movies; {len(pairs):,} pairs ({len(test):,} test), k=None"
    )
    similarity_features(train, pairs.iloc[:10])  # compile (cached on disk afterwards)
    ours, seconds, peak = timed(similarity_features, train, pairs)
    print(f"  cfutils: {seconds:.2f} s ({seconds / len(pairs) * 1e6:.1f} us/pair), peak {format_bytes(peak)}")
    compare_with_tutorial("MovieLens-100K-sized", train, pairs, ours, seconds, n_loop, seed=0)

    matrix = RatingMatrix.from_ratings(train)
    users, movies = matrix.user_index(train.user_id), matrix.movie_index(train.movie_id)
    by_numpy, numpy_seconds, numpy_peak = timed(numpy_lexsort_sur, matrix, users, movies, 5)
    by_numba, numba_seconds, numba_peak = timed(neighbour_ratings, matrix.csr, matrix.csc, None, users, movies, 5)
    assert np.array_equal(by_numpy, by_numba, equal_nan=True)
    print(
        f"  sur of {len(users):,} train pairs, same values: numpy lexsort route {numpy_seconds:.2f} s "
        f"(peak {format_bytes(numpy_peak)}), compiled scan {numba_seconds:.2f} s (peak {format_bytes(numba_peak)}) "
        f"-> numba {numpy_seconds / numba_seconds:.1f}x faster"
    )


def part_applied_ai(n_loop: int) -> None:
    rng = np.random.default_rng(0)
    full = netflix_like_matrix(10_000 / NETFLIX_USERS, seed=1)
    movies = np.sort(rng.choice(full.shape[1], 1_150, replace=False))
    train = frame_of(full[:, movies])
    print(
        f"\n[2] AppliedAI-sized: {len(train):,} train ratings, {train.user_id.nunique():,} users, "
        f"{train.movie_id.nunique():,} movies; features of every train rating, k=None"
    )
    ours, seconds, peak = timed(similarity_features, train, train)
    print(f"  cfutils: {seconds:.2f} s, peak {format_bytes(peak)} (goal: < 10 s)")
    compare_with_tutorial("AppliedAI-sized", train, train, ours, seconds, n_loop, seed=1)


def part_netflix(fractions: list[float], k: int) -> None:
    print(f"\n[3] Netflix scale, k={k}: features of every rating of a fraction of a Netflix-like matrix")
    per_pair = []
    for fraction in fractions:
        train = frame_of(netflix_like_matrix(fraction, seed=2))
        data = TrainData(train)
        matrix = data.matrix
        _, list_seconds, _ = timed(lambda d=data: (d.neighbours("users", k), d.neighbours("movies", k)))
        _, seconds, peak = timed(similarity_features, data, train, k=k)
        per_pair.append(seconds / len(train))
        print(
            f"  fraction {fraction:g}: {matrix.n_users:,} users, {len(train):,} ratings; cosine_top_k "
            f"{list_seconds:.1f} s (not counted); features {seconds:.1f} s = {per_pair[-1] * 1e6:.2f} us/pair, "
            f"peak {format_bytes(peak)} = {peak / len(train):.0f} B/pair"
        )
    print(
        f"  extrapolated to {NETFLIX_TRAIN_RATINGS:,} train ratings at the largest fraction's rate: "
        f"{per_pair[-1] * NETFLIX_TRAIN_RATINGS / 60:.1f} min (goal: < 30 min); "
        f"Netflix has {NETFLIX_RATINGS:,} ratings in all"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer loop rows and smaller fractions")
    args = parser.parse_args()
    print("similarity_features benchmark (shared 2-core machine; columns:", ", ".join(feature_names()), ")")
    n_loop = 100 if args.quick else 300
    part_movielens(n_loop)
    part_applied_ai(n_loop // 3)
    part_netflix([0.002, 0.005] if args.quick else [0.005, 0.01, 0.02], k=100)


if __name__ == "__main__":
    main()
