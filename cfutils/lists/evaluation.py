"""Judging lists honestly: validation cuts from train, known and new users apart, candidate recall.

* :func:`cfutils.data.split.validation_cut` with ``lists=True`` cuts a validation part from *train* by the
  package's one rule for lists (:func:`cfutils.data.split.validation_split_for`: the test split's own
  rule, so validation holds out the kind of movies test does); every choice (λ, the best
  recommender, the re-ranker's training) is made there, never on test.
* :class:`FoldValidation` holds several such cuts (:func:`cfutils.data.split.validation_folds`, rolling
  origin) and scores a user by the mean over them, so that a choice rests on more than one window.
* :func:`list_reports` evaluates one recommender on all, known and new users: every recommender
  serves new users the same fallback, so only the known users tell recommenders apart.
* :func:`candidate_recall` is the share of a user's relevant test movies among the stage-1
  candidates, averaged over known users with at least one relevant movie: no re-ranker can do
  better than its candidates.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from cfutils.core.train_data import TrainData
from cfutils.data.split import Split, SplitMethod, sample_ids, validation_folds
from cfutils.eval.choice import GridSearch, search_grid
from cfutils.eval.metrics import list_report, ranking_by_user
from cfutils.lists.lists import ListRecommender, as_user_ids, batch_size

USER_GROUPS = ("all", "known", "new")


def list_reports(
    lists: pd.DataFrame,
    test: pd.DataFrame,
    train: pd.DataFrame,
    popularity: pd.Series,
    ks=(10,),
    threshold: float = 4.0,
) -> dict[str, dict[str, float]]:
    """:func:`cfutils.eval.metrics.list_report` of the lists on all test users, on those known to train and
    on new ones."""
    known = test["user_id"].isin(train["user_id"]).to_numpy()
    reports = {}
    for group, rows in zip(USER_GROUPS, (np.ones(len(test), bool), known, ~known)):
        part = test[rows]
        reports[group] = list_report(lists[lists["user_id"].isin(part["user_id"])], part, popularity, ks, threshold)
    return reports


def validation_ndcg(
    recommender: ListRecommender, validation: pd.DataFrame, n: int = 10, threshold: float = 4.0
) -> float:
    """NDCG@n of a recommender (already fit on the fit part) on the validation users: the mean of
    :func:`validation_ndcg_by_user`."""
    return float(validation_ndcg_by_user(recommender, validation, n, threshold).mean())


def validation_ndcg_by_user(
    recommender: ListRecommender, validation: pd.DataFrame, n: int = 10, threshold: float = 4.0
) -> pd.Series:
    """Each validation user's NDCG@n (users with a relevant validation movie), for intervals and the
    one-standard-error rule (:func:`cfutils.eval.one_standard_error`)."""
    users = np.unique(validation["user_id"].to_numpy())
    return ranking_by_user(recommender.top_n_batch(users, n), validation, (n,), threshold)[f"ndcg@{n}"]


class FoldValidation:
    r"""Rolling-origin validation folds of one train set for lists, each fold's matrices built once.

    Fold :math:`k` fits on :math:`F_k` and validates on :math:`V_k`
    (:func:`cfutils.data.split.validation_folds` with ``lists=True``). A user's score is the mean
    over the folds :math:`K_u` where the user has a relevant validation movie,
    :math:`s_u = \frac{1}{|K_u|}\sum_{k \in K_u} \mathrm{NDCG@}n(u; F_k, V_k)` (NDCG@n of the recommender
    fitted on :math:`F_k`, judged on :math:`V_k`), so two recommenders are still compared user by user
    (paired) by :func:`cfutils.eval.one_standard_error`. ``max_users`` keeps the validation ratings of that
    many of the users the folds validate, drawn with ``seed`` (``None``: all).
    """

    def __init__(
        self,
        train: pd.DataFrame,
        method: str | SplitMethod,
        test_size: float = 0.2,
        n_folds: int = 2,
        seed: int = 0,
        n: int = 10,
        max_users: int | None = None,
    ):
        self.folds = validation_folds(train, method, test_size, n_folds, lists=True, seed=seed)
        if max_users is not None:
            judged = np.unique(np.concatenate([held["user_id"].to_numpy() for _, held in self.folds]))
            users = sample_ids(judged, max_users, seed)
            self.folds = [Split(fit, held[held["user_id"].isin(users)]) for fit, held in self.folds]
        self.data = [TrainData(fold.train) for fold in self.folds]
        self.n = n

    def fit(self, recommender: ListRecommender) -> list[ListRecommender]:
        """A copy of ``recommender`` fitted on each fold's fit part."""
        return [copy.deepcopy(recommender).fit(data) for data in self.data]

    def ndcg_by_user(self, fitted: Callable[[int], ListRecommender]) -> pd.Series:
        """Each user's NDCG@n averaged over the folds; ``fitted(k)`` is a recommender fitted on fold k."""
        per_fold = [validation_ndcg_by_user(fitted(k), fold.test, self.n) for k, fold in enumerate(self.folds)]
        return pd.concat(per_fold, axis=1).mean(axis=1)

    def score(self, recommender: ListRecommender | list[ListRecommender]) -> pd.Series:
        """:meth:`ndcg_by_user` of ``recommender`` fitted afresh on every fold, or of the fold fits
        :meth:`fit` returned."""
        fitted = recommender if isinstance(recommender, list) else self.fit(recommender)
        return self.ndcg_by_user(fitted.__getitem__)

    def search(
        self, fitted: list[ListRecommender], knob: str, grid: Sequence[float], simpler: str = "smaller", **fixed
    ) -> GridSearch:
        """Tune one ranking-time ``knob`` of the fold fits (``fixed`` knobs held) by
        :func:`cfutils.eval.search_grid`: the one-standard-error rule towards the ``simpler`` end, on
        a grid that extends itself at an edge. Each value is a :func:`variant`, never a refit."""
        return search_grid(
            lambda value: self.ndcg_by_user(lambda k: variant(fitted[k], **fixed, **{knob: value})), grid, simpler
        )


