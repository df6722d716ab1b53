r"""Surprise adapters: a ratings frame as a ``surprise.Trainset``, and batch prediction.

The adapters (:func:`to_trainset`, :func:`inner_ids`, :func:`predict_pairs`) turn a ratings
frame into a ``surprise.Trainset`` and predict a whole frame of pairs at once from the fitted
parameters, with the same clipping and unknown-user/item rules as
Surprise's ``estimate``. ``algo.predict`` costs a Python call per pair (and a Python
top-k per pair for KNNBaseline); the batch route is numpy over all pairs.

Surprise keeps the training set as Python lists of ``(inner_id, rating)`` tuples, twice
(by user and by item), so it needs 160-200 bytes per rating, about nine times the 20-byte
ratings frame; :func:`surprise_bytes_per_rating` measures it. :class:`BiasBaseline` with
``method="als"`` is pure numpy and scales to the full Netflix data.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
import surprise

from cfutils.core.matrix import index_of
from cfutils.core.progress import progress_bar


def rating_scale(ratings: pd.DataFrame) -> tuple[float, float]:
    """The star scale of the data: ``(0.5, top)`` if any half star occurs, else ``(1, top)``.

    ``top`` is the highest rating, at least 5. Netflix gives ``(1.0, 5.0)``, MovieLens
    with half stars ``(0.5, 5.0)``. Predictions are clipped into this interval.
    """
    values = ratings["rating"].to_numpy(np.float64)
    low = 0.5 if np.any(values != np.round(values)) else 1.0
    return low, max(5.0, float(values.max(initial=5.0)))


def to_trainset(ratings: pd.DataFrame, scale: tuple[float, float] | None = None) -> surprise.Trainset:
    """A ``surprise.Trainset`` of the ratings frame; raw ids are the frame's integer ids.

    Inner ids are given in order of first appearance, as Surprise does. ``scale``
    defaults to :func:`rating_scale`. Measured on 200k ratings, Surprise's own
    ``Dataset.load_from_df(...).build_full_trainset()`` takes about 0.4 s (a direct
    build from arrays about 0.15 s); both are small next to any fit, so we use Surprise's.
    """
    reader = surprise.Reader(rating_scale=scale or rating_scale(ratings))
    frame = ratings[["user_id", "movie_id", "rating"]].astype({"user_id": "int64", "movie_id": "int64"})
    return surprise.Dataset.load_from_df(frame, reader).build_full_trainset()


def inner_ids(trainset: surprise.Trainset, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Inner user and item ids of the pairs, ``-1`` where the raw id is not in the trainset."""
    return (
        _lookup(trainset._raw2inner_id_users, pairs["user_id"].to_numpy()),
        _lookup(trainset._raw2inner_id_items, pairs["movie_id"].to_numpy()),
    )


def _lookup(raw2inner: Mapping[int, int], raw: np.ndarray) -> np.ndarray:
    keys = np.fromiter(raw2inner.keys(), dtype=np.int64, count=len(raw2inner))
    values = np.fromiter(raw2inner.values(), dtype=np.int64, count=len(raw2inner))
    order = np.argsort(keys)
    position = index_of(keys[order], raw)
    return np.where(position >= 0, values[order][position], -1)


def raw_ids(trainset: surprise.Trainset) -> tuple[np.ndarray, np.ndarray]:
    """Raw user and item ids indexed by inner id (the inverse of :func:`inner_ids`)."""
    users = np.empty(trainset.n_users, dtype=np.int64)
    users[list(trainset._raw2inner_id_users.values())] = list(trainset._raw2inner_id_users.keys())
    items = np.empty(trainset.n_items, dtype=np.int64)
    items[list(trainset._raw2inner_id_items.values())] = list(trainset._raw2inner_id_items.keys())
    return users, items


def _lists_to_csr(lists: Mapping[int, list], n_rows: int, n_cols: int) -> sp.csr_matrix:
    """CSR of Surprise's ``ur`` or ``ir``, keeping each list's order in its row."""
    lengths = np.array([len(lists[row]) for row in range(n_rows)], dtype=np.int64)
    flat = list(itertools.chain.from_iterable(lists[row] for row in range(n_rows)))
    columns = np.fromiter((c for c, _ in flat), dtype=np.int64, count=len(flat))
    values = np.fromiter((r for _, r in flat), dtype=np.float64, count=len(flat))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    # Built directly (no canonicalisation): the row order is the neighbour order Surprise sees.
    return sp.csr_matrix((values, columns, indptr), shape=(n_rows, n_cols))


def predict_pairs(
    algo: surprise.AlgoBase, pairs: pd.DataFrame, *, chunk_elements: int = 4_000_000, progress: bool = False
) -> np.ndarray:
    r"""Surprise's ``algo.predict(u, i).est`` for every pair, computed in batch.

    BaselineOnly, SVD, SVDpp and KNNBaseline are computed with numpy from the fitted
    parameters, with Surprise's rules: a bias of an unknown user or item is 0; the
    factor term (and the neighbour term) needs both to be known; an impossible
    prediction (unbiased SVD with an unknown id) is :math:`\mu`; the result is clipped
    into the rating scale. Other algorithms fall back to ``algo.predict`` per pair.
    ``chunk_elements`` bounds the candidate-neighbour block of KNNBaseline.
    """
    trainset = algo.trainset
    u, i = inner_ids(trainset, pairs)
    if isinstance(algo, surprise.KNNBaseline):
        est = _knn_baseline_estimates(algo, u, i, chunk_elements, progress)
    elif isinstance(algo, (surprise.BaselineOnly, surprise.SVD, surprise.SVDpp)):
        est = _factor_estimates(algo, u, i)
    else:
        users, movies = pairs["user_id"].tolist(), pairs["movie_id"].tolist()
        rows = progress_bar(zip(users, movies), total=len(users), disable=not progress, desc=type(algo).__name__)
        return np.array([algo.predict(user, movie).est for user, movie in rows])
    return np.clip(est, *trainset.rating_scale)


