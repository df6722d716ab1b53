r"""Error metrics for predicted ratings and ranking metrics for top-N lists.

Rating prediction (the tutorial's metrics)
------------------------------------------
:func:`rmse` and :func:`mape` compare predicted with true ratings, row by row.
:func:`warm_cold_errors` gives both for several models on all test rows, on the *warm* rows
(user and movie both in train) and on the *cold* ones; :func:`warm_cold_table` lays them out
one row per model.

Ranking (what a recommendation list is judged by)
-------------------------------------------------
A batch of top-N lists is a 2-D integer array ``recommended`` of raw movie ids,
one row per user and one column per rank (rank 1 first), padded on the right with
``-1`` when a list is shorter than N. :func:`as_padded_array` builds it from the long
frame ``[user_id, rank, movie_id]`` that :meth:`cfutils.lists.Recommender.top_n_batch`
returns. A dense array makes every metric a handful of vectorised numpy operations
over all users at once.

The *relevant* items of user :math:`u` are :math:`T_u`, the movies the user rated at
least ``threshold`` (4 stars by default) in the test set. :func:`hit_matrix` turns the
lists and the test ratings into ``hits[u, r] = recommended[u, r] in T_u`` and
:math:`|T_u|`. With :math:`h_{u,r}` for a hit at rank :math:`r` (1-based) and
:math:`k` the cut-off:

=================  =====================================================================
precision@k        :math:`\frac{1}{k}\sum_{r \le k} h_{u,r}` (a list shorter than k is
                   penalised: its padding counts as misses)
recall@k           :math:`\frac{1}{|T_u|}\sum_{r \le k} h_{u,r}`
NDCG@k             :math:`\mathrm{DCG}/\mathrm{IDCG}` with
                   :math:`\mathrm{DCG} = \sum_{r \le k} h_{u,r} / \log_2(r + 1)` and the
                   ideal :math:`\mathrm{IDCG} = \sum_{r \le \min(k, |T_u|)} 1/\log_2(r+1)`
                   (binary relevance; the ideal list puts all of :math:`T_u` first)
AP@k (MAP@k)       :math:`\frac{1}{\min(k, |T_u|)}\sum_{r \le k} h_{u,r}\,\mathrm{precision@}r`
                   (the ``apk`` of Kaggle's ml_metrics)
=================  =====================================================================

**Averaging.** :func:`ranking_metrics` averages each per-user value over the users
with at least one relevant test item (:math:`|T_u| \ge 1`); the others have no right
answer, so they carry no information about the list. A user with relevant items but
no list (not in ``recommended``) scores 0: the recommender failed that user. Each
user weighs the same (a macro average), so heavy users do not dominate.

Beyond accuracy: :func:`catalogue_coverage` (the share of the catalogue that appears
in any list) and :func:`mean_popularity` (the mean train rating count of the
recommended items, a measure of popularity bias).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cfutils.core.matrix import index_of

PAD = -1
"""Movie id that fills a list shorter than N."""


def _as_float_pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.size} != {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("cannot compute an error over zero ratings")
    return y_true, y_pred


def rmse(y_true, y_pred) -> float:
    r"""Root mean squared error :math:`\sqrt{\frac{1}{n}\sum_i (y_i - \hat y_i)^2}`.

    Raises ``ValueError`` for inputs of different lengths or of length 0.
    """
    y_true, y_pred = _as_float_pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mape(y_true, y_pred) -> float:
    r"""Mean absolute percentage error :math:`\frac{100}{n}\sum_i |y_i - \hat y_i| / y_i`.

    The tutorial's definition, in percent. Ratings are positive (1..5 stars, or 0.5..5),
    so ``y_true <= 0`` is an error (``ValueError``) rather than a silent infinity.
    """
    y_true, y_pred = _as_float_pair(y_true, y_pred)
    if np.any(y_true <= 0):
        raise ValueError("mape is undefined for true values <= 0")
    return float(np.mean(np.abs(y_true - y_pred) / y_true) * 100.0)


def quiz_rmse(predictions: dict[str, np.ndarray], answers: pd.Series, qualifying: pd.DataFrame) -> pd.Series:
    r"""Each model's RMSE :math:`\sqrt{\frac{1}{n}\sum (r_{ui} - \hat r_{ui})^2}` over the rows of
    ``qualifying`` (``predictions[name][j]`` is row ``j``'s), against ``answers`` (indexed like
    the full qualifying frame, as :func:`cfutils.data.io.prize.read_qualifying_predictions` reads it). The
    Prize's leaderboard scored a random half of the qualifying set, the quiz set; generated data
    scores the whole set, which plays the same role."""
    truth = answers.loc[qualifying.index].to_numpy(np.float64)
    return pd.Series({name: rmse(truth, values) for name, values in predictions.items()}, dtype=np.float64)


ROW_PARTS = ("all", "warm", "cold")
"""The parts of a test set that :func:`warm_cold_errors` scores apart."""


def warm_cold_errors(y_true, predictions: Mapping[str, object], cold) -> pd.DataFrame:
    """RMSE and MAPE of each model's predictions on all test rows, on the warm rows and on the cold rows.

    ``predictions`` maps a model's name to its predictions, aligned with ``y_true``; ``cold`` is
    the boolean mask of the cold rows (user or movie without a training rating, as
    :func:`cfutils.rating.models.is_cold` gives it), the warm rows are the others. Returns a long frame,
    one row per model and part, models in the order given and parts in :data:`ROW_PARTS` order:
    ``model``, ``rows`` (``"all"``, ``"warm"`` or ``"cold"``), ``n`` (the rows in that part),
    ``rmse`` and ``mape`` over those rows (:func:`rmse`, :func:`mape`). A part without rows is left out.
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    cold = np.asarray(cold, dtype=bool).ravel()
    if cold.shape != y_true.shape:
        raise ValueError(f"cold has {cold.size} rows, y_true {y_true.size}")
    masks = dict(zip(ROW_PARTS, (np.ones_like(cold), ~cold, cold)))
    rows = []
    for model, prediction in predictions.items():
        prediction = np.asarray(prediction, dtype=np.float64).ravel()
        if prediction.shape != y_true.shape:
            raise ValueError(
                f"predictions of {model!r} differ in length from y_true: {prediction.size} != {y_true.size}"
            )
        for part, mask in masks.items():
            if mask.any():
                rows.append(
                    {
                        "model": model,
                        "rows": part,
                        "n": int(mask.sum()),
                        "rmse": rmse(y_true[mask], prediction[mask]),
                        "mape": mape(y_true[mask], prediction[mask]),
                    }
                )
    return pd.DataFrame(rows, columns=["model", "rows", "n", "rmse", "mape"])


