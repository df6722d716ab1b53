"""Per-user top-N latency of EASE and the re-ranker against ranking every movie, on Netflix-shaped data.

Usage::

    python benchmarks/bench_recommend.py [--fraction 0.05] [--users 200] [--n 10] [--ease-items 2000]

The data come from ``benchmarks/similarity_data.netflix_like_matrix``: all 17,770 movies, and
``fraction`` of Netflix's users and ratings with the real heavy-tailed degree laws (random dates in
2005). Per-user latency depends on the number of movies and the user's own ratings, not on how many
other users there are, so a fraction of the users measures the latency of a model fit on all of them.

For each timed user (the 20 heaviest plus a random draw):

* **EASE, ours**: ``EASE.top_n_batch`` of one user (a sparse row times :math:`B`, a partial sort);
  **naive**: the dense binary row times :math:`B`, rated movies dropped, a full sort. The lists
  must be identical, up to near-ties whose scores agree to 1e-9 (asserted).
* **re-ranker, ours**: ``ReRanker.top_n_batch`` of one user (EASE and kNN candidates, features,
  ``XGBRanker``); **naive**: the same ranker scores *every* unrated movie. The script prints how
  much of the naive top-N the candidate stage keeps.

``explained_list`` (``top_n`` with titles and "because you rated ...") is timed as well. Prints fit times, latency
percentiles, the ratios and the peak memory.
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

from cfutils.core.memory import format_bytes, peak_rss_bytes  # noqa: E402
from cfutils.lists.ease import EASE  # noqa: E402
from cfutils.lists.item_knn import ItemKNN  # noqa: E402
from cfutils.lists.lists import top_n_indices  # noqa: E402
from cfutils.lists.rerank import ReRanker  # noqa: E402
from cfutils.present.explain import explained_list  # noqa: E402


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


def dense_ease_scores(rec: EASE, user_id: int) -> pd.Series:
    """Dense binary row times B over the model's movies (index: movie id), rated ones -inf."""
    x = rec.binary_[rec.matrix_.user_index([user_id])[0]].toarray()[0]
    scores = x @ rec.weights_
    scores[x > 0] = -np.inf
    return pd.Series(scores, index=rec.matrix_.movie_ids[rec.items_])


def naive_ease(rec: EASE, user_id: int, n: int) -> np.ndarray:
    """The dense scores, a full stable sort (ties to the smaller movie id), best n."""
    scores = dense_ease_scores(rec, user_id)
    order = np.lexsort((scores.index.to_numpy(), -scores.to_numpy()))
    return scores.index.to_numpy()[order[np.isfinite(scores.to_numpy()[order])][:n]]


def same_ease_list(rec: EASE, user_id: int, ours: np.ndarray, naive: np.ndarray) -> bool:
    """Equal lists, or lists whose dense scores agree to 1e-9 rank by rank (the sparse and the dense
    products sum in different orders, so near-ties may swap). A user who rated almost every movie of
    the model has a shorter naive list; the rest of ours is the fallback, outside the model."""
    scores = dense_ease_scores(rec, user_id)
    head, tail = ours[: naive.size], ours[naive.size :]
    agree = list(head) == list(naive) or bool(np.allclose(scores[head].to_numpy(), scores[naive].to_numpy(), atol=1e-9))
    return agree and not np.isin(tail, scores.index).any()


def naive_rerank(rec: ReRanker, user_id: int, n: int) -> np.ndarray:
    """The ranker's score of every unrated movie (all made candidates), best n."""
    stage = rec.served_
    u = np.array([rec.matrix_.user_index([user_id])[0]])
    saved = stage.n_candidates
    stage.n_candidates = rec.matrix_.n_movies
    try:
        rows, movies, frame = stage.features(u)
    finally:
        stage.n_candidates = saved
    scores = np.full((1, rec.matrix_.n_movies), -np.inf)
    scores[rows, movies] = rec.ranker_.predict(frame) if rec.ranker_ is not None else frame["ease_score"]
    chosen = top_n_indices(scores, n)[0]
    return rec.matrix_.movie_ids[chosen[chosen >= 0]]


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - start) * 1000.0


