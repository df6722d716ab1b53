"""Small ratings frames for tests, in the contract dtypes, built by hand or by hypothesis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import strategies as st

DAY = np.timedelta64(1, "D")
START = np.datetime64("2000-01-01", "s")


def ratings_frame(users, movies, ratings, days=None) -> pd.DataFrame:
    """A ratings frame from parallel lists; ``days`` counts days after 2000-01-01 (default 0)."""
    days = np.zeros(len(users), dtype=np.int64) if days is None else np.asarray(days, dtype=np.int64)
    return pd.DataFrame(
        {
            "user_id": np.asarray(users, dtype=np.int32),
            "movie_id": np.asarray(movies, dtype=np.int32),
            "rating": np.asarray(ratings, dtype=np.float32),
            "date": (START + days * DAY).astype("datetime64[s]"),
        }
    )


@st.composite
def ratings_frames(draw, max_users: int = 12, max_movies: int = 10, min_size: int = 1) -> pd.DataFrame:
    """Random ratings frames without duplicate (user, movie) pairs, on sparse raw ids."""
    cells = draw(
        st.sets(
            st.tuples(st.integers(0, max_users - 1), st.integers(0, max_movies - 1)),
            min_size=min_size,
            max_size=max_users * max_movies,
        )
    )
    cells = sorted(cells)
    n = len(cells)
    users = np.array([c[0] for c in cells]) * 7 + 3  # sparse, non-contiguous raw ids
    movies = np.array([c[1] for c in cells]) * 5 + 1
    stars = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    days = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))
    frame = ratings_frame(users, movies, stars, days)
    return frame.iloc[list(order)].reset_index(drop=True)


def random_ratings(
    n_users: int = 40,
    n_movies: int = 25,
    n_ratings: int = 300,
    seed: int = 0,
    n_days: int = 100,
    half_stars: bool = False,
) -> pd.DataFrame:
    """``n_ratings`` distinct (user, movie) pairs drawn uniformly, on sparse raw ids (user ``3u + 11``,
    movie ``7m + 2``); stars are a user effect plus a movie effect plus noise, rounded to whole (or
    half) stars in the scale, and days are uniform in ``0 .. n_days - 1``."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(n_users * n_movies, size=n_ratings, replace=False)
    users, movies = cells // n_movies, cells % n_movies
    score = (
        3.5 + rng.normal(0, 0.6, n_users)[users] + rng.normal(0, 0.6, n_movies)[movies] + rng.normal(0, 0.7, n_ratings)
    )
    step = 0.5 if half_stars else 1.0
    stars = np.clip(np.round(score / step) * step, step, 5)
    return ratings_frame(users * 3 + 11, movies * 7 + 2, stars, rng.integers(0, n_days, n_ratings))


def write_fixed_split(ratings: pd.DataFrame, base_path: Path, test_size: float = 0.2, seed: int = 0) -> Path:
    """A MovieLens 100K-style fixed split of ``ratings``: a seeded random ``test_size`` of them in the
    ``.test`` file beside ``base_path`` (e.g. ``u1.base``), the rest in ``base_path``, both in
    ``u.data`` format (user, movie, stars, unix seconds, tab-separated). Returns ``base_path``."""
    from cfutils.data.split import random_split

    for part, path in zip(random_split(ratings, test_size, seed), (base_path, base_path.with_suffix(".test"))):
        seconds = part["date"].to_numpy().astype("datetime64[s]").astype(np.int64)
        rows = zip(part["user_id"], part["movie_id"], part["rating"], seconds)
        path.write_text("".join(f"{u}\t{i}\t{int(r)}\t{t}\n" for u, i, r, t in rows))
    return base_path