def candidate_recall(recommender, test: pd.DataFrame, threshold: float = 4.0) -> dict[str, float]:
    """Mean share of each known user's relevant test movies that are stage-1 candidates.

    ``recommender`` has ``matrix_``, ``budget_bytes`` and ``candidates(user_idx)`` (dense boolean).
    Returns ``candidate_recall``, ``mean_candidates`` per user and ``n_users`` averaged over.
    """
    relevant = test[test["rating"].to_numpy() >= threshold]
    relevant = relevant[recommender.matrix_.user_index(relevant["user_id"].to_numpy()) >= 0]
    users = as_user_ids(np.unique(relevant["user_id"].to_numpy()))
    size = batch_size(recommender.matrix_.n_movies, recommender.budget_bytes)
    recalls, counts = [], []
    for start in range(0, users.size, size):
        batch = users[start : start + size]
        mask = recommender.candidates(recommender.matrix_.user_index(batch))
        part = relevant[relevant["user_id"].isin(batch)]
        row = np.searchsorted(batch, part["user_id"].to_numpy())
        movie = recommender.matrix_.movie_index(part["movie_id"].to_numpy())
        hit = np.where(movie >= 0, mask[row, np.maximum(movie, 0)], False)
        recalls.append(np.bincount(row, hit, batch.size) / np.bincount(row, minlength=batch.size))
        counts.append(mask.sum(axis=1))
    if not recalls:
        return {"candidate_recall": float("nan"), "mean_candidates": float("nan"), "n_users": 0}
    return {
        "candidate_recall": float(np.concatenate(recalls).mean()),
        "mean_candidates": float(np.concatenate(counts).mean()),
        "n_users": int(users.size),
    }


def compare(
    recommenders: dict[str, ListRecommender],
    train: pd.DataFrame,
    test: pd.DataFrame,
    users: np.ndarray,
    n: int,
    ks=(10,),
    threshold: float = 4.0,
) -> pd.DataFrame:
    """List ``n`` movies for ``users`` with each recommender (already fit on ``train``) and report
    every metric on all / known / new users: one row per (model, users) with ``n_users`` (users
    with a relevant test movie) and the metrics of :func:`list_reports`. The table of
    :func:`compare_by_user`."""
    return compare_by_user(recommenders, train, test, users, n, ks, threshold)[0]


def compare_by_user(
    recommenders: dict[str, ListRecommender],
    train: pd.DataFrame,
    test: pd.DataFrame,
    users: np.ndarray,
    n: int,
    ks=(10,),
    threshold: float = 4.0,
    metric: str = "ndcg@10",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`compare`'s table, and each user's ``metric`` under every recommender (one row per test
    user with a relevant movie, one column per recommender), for a bootstrap over users."""
    popularity = train["movie_id"].value_counts().rename("popularity")
    test = test[test["user_id"].isin(users)]
    rows, by_user = [], {}
    for name, recommender in recommenders.items():
        lists = recommender.top_n_batch(users, n)
        for group, report in list_reports(lists, test, train, popularity, ks, threshold).items():
            rows.append({"model": name, "users": group, **report})
        by_user[name] = ranking_by_user(lists, test, ks, threshold)[metric]
    return pd.DataFrame(rows), pd.DataFrame(by_user)


def variant(recommender: ListRecommender, **knobs) -> ListRecommender:
    """A shallow copy of a *fitted* recommender with ranking-time knobs changed (e.g. DecayedEASE's
    ``half_life``); the fitted arrays are shared, not copied or refit."""
    copied = copy.copy(recommender)
    for name, value in knobs.items():
        if not hasattr(copied, name):
            raise AttributeError(f"{type(recommender).__name__} has no knob {name!r}")
        setattr(copied, name, value)
    return copied


def example_users(
    train: pd.DataFrame, test: pd.DataFrame, chosen: dict[str, int | None] | None = None
) -> dict[str, int]:
    """A ``heavy``, a ``light`` and a ``new`` user whose lists a notebook shows.

    ``heavy``: the most train ratings. ``light``: the fewest train ratings among the test users
    that train knows (ties: the smallest id; every train user when test holds none of them).
    ``new``: the smallest test user unknown to train, else an id no one has (the largest plus 1).
    A raw id in ``chosen`` (``{"heavy": 42}``) replaces the pick; ``None`` keeps it.
    """
    counts = train["user_id"].value_counts()
    test_users = pd.Index(np.unique(test["user_id"].to_numpy()))
    known_in_test = counts[counts.index.isin(test_users)]
    new_in_test = test_users.difference(counts.index)
    picked = {
        "heavy": counts.index[0],
        "light": (known_in_test if len(known_in_test) else counts).sort_index().idxmin(),
        "new": new_in_test[0] if len(new_in_test) else counts.index.max() + 1,
    }
    chosen = chosen or {}
    return {kind: int(picked[kind] if chosen.get(kind) is None else chosen[kind]) for kind in picked}