def _baseline_estimates(algo: surprise.AlgoBase, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    """:math:`\\mu + b_u + b_i`, where the bias of an unknown id (``-1``) is 0."""
    est = np.full(len(u), algo.trainset.global_mean)
    est[u >= 0] += algo.bu[u[u >= 0]]
    est[i >= 0] += algo.bi[i[i >= 0]]
    return est


def _factor_estimates(algo: surprise.AlgoBase, u: np.ndarray, i: np.ndarray) -> np.ndarray:
    both = (u >= 0) & (i >= 0)
    if isinstance(algo, surprise.SVD) and not algo.biased:
        est = np.full(len(u), algo.trainset.global_mean)  # PredictionImpossible -> default_prediction
        est[both] = 0.0
    else:
        est = _baseline_estimates(algo, u, i)
    if isinstance(algo, surprise.BaselineOnly):
        return est
    user_factors = algo.pu
    if isinstance(algo, surprise.SVDpp):
        ts = algo.trainset
        rated = _lists_to_csr(ts.ur, ts.n_users, ts.n_items)
        rated.data[:] = 1.0
        counts = np.diff(rated.indptr)
        user_factors = algo.pu + (rated @ algo.yj) / np.sqrt(counts)[:, None]
    est[both] += np.einsum("nf,nf->n", algo.qi[i[both]], user_factors[u[both]])
    return est


def _knn_baseline_estimates(
    algo: surprise.KNNBaseline, u: np.ndarray, i: np.ndarray, chunk_elements: int, progress: bool
) -> np.ndarray:
    """KNNBaseline's ``estimate`` for all pairs, grouped by the item (or user) ``y``.

    Surprise takes ``heapq.nlargest(k)`` of the neighbours ``x2`` in ``yr[y]`` by
    similarity (ties: earlier in the list first), then keeps those with ``sim > 0``.
    Here: all pairs with the same ``y`` form a block ``sim[x, yr[y]]``; per row, values
    above the k-th largest are kept, and of the values equal to it the first ones in list
    order, until k are kept. That is the same set, so the result equals Surprise's up to
    floating-point summation order.
    """
    ts = algo.trainset
    est = _baseline_estimates(algo, u, i)
    user_based = algo.sim_options["user_based"]
    x, y = (u, i) if user_based else (i, u)
    n_y, n_x = (ts.n_items, ts.n_users) if user_based else (ts.n_users, ts.n_items)
    neighbours = _lists_to_csr(algo.yr, n_y, n_x)
    by = algo.bi if user_based else algo.bu
    bx = algo.bu if user_based else algo.bi
    both = np.flatnonzero((u >= 0) & (i >= 0))
    order = both[np.argsort(y[both], kind="stable")]
    starts = np.flatnonzero(np.r_[True, np.diff(y[order]) != 0]) if len(order) else np.array([], int)
    groups = np.split(order, starts[1:])
    for rows in progress_bar(groups, disable=not progress, desc=f"KNNBaseline ({'users' if user_based else 'items'})"):
        target = y[rows[0]]
        lo, hi = neighbours.indptr[target], neighbours.indptr[target + 1]
        others, ratings = neighbours.indices[lo:hi], neighbours.data[lo:hi]
        deviations = ratings - (ts.global_mean + bx[others] + by[target])
        step = max(1, chunk_elements // max(1, hi - lo))
        for start in range(0, len(rows), step):
            block = rows[start : start + step]
            est[block] += _neighbour_term(algo.sim[np.ix_(x[block], others)], deviations, algo.k, algo.min_k)
    return est


def _neighbour_term(sims: np.ndarray, deviations: np.ndarray, k: int, min_k: int) -> np.ndarray:
    """Per row: sum(sim * dev) / sum(sim) over the top-k positive sims; 0 if fewer than min_k."""
    if sims.shape[1] > k:
        kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1 : k]
        ties = sims == kth
        room = k - (sims > kth).sum(axis=1, keepdims=True)
        top = (sims > kth) | (ties & (np.cumsum(ties, axis=1) <= room))
    else:
        top = np.ones(sims.shape, dtype=bool)
    keep = top & (sims > 0)
    weights = np.where(keep, sims, 0.0)
    sum_sim = weights.sum(axis=1)
    term = np.divide(weights @ deviations, sum_sim, out=np.zeros(len(sims)), where=sum_sim > 0)
    return np.where(keep.sum(axis=1) < min_k, 0.0, term)


def surprise_bytes_per_rating(ratings: pd.DataFrame) -> float:
    """Bytes of Python objects a Surprise trainset of ``ratings`` holds per rating (``tracemalloc``)."""
    tracemalloc.start()
    try:
        trainset = to_trainset(ratings)
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del trainset
    return held / len(ratings)