def percentiles(ms: list[float]) -> str:
    p50, p95 = np.percentile(ms, [50, 95])
    return f"median {p50:7.1f} ms  p95 {p95:7.1f} ms  max {max(ms):7.1f} ms"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fraction", type=float, default=0.05, help="share of Netflix's users and ratings")
    parser.add_argument("--users", type=int, default=200, help="users timed (the 20 heaviest plus a random draw)")
    parser.add_argument("--naive-users", type=int, default=30, help="users also ranked the naive way (slow)")
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--ease-items", type=int, default=2000, help="EASE's max_items (0: all movies)")
    parser.add_argument("--budget-gb", type=float, default=6.0, help="memory budget of EASE and the scoring")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    t0 = time.perf_counter()
    train = ratings_from_matrix(netflix_like_matrix(args.fraction, seed=args.seed), args.seed)
    print(
        f"data: {train['user_id'].nunique():,} users x {train['movie_id'].nunique():,} movies, "
        f"{len(train):,} ratings ({time.perf_counter() - t0:.1f} s)"
    )
    counts = train["user_id"].value_counts()
    rng = np.random.default_rng(args.seed)
    others = rng.choice(counts.index[20:].to_numpy(), size=max(args.users - 20, 0), replace=False)
    users = np.r_[counts.index[:20].to_numpy(), others]
    median, most = int(counts[users].median()), int(counts[users].max())
    print(f"timed users: {users.size}, their ratings: median {median}, max {most}")

    budget = args.budget_gb * 1024**3
    ease = EASE(max_items=args.ease_items or None, budget_bytes=budget)
    models = {
        "EASE": (ease, naive_ease),
        "re-ranker": (
            ReRanker(ease, ItemKNN(50, budget_bytes=budget), split="per_user_time", budget_bytes=budget),
            naive_rerank,
        ),
    }
    for name, (rec, naive) in models.items():
        start = time.perf_counter()
        rec.fit(train)
        print(f"\n{name}: fit {time.perf_counter() - start:.1f} s, peak RSS so far {format_bytes(peak_rss_bytes())}")
        rec.top_n_batch([int(users[0])], args.n)  # warm-up
        ranking_ms, list_ms, naive_ms, kept = [], [], [], []
        for k, user in enumerate(users):
            ours, ms = timed(rec.top_n_batch, [int(user)], args.n)
            ranking_ms.append(ms)
            list_ms.append(timed(explained_list, rec, int(user), args.n, None)[1])
            if k < args.naive_users:
                expected, ms = timed(naive, rec, int(user), args.n)
                naive_ms.append(ms)
                if name == "EASE":
                    assert same_ease_list(rec, int(user), ours["movie_id"].to_numpy(), expected), (
                        f"user {user}: EASE list != dense reference"
                    )
                if expected.size:  # empty when the user rated every movie the model knows
                    kept.append(np.isin(expected, ours["movie_id"].to_numpy()).mean())
        print(f"  ours, ranking only (top_n_batch of one)   {percentiles(ranking_ms)}")
        print(f"  ours, top_n with titles and explanations  {percentiles(list_ms)}")
        print(f"  naive ({len(naive_ms)} users)                      {percentiles(naive_ms)}")
        ratio = np.median(naive_ms) / np.median(ranking_ms[: len(naive_ms)])
        print(f"  ratio naive / ours (median)               {ratio:.2f}x")
        agreement = (
            "identical lists up to 1e-9 ties (asserted)"
            if name == "EASE"
            else f"{np.mean(kept):.1%} of the naive top-{args.n} kept"
        )
        print(f"  agreement                                 {agreement}")
    print(f"\npeak memory (RSS): {format_bytes(peak_rss_bytes())}")


if __name__ == "__main__":
    main()
