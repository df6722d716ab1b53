"""Descriptive statistics of ratings: sparsity, averages, cold start, a split at a glance, the long tail."""

from __future__ import annotations

import pandas as pd

from cfutils.core.matrix import RatingMatrix


def sparsity(matrix: RatingMatrix) -> float:
    r"""Share of empty cells, :math:`1 - \frac{|R|}{|U| \cdot |I|}` (1.0 for an empty matrix)."""
    cells = matrix.n_users * matrix.n_movies
    return 1.0 - matrix.nnz / cells if cells else 1.0


def dense_bytes(matrix: RatingMatrix, itemsize: int = 4) -> int:
    """Bytes a dense ``n_users x n_movies`` array of ``itemsize``-byte cells would take."""
    return matrix.n_users * matrix.n_movies * itemsize


def averages(matrix: RatingMatrix) -> dict[str, object]:
    r"""The tutorial's three averages, computed over rated cells only.

    - global: :math:`\mu = \sum r_{ui} / |R|`
    - per user: :math:`\bar r_u = \sum_{i \in I_u} r_{ui} / |I_u|`, a Series indexed by raw ``user_id``
    - per movie: :math:`\bar r_i = \sum_{u \in U_i} r_{ui} / |U_i|`, a Series indexed by raw ``movie_id``

    (The tutorial's "global average" feature column held each movie's mean; this is the real one.)
    """
    return {
        "global": matrix.global_mean,
        "user": pd.Series(matrix.user_means(), index=pd.Index(matrix.user_ids, name="user_id"), name="user_mean"),
        "movie": pd.Series(matrix.movie_means(), index=pd.Index(matrix.movie_ids, name="movie_id"), name="movie_mean"),
    }


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def cold_start_report(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float | int]:
    """How much of the test set the training data has never seen.

    Counts test users (movies) absent from train, with percentages of all test users
    (movies), and test ratings whose user, movie, or either is unseen, with percentages
    of all test ratings. Keys: ``test_users``, ``new_users``, ``new_users_pct``,
    ``test_movies``, ``new_movies``, ``new_movies_pct``, ``test_ratings``,
    ``ratings_new_user``, ``ratings_new_user_pct``, ``ratings_new_movie``,
    ``ratings_new_movie_pct``, ``ratings_cold``, ``ratings_cold_pct``.
    """
    new_user_row = ~test["user_id"].isin(train["user_id"].unique()).to_numpy()
    new_movie_row = ~test["movie_id"].isin(train["movie_id"].unique()).to_numpy()
    test_users = test["user_id"].nunique()
    test_movies = test["movie_id"].nunique()
    new_users = test.loc[new_user_row, "user_id"].nunique()
    new_movies = test.loc[new_movie_row, "movie_id"].nunique()
    n = len(test)
    counts = {
        "ratings_new_user": int(new_user_row.sum()),
        "ratings_new_movie": int(new_movie_row.sum()),
        "ratings_cold": int((new_user_row | new_movie_row).sum()),
    }
    report: dict[str, float | int] = {
        "test_users": int(test_users),
        "new_users": int(new_users),
        "new_users_pct": _percent(new_users, test_users),
        "test_movies": int(test_movies),
        "new_movies": int(new_movies),
        "new_movies_pct": _percent(new_movies, test_movies),
        "test_ratings": int(n),
    }
    for key, value in counts.items():
        report[key] = value
        report[f"{key}_pct"] = _percent(value, n)
    return report


def _date_range(ratings: pd.DataFrame) -> str:
    return f"{ratings['date'].min():%Y-%m-%d} .. {ratings['date'].max():%Y-%m-%d}" if len(ratings) else "-"


def split_summary(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, object]:
    """A train/test split at a glance: its sizes, date ranges, cold start and overlap in time.

    Keys: ``train ratings``, ``test ratings``, ``train dates`` and ``test dates`` (``"first .. last"``,
    ``"-"`` when empty), ``test movies never seen in train (%)`` and ``test users never seen in
    train (%)`` (:func:`cold_start_report`'s ``new_movies_pct`` and ``new_users_pct``), and
    ``test ratings older than the newest train rating (%)`` (0 for an empty test set): above 0,
    a model trained on this split learns from ratings made after some it is tested on.
    """
    cold = cold_start_report(train, test)
    older = 100 * (test["date"] < train["date"].max()).mean() if len(test) else 0.0
    return {
        "train ratings": len(train),
        "test ratings": len(test),
        "train dates": _date_range(train),
        "test dates": _date_range(test),
        "test movies never seen in train (%)": cold["new_movies_pct"],
        "test users never seen in train (%)": cold["new_users_pct"],
        "test ratings older than the newest train rating (%)": older,
    }


def top_decile_share(counts: pd.Series) -> float:
    r"""Share (%) of the total held by the largest tenth of ``counts``: :math:`100 \sum_{top} c / \sum c`.

    The top tenth is the :math:`\lceil n / 10 \rceil` largest counts (at least one), e.g. the
    ratings given by the most active 10 % of users.
    """
    return 100 * counts.nlargest(max(1, -(-len(counts) // 10))).sum() / counts.sum()