def warm_cold_table(
    y_true,
    predictions: Mapping[str, object],
    cold,
    columns: Sequence[str] = ("test_rmse", "test_mape", "warm_rmse", "cold_rmse"),
) -> pd.DataFrame:
    """:func:`warm_cold_errors` as one row per model (index ``model``, in the order given).

    Column ``f"{part}_{metric}"`` holds ``metric`` (``rmse`` or ``mape``) on ``part``, where
    ``test`` names all rows: ``test_rmse``, ``test_mape``, ``warm_rmse``, ``warm_mape``,
    ``cold_rmse``, ``cold_mape``. ``columns`` picks and orders them; a part without rows is NaN.
    """
    errors = warm_cold_errors(y_true, predictions, cold)
    table = pd.DataFrame(index=pd.Index(list(predictions), name="model"))
    for part, metric in (name.rsplit("_", 1) for name in columns):
        if metric not in ("rmse", "mape") or part not in ("test", "warm", "cold"):
            raise ValueError(f"unknown column {part}_{metric}: expected test|warm|cold _ rmse|mape")
        found = errors[errors["rows"] == ("all" if part == "test" else part)].set_index("model")[metric]
        table[f"{part}_{metric}"] = found.reindex(table.index).astype(np.float64)
    return table


def as_padded_array(recommendations: pd.DataFrame, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Long frame ``[user_id, rank, movie_id]`` (rank 1-based) -> ``(user_ids, recommended)``.

    ``user_ids`` are the sorted distinct users; ``recommended[i, r - 1]`` is the movie at
    rank ``r`` for ``user_ids[i]``, padded with ``-1``. ``n`` defaults to the largest rank;
    ranks above ``n`` are dropped.
    """
    user_ids = np.unique(recommendations["user_id"].to_numpy())
    rows = index_of(user_ids, recommendations["user_id"].to_numpy())
    ranks = recommendations["rank"].to_numpy(dtype=np.int64)
    if ranks.size and ranks.min() < 1:
        raise ValueError("ranks are 1-based")
    n = int(ranks.max(initial=0)) if n is None else int(n)
    keep = ranks <= n
    recommended = np.full((user_ids.size, n), PAD, dtype=np.int64)
    recommended[rows[keep], ranks[keep] - 1] = recommendations["movie_id"].to_numpy()[keep]
    return user_ids, recommended


def hit_matrix(
    user_ids, recommended: np.ndarray, test: pd.DataFrame, threshold: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """Hits of the lists against the relevant test items, and the number of relevant items.

    Returns ``(hits, n_relevant)``: ``hits[i, r]`` is True when ``recommended[i, r]`` is a
    movie that ``user_ids[i]`` rated ``>= threshold`` in ``test``; ``n_relevant[i]`` is the
    number of such movies (:math:`|T_u|`). Padding (``-1``) is never a hit. A movie repeated
    in one list would count twice: lists from :mod:`cfutils.lists` never repeat one.
    """
    user_ids = np.asarray(user_ids, dtype=np.int64)
    recommended = np.asarray(recommended, dtype=np.int64)
    if recommended.ndim != 2 or recommended.shape[0] != user_ids.size:
        raise ValueError(f"recommended must be 2-D with one row per user, got shape {recommended.shape}")
    relevant = test[test["rating"].to_numpy() >= threshold]
    rel_users = relevant["user_id"].to_numpy(dtype=np.int64)
    rel_movies = relevant["movie_id"].to_numpy(dtype=np.int64)
    width = max(int(rel_movies.max(initial=0)), int(recommended.max(initial=0))) + 1
    # One int64 key per (user, movie) pair; padding maps to a negative key that never matches.
    rel_keys = rel_users * width + rel_movies
    rec_keys = np.where(recommended >= 0, user_ids[:, None] * width + recommended, -1)
    hits = np.isin(rec_keys, rel_keys)
    rel_user_ids, rel_counts = np.unique(rel_users, return_counts=True)
    pos = index_of(rel_user_ids, user_ids)
    n_relevant = np.where(pos >= 0, rel_counts[np.maximum(pos, 0)] if rel_counts.size else 0, 0)
    return hits, n_relevant.astype(np.int64)


def _cut(hits: np.ndarray, k: int) -> np.ndarray:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return np.asarray(hits, dtype=bool)[:, :k]


def _discounts(k: int) -> np.ndarray:
    """:math:`1/\\log_2(r + 1)` for ranks r = 1..k."""
    return 1.0 / np.log2(np.arange(2, k + 2))


def precision_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-user precision@k = (hits in the first k) / k. See the module docstring."""
    return _cut(hits, k).sum(axis=1) / k


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-user recall@k = (hits in the first k) / |T_u|; 0 where |T_u| = 0."""
    n_relevant = np.asarray(n_relevant)
    return np.divide(_cut(hits, k).sum(axis=1), n_relevant, out=np.zeros(n_relevant.shape), where=n_relevant > 0)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-user binary NDCG@k = DCG@k / IDCG@k; 0 where |T_u| = 0. See the module docstring."""
    top = _cut(hits, k)
    discounts = _discounts(k)
    dcg = top @ discounts[: top.shape[1]]
    ideal = np.r_[0.0, np.cumsum(discounts)][np.minimum(np.asarray(n_relevant), k)]
    return np.divide(dcg, ideal, out=np.zeros(dcg.shape), where=ideal > 0)


def average_precision_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Per-user AP@k = sum of precision@r at each hit rank r <= k, over min(k, |T_u|); 0 where |T_u| = 0."""
    top = _cut(hits, k)
    precision_at_each_rank = np.cumsum(top, axis=1) / np.arange(1, top.shape[1] + 1)
    denominator = np.minimum(np.asarray(n_relevant), k)
    total = (precision_at_each_rank * top).sum(axis=1)
    return np.divide(total, denominator, out=np.zeros(total.shape), where=denominator > 0)


RANKING_METRICS = {
    "ndcg": ndcg_at_k,
    "precision": precision_at_k,
    "recall": recall_at_k,
    "map": average_precision_at_k,
}
"""Name -> per-user metric function; :func:`ranking_metrics` reports ``f"{name}@{k}"``."""


def ranking_by_user(
    recommendations: pd.DataFrame, test: pd.DataFrame, ks=(10,), threshold: float = 4.0
) -> pd.DataFrame:
    """Per-user NDCG, precision, recall and AP at each cut-off in ``ks``: one row per user of ``test``
    with at least one rating ``>= threshold`` (index ``user_id``), one column ``f"{name}@{k}"`` per
    metric. ``recommendations`` is the long frame ``[user_id, rank, movie_id]``; a user without a
    list scores 0 (see the module docstring)."""
    ks = [int(k) for k in ks]
    relevant_users = np.unique(test.loc[test["rating"].to_numpy() >= threshold, "user_id"].to_numpy())
    listed_users, listed = as_padded_array(recommendations, n=max(ks))
    recommended = np.full((relevant_users.size, max(ks)), PAD, dtype=np.int64)
    row_of_listed = index_of(listed_users, relevant_users)
    recommended[row_of_listed >= 0] = listed[row_of_listed[row_of_listed >= 0]]
    hits, n_relevant = hit_matrix(relevant_users, recommended, test, threshold)
    return pd.DataFrame(
        {f"{name}@{k}": metric(hits, n_relevant, k) for k in ks for name, metric in RANKING_METRICS.items()},
        index=pd.Index(relevant_users, name="user_id"),
    )


def ranking_metrics(
    recommendations: pd.DataFrame, test: pd.DataFrame, ks=(10,), threshold: float = 4.0
) -> dict[str, float]:
    """NDCG, precision, recall and MAP at each cut-off in ``ks``: the means over users of
    :func:`ranking_by_user`. The average runs over the users of ``test`` with at least one rating
    ``>= threshold``; such a user without a list scores 0 (see the module docstring). Also returns
    ``n_users``, the number of users averaged over. With no such user every metric is NaN.
    """
    by_user = ranking_by_user(recommendations, test, ks, threshold)
    result = {name: float(values.mean()) if len(values) else float("nan") for name, values in by_user.items()}
    result["n_users"] = len(by_user)
    return result


def catalogue_coverage(recommended: np.ndarray, catalogue) -> float:
    """Share of the catalogue that appears in at least one list: |distinct recommended ∩ catalogue| / |catalogue|.

    ``catalogue`` is the array of movie ids that could be recommended (usually the
    movies of train). Padding and ids outside the catalogue are ignored. NaN for an
    empty catalogue.
    """
    catalogue = np.unique(np.asarray(catalogue))
    if catalogue.size == 0:
        return float("nan")
    shown = np.unique(np.asarray(recommended).ravel())
    return float(np.isin(catalogue, shown).sum() / catalogue.size)


def item_popularity(train: pd.DataFrame) -> pd.Series:
    """Number of train ratings of each movie (index ``movie_id``), the popularity used below."""
    return train["movie_id"].value_counts().rename("popularity")


def mean_popularity(recommended: np.ndarray, popularity: pd.Series) -> float:
    """Mean popularity (train rating count) of the recommended items, padding excluded.

    A movie missing from ``popularity`` counts as 0 ratings. Compare it with the
    catalogue's mean popularity to read the popularity bias of a recommender.
    NaN if no item was recommended.
    """
    ids = np.asarray(recommended).ravel()
    ids = ids[ids != PAD]
    if ids.size == 0:
        return float("nan")
    return float(popularity.reindex(ids, fill_value=0).to_numpy(dtype=np.float64).mean())


def list_report(
    recommendations: pd.DataFrame, test: pd.DataFrame, popularity: pd.Series, ks=(10,), threshold: float = 4.0
) -> dict[str, float]:
    """:func:`ranking_metrics` plus ``coverage`` (of the movies in ``popularity``, i.e. of train)
    and ``mean_popularity`` of the recommended items, for one recommender's lists."""
    _, recommended = as_padded_array(recommendations)
    return {
        **ranking_metrics(recommendations, test, ks, threshold),
        "coverage": catalogue_coverage(recommended, popularity.index.to_numpy()),
        "mean_popularity": mean_popularity(recommended, popularity),
    }
