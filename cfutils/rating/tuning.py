"""Grid search of rating predictors on a validation set cut by time from the training set."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cfutils.core.memory import MemoryBudgetError
from cfutils.core.parallel import parallel_map
from cfutils.data.split import GLOBAL_TIME, SplitMethod, validation_cut
from cfutils.eval.metrics import rmse


@dataclass
class Tuning:
    """The grid search of one model: every combination's validation RMSE, and the best."""

    table: pd.DataFrame
    best_params: dict
    best_rmse: float


def tune(
    make_model,
    grid: Mapping[str, Sequence],
    train: pd.DataFrame,
    val_fraction: float = 0.1,
    progress: bool = False,
    split: SplitMethod = GLOBAL_TIME,
    n_jobs: int | None = None,
) -> Tuning:
    """Grid search on a validation set cut from the latest ``val_fraction`` of ``train`` by date.

    For each combination ``params`` of ``grid`` (a dict of lists), ``make_model(**params)``
    is fitted on the earlier ratings and scored by RMSE on the later ones: the model is tuned
    on the near future, as it will be used, not by random cross-validation over the future.
    ``split`` is the test split (a :class:`~cfutils.data.split.SplitMethod`,
    :func:`cfutils.data.split.split_method` of the notebook's ``SPLIT``); the validation set is cut by the rule
    :func:`cfutils.data.split.validation_split_for` gives for it (never at random), so with
    ``per_user_time`` every validation user is also in the fitting part.
    Ties go to the first combination in grid order. The combinations are fitted in up to
    ``n_jobs`` worker processes (:func:`cfutils.core.parallel.parallel_map`).
    """
    tuning, skipped = tune_each({"model": (make_model, grid)}, train, val_fraction, split, progress, n_jobs)
    if skipped:
        raise MemoryBudgetError(skipped["model"])
    return tuning["model"]


def validation_rmse(make_model: Callable, params: dict, fit_part: pd.DataFrame, val: pd.DataFrame) -> float | str:
    """RMSE on ``val`` of ``make_model(**params)`` fitted on ``fit_part``; the guard's message instead
    when the fit would exceed its memory budget (:class:`~cfutils.core.memory.MemoryBudgetError`)."""
    try:
        return rmse(val["rating"], make_model(**params).fit(fit_part).predict(val))
    except MemoryBudgetError as error:
        return str(error)


def tune_each(
    searches: Mapping[str, tuple[Callable, Mapping[str, Sequence]]],
    train: pd.DataFrame,
    val_fraction: float = 0.1,
    split: SplitMethod = GLOBAL_TIME,
    progress: bool = False,
    n_jobs: int | None = None,
) -> tuple[dict[str, Tuning], dict[str, str]]:
    """:func:`tune` every ``name: (make_model, grid)`` of ``searches``; skip what cannot fit in memory.

    Returns ``(tuning, skipped)``. A model whose fit raises
    :class:`~cfutils.core.memory.MemoryBudgetError` (the guard checks before it allocates) is
    left out of ``tuning`` and ``skipped[name]`` holds the guard's message, so one model
    too big for the data (user-user KNN on 50,000 users) never takes the run down. Every
    combination of every search is one task of :func:`cfutils.core.parallel.parallel_map`, so
    ``n_jobs`` workers share them all. ``split`` is the test split, as in :func:`tune`.
    """
    fit_part, val = validation_cut(train, split, val_fraction)
    combos = {
        name: [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
        for name, (_, grid) in searches.items()
    }
    tasks = [(searches[name][0], params, fit_part, val) for name, points in combos.items() for params in points]
    scores = iter(parallel_map(validation_rmse, tasks, n_jobs, progress, desc="grid"))
    tuning, skipped = {}, {}
    for name, points in combos.items():
        table = pd.DataFrame([{**params, "val_rmse": next(scores)} for params in points])
        reasons = [score for score in table["val_rmse"] if isinstance(score, str)]
        if reasons:
            skipped[name] = reasons[0]
            continue
        table["val_rmse"] = table["val_rmse"].astype(np.float64)
        best = int(table["val_rmse"].to_numpy().argmin())
        tuning[name] = Tuning(table, points[best], float(table["val_rmse"].iloc[best]))
    return tuning, skipped
