"""Netflix-sized random rating matrices with realistic heavy-tailed degrees, for the similarity benchmarks.

The cost of a Gram product ``X @ X.T`` is driven by the second moment of the degrees of the *other*
axis (movie-movie costs ``sum_u d_u**2``, user-user costs ``sum_m d_m**2``), so a uniform random matrix
with the right nnz would be far too easy. The degrees here follow log-normal laws fitted to the real
Netflix Prize figures:

* users: median 96, mean 209 ratings, at most 17,653 (the real maximum);
* movies: popularity weights with median/mean 561/5,654, capped so that no movie holds more than
  the real maximum share (232,944 of 100,480,507 ratings).

Each user draws its movies in proportion to popularity (see ``_draw_chunk``), so the realised nnz is
close to, and at most, the target (the benchmark prints it).
Ratings follow the Netflix marginal distribution of 1..5 stars.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from cfutils.data.synth import NETFLIX, STAR_SHARES

NETFLIX_USERS, NETFLIX_MOVIES, NETFLIX_RATINGS = NETFLIX.n_users, NETFLIX.n_movies, NETFLIX.n_ratings
_USER_MEDIAN, _USER_MEAN, _USER_MAX = 96, 209, 17_653
_MOVIE_MEDIAN, _MOVIE_MEAN, _MOVIE_MAX = 561, 5_654, 232_944
_HEAVY_USER = 1_000  # users with more ratings draw without replacement
_STAR_SHARES = np.array(STAR_SHARES)


def netflix_like_matrix(fraction: float = 1.0, seed: int = 0, chunk_users: int = 20_000) -> sp.csr_matrix:
    """Users x movies CSR (float32 stars 1..5) with ``fraction`` of Netflix's users and ratings, all movies.

    Scaling users and ratings together keeps the per-user degree law, so movie-movie cost grows
    like ``fraction`` and user-user cost like ``fraction**2``.
    """
    rng = np.random.default_rng(seed)
    n_users = max(1, round(NETFLIX_USERS * fraction))
    degrees = _user_degrees(rng, n_users, round(NETFLIX_RATINGS * fraction))
    popularity = _movie_popularity(rng)
    indptr = [np.zeros(1, np.int64)]
    indices = []
    offset = 0
    for start in range(0, n_users, chunk_users):
        keys = _draw_chunk(rng, degrees[start : start + chunk_users], popularity)
        counts = np.bincount(keys // NETFLIX_MOVIES, minlength=min(chunk_users, n_users - start))
        indptr.append(offset + np.cumsum(counts))
        offset += keys.size
        indices.append((keys % NETFLIX_MOVIES).astype(np.int32))
    indices = np.concatenate(indices)
    stars = rng.choice(np.arange(1, 6, dtype=np.float32), size=indices.size, p=_STAR_SHARES / _STAR_SHARES.sum())
    return sp.csr_matrix((stars, indices, np.concatenate(indptr)), shape=(n_users, NETFLIX_MOVIES))


def _draw_chunk(rng: np.random.Generator, degrees: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """Sorted unique keys ``user * n_movies + movie`` for one chunk of users.

    Heavy users draw without replacement (exact degree); the others draw with replacement and
    redraw once what duplicates cost them (about 2 % of the ratings are lost).
    """
    cdf = np.cumsum(popularity)
    cdf /= cdf[-1]
    users = np.arange(degrees.size, dtype=np.int64)
    heavy = degrees > _HEAVY_USER
    parts = [
        u * NETFLIX_MOVIES + rng.choice(NETFLIX_MOVIES, d, replace=False, p=popularity)
        for u, d in zip(users[heavy], degrees[heavy])
    ]
    missing = np.where(heavy, 0, degrees)
    for _ in range(2):
        rows = np.repeat(users, missing)
        parts.append(rows * NETFLIX_MOVIES + np.searchsorted(cdf, rng.random(rows.size), side="right"))
        keys = np.unique(np.concatenate(parts))
        parts = [keys]
        missing = np.maximum(degrees - np.bincount(keys // NETFLIX_MOVIES, minlength=degrees.size), 0)
    return keys


def _user_degrees(rng: np.random.Generator, n_users: int, n_ratings: int) -> np.ndarray:
    sigma = np.sqrt(2 * np.log(_USER_MEAN / _USER_MEDIAN))
    raw = rng.lognormal(np.log(_USER_MEDIAN), sigma, n_users)
    degrees = np.clip(np.rint(raw * n_ratings / raw.sum()), 1, _USER_MAX)
    return degrees.astype(np.int64)


def _movie_popularity(rng: np.random.Generator) -> np.ndarray:
    sigma = np.sqrt(2 * np.log(_MOVIE_MEAN / _MOVIE_MEDIAN))
    weights = rng.lognormal(0.0, sigma, NETFLIX_MOVIES)
    cap = _MOVIE_MAX / NETFLIX_RATINGS
    for _ in range(20):  # clip the heaviest movies to the real maximum share, then renormalise
        weights = np.minimum(weights / weights.sum(), cap)
    return weights / weights.sum()


def degree_summary(X: sp.csr_matrix) -> dict:
    """Median / mean / max degree of rows and columns, and the Gram costs ``sum d**2`` of each axis."""
    rows = np.diff(X.indptr)
    cols = np.bincount(X.indices, minlength=X.shape[1])
    return {
        "shape": X.shape,
        "nnz": int(X.nnz),
        "user_degree_median_mean_max": (float(np.median(rows)), float(rows.mean()), int(rows.max())),
        "movie_degree_median_mean_max": (float(np.median(cols)), float(cols.mean()), int(cols.max())),
        "movie_movie_flops": float(np.sum(rows.astype(np.float64) ** 2)),
        "user_user_flops": float(np.sum(cols.astype(np.float64) ** 2)),
    }
