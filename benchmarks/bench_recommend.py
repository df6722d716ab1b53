"""Per-user top-N latency of cfutils.recommend.Recommender against ranking every movie, on Netflix-shaped data.

Usage::

    python benchmarks/bench_recommend.py [--fraction 0.1] [--users 200] [--n 10]

The data come from ``benchmarks/similarity_data.netflix_like_matrix``: all 17,770 movies, and
``fraction`` of Netflix's users and ratings with the real heavy-tailed degree laws. Per-user latency
depends on the number of movies, the neighbour count k and the user's own ratings, not on how many
other users there are, so a fraction of the users measures the latency of a model fit on all of them.

For each timed user (the heaviest users plus a random draw), two ways to get the same list:

* **ours**: ``Recommender.top_n`` -- candidates (item-kNN neighbours of the liked movies and the
  MF top-``n_mf_candidates``), then the scorer on the candidates only;
* **naive**: score *every* movie with the same scorer (``Recommender.score``), drop the rated
  ones, sort.

With ``scorer="mf"`` the two lists must be identical (asserted). With ``scorer="item_knn"`` the
candidate stage restricts the list to neighbours of liked movies by design; the script prints how
much of the naive top-N it keeps. Prints latency percentiles, the ratio and the peak memory.
``top_n`` is timed twice: as the user sees it (titles and "because you rated ..." included) and
as ranking only (``top_n_batch`` of one user), which is what the naive ranking is compared with.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from similarity_data import netflix_like_matrix  # noqa: E402

from cfutils.memory import format_bytes, peak_rss_bytes  # noqa: E402
from cfutils.recommend import Recommender, top_n_indices  # noqa: E402


def ratings_from_matrix(csr, seed: int) -> pd.DataFrame:
    """The contract ratings frame of a users x movies CSR (ids 1-based, random dates in 2005)."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(1, csr.shape[0] + 1, dtype=np.int32), np.diff(csr.indptr))
    days = rng.integers(0, 365, csr.nnz)
    return pd.DataFrame(
        {
            "user_id": users,
            "movie_id": (csr.indices + 1).astype(np.int32),
            "rating": csr.data.astype(np.float32),
            "date": (np.datetime64("2005-01-01", "s") + days * np.timedelta64(1, "D")).astype("datetime64[s]"),
        }
    )


def naive_top_n(rec: Recommender, user_id: int, n: int) -> np.ndarray:
    """Score every movie for the user, drop the rated ones, keep the best n (ties to the smaller id)."""
    movies = rec.matrix.movie_ids
    scores = rec.score(pd.DataFrame({"user_id": np.full(movies.size, user_id), "movie_id": movies}))
    row = rec.matrix.csr[rec.matrix.user_index([user_id])[0]]
    scores[row.indices] = -np.inf
    chosen = top_n_indices(scores[None, :], n)[0]
    return movies[chosen[chosen >= 0]]


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - start) * 1000.0


def percentiles(ms: list[float]) -> str:
    p50, p95 = np.percentile(ms, [50, 95])
    return f"median {p50:7.1f} ms  p95 {p95:7.1f} ms  max {max(ms):7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fraction", type=float, default=0.1, help="share of Netflix's users and ratings")
    parser.add_argument("--users", type=int, default=200, help="users timed (the 20 heaviest plus a random draw)")
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    t0 = time.perf_counter()
    train = ratings_from_matrix(netflix_like_matrix(args.fraction, seed=args.seed), args.seed)
    print(f"data: {train['user_id'].nunique():,} users x {train['movie_id'].nunique():,} movies, "
          f"{len(train):,} ratings ({time.perf_counter() - t0:.1f} s)")
    counts = train["user_id"].value_counts()
    rng = np.random.default_rng(args.seed)
    heaviest = counts.index[:20].to_numpy()
    others = rng.choice(counts.index[20:].to_numpy(), size=max(args.users - 20, 0), replace=False)
    users = np.r_[heaviest, others]
    print(f"timed users: {users.size}, their ratings: median {int(counts[users].median())}, "
          f"max {int(counts[users].max())}")

    for scorer in ("mf", "item_knn"):
        start = time.perf_counter()
        rec = Recommender(scorer=scorer, popularity_weight=2.0, progress=False).fit(train)
        print(f"\nscorer={scorer}: fit {time.perf_counter() - start:.1f} s")
        rec.top_n(int(users[0]), args.n)  # warm-up: first-call allocations
        ours_ms, ranking_ms, naive_ms, kept = [], [], [], []
        for user in users:
            ours, ms = timed(rec.top_n, int(user), args.n)
            ours_ms.append(ms)
            ranking_ms.append(timed(rec.top_n_batch, [int(user)], args.n)[1])
            naive, ms = timed(naive_top_n, rec, int(user), args.n)
            naive_ms.append(ms)
            if scorer == "mf":
                assert list(ours["movie_id"]) == list(naive), f"user {user}: candidate list != exhaustive list"
            kept.append(np.isin(naive, ours["movie_id"].to_numpy()).mean())
        print(f"  ours, top_n with titles and explanations  {percentiles(ours_ms)}")
        print(f"  ours, ranking only (top_n_batch of one)   {percentiles(ranking_ms)}")
        print(f"  naive, score every movie (no explanation) {percentiles(naive_ms)}")
        print(f"  ratio naive / ours-ranking (median)       {np.median(naive_ms) / np.median(ranking_ms):.2f}x")
        agreement = "identical lists (asserted)" if scorer == "mf" else f"{np.mean(kept):.1%} of the naive top-{args.n} kept"
        print(f"  agreement                                 {agreement}")
    print(f"\npeak memory (RSS): {format_bytes(peak_rss_bytes())}")


if __name__ == "__main__":
    main()
