r"""Intervals from a bootstrap over users, and paired comparisons of models.

The test users are a sample; another sample of users would rank the models differently when they
are close. Every score here is a ratio of per-user sums,

.. math:: S = f\Big(\frac{\sum_u a_u}{\sum_u c_u}\Big),

with :math:`a_u` and :math:`c_u` one user's total and count: for the mean of a per-user metric
(NDCG@10), :math:`a_u` is the user's value, :math:`c_u = 1` and :math:`f` the identity; for RMSE,
:math:`a_u` is the sum of the user's squared errors, :math:`c_u` the user's test rows and
:math:`f = \sqrt{\cdot}`. A *resample* draws :math:`n` users with replacement from the :math:`n`
users (:func:`resamples`); user :math:`u` drawn :math:`w_u` times weighs :math:`w_u` in both sums,
so the statistic of a resample is :math:`f(\sum_u w_u a_u / \sum_u w_u c_u)`.

* :func:`user_bootstrap` computes every model's statistic on the same ``draws`` resamples (a matrix
  product of the weights with the totals), so two models are always compared on the same users.
* The **95 % interval** of a model is the 2.5th and 97.5th percentiles of its resampled statistics
  (the percentile bootstrap, Efron and Tibshirani 1993, §13.3).
* The **paired difference** of models A and B is :math:`S_A - S_B` on each resample; its interval
  says whether A is better: only when the interval excludes 0 (:func:`verdict`), else the two are
  *indistinguishable on this data*.

Everything is deterministic given ``seed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Resamples of every bootstrap.
DRAWS = 1000
#: Coverage of every interval.
LEVEL = 0.95
#: Cells of the (resamples × users) index array drawn at once.
CHUNK_CELLS = 2_000_000

BETTER, WORSE, INDISTINGUISHABLE = "better", "worse", "indistinguishable on this data"


def resamples(n_users: int, draws: int = DRAWS, seed: int = 0) -> Iterator[np.ndarray]:
    """The user indices of ``draws`` resamples, in chunks: arrays of shape ``(m, n_users)``, each row
    ``n_users`` indices drawn uniformly with replacement (``numpy.random.default_rng(seed)``)."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, CHUNK_CELLS // max(n_users, 1))
    for start in range(0, draws, per_chunk):
        yield rng.integers(0, n_users, size=(min(per_chunk, draws - start), n_users))


