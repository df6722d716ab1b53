"""Grid search of rating predictors on a validation set cut by time from the training set."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from cfutils.memory import MemoryBudgetError
from cfutils.metrics import rmse
from cfutils.progress import progress_bar
from cfutils.split import make_split


@dataclass
class Tuning:
    """The grid search of one model: every combination's validation RMSE, and the best."""

    table: pd.DataFrame
    best_params: dict
    best_rmse: float


def tune(
    make_model, grid: Mapping[str, Sequence], train: pd.DataFrame, val_fraction: float = 0.1,
    progress: bool = False, split: str = "global_time",
) -> Tuning:
    """Grid search on a validation set cut from the latest ``val_fraction`` of ``train`` by date.

    For each combination ``params`` of ``grid`` (a dict of lists), ``make_model(**params)``
    is fitted on the earlier ratings and scored by RMSE on the later ones: the model is tuned
    on the near future, as it will be used, not by random cross-validation over the future.
    ``split`` is the notebook's ``SPLIT`` (``global_time`` or ``per_user_time``), so the
    validation rows look like the test rows: with ``per_user_time`` every validation user
    is also in the fitting part. ``"random"`` is refused: it would tune on the future.
    Ties go to the first combination in grid order.
    """
    if split == "random":
        raise ValueError("tune on a time split (global_time or per_user_time), not a random one")
    fit_part, val = make_split(train, split, test_size=val_fraction)
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    rows = []
    for params in progress_bar(combos, disable=not progress, desc="grid"):
        model = make_model(**params).fit(fit_part)
        rows.append({**params, "val_rmse": rmse(val["rating"], model.predict(val))})
    table = pd.DataFrame(rows)
    best = int(table["val_rmse"].to_numpy().argmin())
    return Tuning(table, combos[best], float(table["val_rmse"].iloc[best]))


def tune_each(
    searches: Mapping[str, tuple[Callable, Mapping[str, Sequence]]], train: pd.DataFrame,
    val_fraction: float = 0.1, split: str = "global_time", progress: bool = False,
) -> tuple[dict[str, Tuning], dict[str, str]]:
    """:func:`tune` every ``name: (make_model, grid)`` of ``searches``; skip what cannot fit in memory.

    Returns ``(tuning, skipped)``. A model whose fit raises
    :class:`~cfutils.memory.MemoryBudgetError` (the guard checks before it allocates) is
    left out of ``tuning`` and ``skipped[name]`` holds the guard's message, so one model
    too big for the data (user-user KNN on 50,000 users) never takes the run down.
    """
    tuning, skipped = {}, {}
    for name, (make_model, grid) in searches.items():
        try:
            tuning[name] = tune(make_model, grid, train, val_fraction, progress=progress, split=split)
        except MemoryBudgetError as error:
            skipped[name] = str(error)
    return tuning, skipped
