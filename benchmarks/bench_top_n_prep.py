"""The top-N stage's train preparation at full size: before and now, same data, outputs compared.

* ``temporal_split`` (the latest 20 % of all ratings by (date, user, movie)): a three-key
  ``np.lexsort`` of every rating (before) against one ``np.partition`` of the dates and a sort of
  the cut day's ratings only (now), on all the ratings;
* ``index_of`` (raw user id -> compact row) of every train rating: a binary search per id
  (before) against a dense table over the ids' range (now);
* ``recency_ranks`` (each rating's count of the user's later ratings, as a CSR): a three-key
  ``np.lexsort`` and scipy's COO -> CSR conversion (before) against one int64 key sort and the
  CSR built directly (now);
* EASE's Gram matrix :math:`X^T X` of the 2,000 most rated movies (``EASE_MAX_ITEMS``): scipy's
  sparse product (before) against ``kernels.pattern_gram``, the counting kernel on two threads (now).

Train is the first 80 % of the ratings of ``scale.py``'s generated folder for ``--fraction``
(``benchmarks/data/scale_F``, written first when missing). Peaks are the process's peak RSS so far
(the new versions run first). Usage: ``python benchmarks/bench_top_n_prep.py [--fraction 0.2]``; the
README's figures are ``--fraction 1``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cfutils.core.matrix import RatingMatrix, index_of
from cfutils.core.memory import format_bytes, peak_rss_bytes
from cfutils.core.similarity.kernels import pattern_gram
from cfutils.core.train_data import TrainData
from cfutils.data import synth
from cfutils.data.io import read_ratings
from cfutils.data.split import _chronological_order, _latest
from cfutils.lists.ease import most_rated
from cfutils.lists.time_features import day_numbers, recency_ranks


def search_index_of(sorted_ids: np.ndarray, raw_ids) -> np.ndarray:
    """``index_of`` before: a binary search per id."""
    raw = np.asarray(raw_ids, dtype=np.int64)
    pos = np.searchsorted(sorted_ids, raw)
    pos_clipped = np.minimum(pos, max(len(sorted_ids) - 1, 0))
    found = (pos < len(sorted_ids)) & (sorted_ids[pos_clipped] == raw)
    return np.where(found, pos, -1).astype(np.int64)


def lexsort_recency_ranks(train, matrix: RatingMatrix) -> sp.csr_matrix:
    """``recency_ranks`` before: a three-key lexsort, then scipy's COO -> CSR conversion."""
    users = search_index_of(matrix.user_ids, train["user_id"].to_numpy())
    movies = search_index_of(matrix.movie_ids, train["movie_id"].to_numpy())
    order = np.lexsort((-movies, -day_numbers(train["date"]), users))
    users, movies = users[order], movies[order]
    later = np.arange(users.size) - np.searchsorted(users, users)
    return sp.csr_matrix((later + 1.0, (users, movies)), shape=matrix.csr.shape)


def lexsort_latest(ratings, n_latest: int) -> np.ndarray:
    """``temporal_split``'s test rows before: the tail of a full three-key lexsort."""
    is_latest = np.zeros(len(ratings), dtype=bool)
    is_latest[_chronological_order(ratings)[len(ratings) - n_latest :]] = True
    return is_latest


def scipy_gram(X: sp.csr_matrix) -> np.ndarray:
    """EASE's Gram before: scipy's sparse product, made dense."""
    return np.asarray((X.T @ X).toarray(), dtype=np.float64)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.2, help="share of Netflix's users and ratings")
    fraction = parser.parse_args(argv).fraction
    data_dir = Path(__file__).resolve().parent / "data" / f"scale_{fraction:g}"
    synth.write_preset(data_dir, synth.NETFLIX.scaled(fraction), progress=True)
    ratings = read_ratings(data_dir, cache=True, cache_dir=data_dir / "parquet_cache", progress=False)
    n_test = int(round(0.2 * len(ratings)))
    new_s, new = timed(_latest, ratings, n_test)
    old_s, old = timed(lexsort_latest, ratings, n_test)
    equal = np.array_equal(new, old)
    print(
        f"temporal_split of {len(ratings):,}: lexsort {old_s:.1f} s, partition {new_s:.1f} s, "
        f"x{old_s / new_s:.1f}; equal {equal}"
    )
    del new, old
    train = ratings.iloc[: int(0.8 * len(ratings))]
    del ratings
    matrix = RatingMatrix.from_ratings(train)
    ids = train["user_id"].to_numpy()
    print(f"{len(train):,} train ratings, {matrix.n_users:,} users; peak so far {format_bytes(peak_rss_bytes())}")
    new_s, new = timed(index_of, matrix.user_ids, ids)
    old_s, old = timed(search_index_of, matrix.user_ids, ids)
    equal = np.array_equal(new, old)
    print(f"index_of: search {old_s:.1f} s, table {new_s:.1f} s, x{old_s / new_s:.1f}; equal {equal}")
    del new, old
    new_s, new = timed(recency_ranks, train, matrix)
    new_peak = peak_rss_bytes()
    old_s, old = timed(lexsort_recency_ranks, train, matrix)
    same_pattern = np.array_equal(new.indptr, old.indptr) and np.array_equal(new.indices, old.indices)
    equal = same_pattern and np.array_equal(new.data, old.data)
    print(
        f"recency_ranks: lexsort {old_s:.1f} s, one key {new_s:.1f} s, x{old_s / new_s:.1f}; equal {equal}; "
        f"peak {format_bytes(new_peak)} after the new one, {format_bytes(peak_rss_bytes())} after the old one"
    )
    del new, old
    items = TrainData(train, matrix).binary[:, most_rated(matrix.movie_counts, 2000)]
    new_s, new = timed(pattern_gram, items)
    old_s, old = timed(scipy_gram, items)
    equal = np.array_equal(new, old)
    print(
        f"EASE Gram of {items.nnz:,} cells: scipy {old_s:.1f} s, kernel {new_s:.1f} s, x{old_s / new_s:.1f}; "
        f"equal {equal}"
    )


if __name__ == "__main__":
    main()