@dataclass(frozen=True)
class Bootstrap:
    """Each model's statistic on all users (``point``) and on every resample (``samples``, one row
    per resample, one column per model); ``lower_is_better`` for errors such as RMSE."""

    point: pd.Series
    samples: pd.DataFrame
    lower_is_better: bool
    n_users: int

    def interval(self, model: str, level: float = LEVEL) -> list[float]:
        """``[lo, hi]``: the percentile interval of ``model``'s statistic."""
        return percentile_interval(self.samples[model].to_numpy(), level)

    def difference(self, a: str, b: str, level: float = LEVEL) -> dict:
        """The paired difference ``S_a - S_b``: ``difference``, its ``ci95`` and the ``verdict`` on ``a``."""
        lo, hi = percentile_interval((self.samples[a] - self.samples[b]).to_numpy(), level)
        return {
            "difference": float(self.point[a] - self.point[b]),
            "ci95": [lo, hi],
            "verdict": verdict(lo, hi, self.lower_is_better),
        }

    def best(self) -> str:
        """The model with the best statistic on all users (ties: the first)."""
        return str(self.point.idxmin() if self.lower_is_better else self.point.idxmax())


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> list[float]:
    """``[lo, hi]``: the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of ``samples``."""
    lo, hi = np.quantile(np.asarray(samples, dtype=np.float64), [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def verdict(lo: float, hi: float, lower_is_better: bool) -> str:
    """Whether A is ``better`` or ``worse`` than B from the interval ``[lo, hi]`` of ``S_A - S_B``:
    only an interval that excludes 0 decides; otherwise :data:`INDISTINGUISHABLE`."""
    if lo > 0 or hi < 0:
        return BETTER if (hi < 0) == lower_is_better else WORSE
    return INDISTINGUISHABLE


def user_bootstrap(
    totals: pd.DataFrame,
    counts: pd.Series | None = None,
    root: bool = False,
    lower_is_better: bool = False,
    draws: int = DRAWS,
    seed: int = 0,
) -> Bootstrap:
    r"""Bootstrap over users of every model's :math:`f(\sum_u a_u / \sum_u c_u)` (module docstring).

    ``totals`` holds :math:`a_u`, one row per user and one column per model; ``counts`` holds
    :math:`c_u` (default 1 per user); ``root`` makes :math:`f` the square root. Every model is scored
    on the same resamples. Raises ``ValueError`` without users or with missing totals.
    """
    a = totals.to_numpy(dtype=np.float64)
    c = np.ones(len(totals)) if counts is None else counts.reindex(totals.index).to_numpy(dtype=np.float64)
    if a.shape[0] == 0 or np.isnan(a).any() or np.isnan(c).any():
        raise ValueError("a bootstrap over users needs at least one user and a total for every user and model")
    finish = np.sqrt if root else (lambda x: x)
    n = a.shape[0]
    samples = []
    for chunk in resamples(n, draws, seed):
        offsets = np.arange(chunk.shape[0])[:, None] * n
        weights = np.bincount((chunk + offsets).ravel(), minlength=chunk.size).reshape(chunk.shape)
        samples.append(finish((weights @ a) / (weights @ c)[:, None]))
    return Bootstrap(
        point=pd.Series(finish(a.sum(axis=0) / c.sum()), index=totals.columns),
        samples=pd.DataFrame(np.vstack(samples), columns=totals.columns),
        lower_is_better=lower_is_better,
        n_users=n,
    )


def squared_errors_by_user(users, truth, predictions: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.Series]:
    """``(totals, counts)`` of RMSE for :func:`user_bootstrap` (``root=True``): each user's sum of
    squared errors per model, and the user's number of rows."""
    users = pd.Index(np.asarray(users), name="user_id")
    truth = np.asarray(truth, dtype=np.float64)
    errors = pd.DataFrame({name: (np.asarray(p, dtype=np.float64) - truth) ** 2 for name, p in predictions.items()})
    return errors.groupby(users.to_numpy()).sum(), pd.Series(users).value_counts().sort_index()


def rmse_bootstrap(users, truth, predictions: dict[str, np.ndarray], draws: int = DRAWS, seed: int = 0) -> Bootstrap:
    """RMSE of each model, bootstrapped over the users of the test rows (``users`` gives each row's user)."""
    totals, counts = squared_errors_by_user(users, truth, predictions)
    return user_bootstrap(totals, counts, root=True, lower_is_better=True, draws=draws, seed=seed)


def paired_table(boot: Bootstrap, chosen: str, level: float = LEVEL) -> list[dict]:
    """The chosen model against each peer: ``{"model": peer, "difference": S_chosen - S_peer,
    "ci95": [lo, hi], "verdict": ...}``, the verdict being on the chosen model."""
    return [{"model": peer, **boot.difference(chosen, peer, level)} for peer in boot.point.index if peer != chosen]


def segment_winner(boot: Bootstrap, chosen: str | None, level: float = LEVEL) -> dict:
    """``{"chosen", "best_on_test", "indistinguishable"}`` for one segment of users: the model chosen
    on validation, the best on these test users, and the models whose paired difference with the best
    has an interval containing 0 (the best itself excluded)."""
    best = boot.best()
    others = [m for m in boot.point.index if m != best]
    peers = [m for m in others if boot.difference(m, best, level)["verdict"] == INDISTINGUISHABLE]
    return {"chosen": chosen, "best_on_test": best, "indistinguishable": peers}


def segment_scores(boot: Bootstrap, metric: str, level: float = LEVEL) -> dict:
    """``{"n_users", "metric", "lower_is_better", "models": {model: [value, lo, hi]}}`` of one segment
    of users (the record ``segment_scores`` holds one per segment)."""
    return {
        "n_users": boot.n_users,
        "metric": metric,
        "lower_is_better": boot.lower_is_better,
        "models": {m: [float(boot.point[m]), *boot.interval(m, level)] for m in boot.point.index},
    }
