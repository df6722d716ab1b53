r"""Stacking: XGBoost on the 13 features plus the base models' predictions.

A stacked model learns how much to trust each base model, and where. It is trained on
rows whose base predictions must look like the ones it will see at test time: made
for ratings the base model was *not* fitted on.

Out of fold (the honest way). No input of a training rating, :math:`\hat r^{(-f)}_{ui}`
or ``UAvg``, may use :math:`r_{ui}` itself. Two ways to cut the folds, which the stack
uses together by default:

- ``folds=RANDOM`` (:data:`cfutils.data.split.RANDOM`): the training rows are split at random into
  K folds; for each fold f, every base model is fitted on the other K-1 folds and predicts the
  rows of f, and the 13 features of those rows are computed from the other folds.
- ``folds=GLOBAL_TIME`` or ``PER_USER_TIME`` (forward chaining): train is cut into
  K+1 time slices by the rule of the test split (:func:`cfutils.data.split.chronological_folds`),
  and slice f = 1..K is predicted from slices 0..f-1 only. These rows are later than what
  the models saw and, under a global time split, include new users and movies.

Random folds almost never hold a cold row, so a stack trained on them alone never learns
what to do with one; when most test users are new (real MovieLens under ``global_time``:
93 % of the test rows are cold) it lost to its own base models. Forward-chaining rows alone
teach the cold regime but predict warm rows from models fitted on a fraction of train,
weaker than the test's models, and the stack then lost on warm rows. Trained on both sets
of rows, with each row's support (:func:`support_counts`: how many ratings its user and
movie have in the part its inputs were computed from; 0 = cold) among the inputs, the
stack learns both regimes and tells them apart. Measured on movielens-small (RMSE; the
best single model in brackets; three folds per rule): ``global_time`` 0.9973 (1.0132), warm rows
0.9153 (0.9204); ``per_user_time`` 0.8521 (0.8841); ``random`` 0.8146 (0.8413).

The stack starts from its best base model and learns a correction: with ``margin`` set to
a base model's name, XGBoost's trees add to that model's prediction (``base_margin``)
instead of starting from a constant, so where they find nothing to correct, the stack
is that model.

Test rows get the features of all of train and the predictions of the base models fitted
on all of train (Wolpert 1992, "Stacked generalization"; Breiman 1996, "Stacked
regressions"; the Netflix Prize blends were fitted on a held-out probe set, cut by time).

In sample (the AppliedAI case study's way). The training rows get the features and
the base predictions computed from all of train, their own rating included. A
KNNBaseline's neighbourhood then contains the user themself with similarity 1, SVD has
fitted the rating and ``UAvg`` averages it in, so these inputs are far better on train
than on test, and XGBoost learns to trust them too much.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import pandas as pd

from cfutils.core.parallel import parallel_map
from cfutils.core.train_data import TrainData, as_train_data
from cfutils.data.split import RANDOM, SplitMethod, chronological_folds, validation_split_for
from cfutils.rating.features import similarity_features
from cfutils.rating.models import PAIR_COLUMNS, rating_scale, unfitted_copy


def fold_ids(n_rows: int, n_folds: int, seed: int = 0) -> np.ndarray:
    """A fold number in ``0..n_folds-1`` for each row: a random permutation cut into near-equal parts."""
    if not 2 <= n_folds <= n_rows:
        raise ValueError(f"n_folds must be between 2 and the number of rows ({n_rows}), got {n_folds}")
    folds = np.empty(n_rows, dtype=np.int64)
    folds[np.random.default_rng(seed).permutation(n_rows)] = np.arange(n_rows) % n_folds
    return folds


def folds_for(split: SplitMethod) -> tuple[SplitMethod, SplitMethod]:
    """The stack's folds for test split ``split``: random folds, and forward chaining by the
    time rule that tunes models for that split (:func:`cfutils.data.split.validation_split_for`)."""
    return (RANDOM, validation_split_for(split))


def fold_rules(folds: SplitMethod | Sequence[SplitMethod]) -> list[SplitMethod]:
    """``folds`` as a list of split objects (one given alone becomes a list of one). ``TypeError`` for a
    name: splits travel as :class:`cfutils.data.split.SplitMethod` objects, and
    :func:`cfutils.data.split.split_method` turns a notebook's ``SPLIT`` string into one."""
    rules = [folds] if isinstance(folds, SplitMethod) else list(folds)
    names = [rule for rule in rules if not isinstance(rule, SplitMethod)]
    if names:
        raise TypeError(f"fold rules are SplitMethod objects (cfutils.data.split.RANDOM ...), not {names!r}")
    return rules


def support_counts(fit_part: pd.DataFrame | TrainData, pairs: pd.DataFrame) -> pd.DataFrame:
    r"""Cold-start inputs: :math:`\log(1 + n_u)` and :math:`\log(1 + n_i)`, the numbers of ratings of each
    pair's user and movie in ``fit_part`` (0 for a user or movie it has never seen), read from its
    rating matrix (row and column lengths)."""
    matrix = as_train_data(fit_part).matrix
    counts = {
        f"log_n_{who}": np.log1p(np.where(index >= 0, totals[index], 0).astype(np.float64))
        for who, index, totals in (
            ("user", matrix.user_index(pairs["user_id"].to_numpy()), matrix.user_counts),
            ("movie", matrix.movie_index(pairs["movie_id"].to_numpy()), matrix.movie_counts),
        )
    }
    return pd.DataFrame(counts, index=pairs.index)


def base_predictions(models: Sequence, pairs: pd.DataFrame) -> pd.DataFrame:
    """One column per fitted model (named ``model.name``), row-aligned with ``pairs``."""
    return pd.DataFrame({model.name: model.predict(pairs) for model in models}, index=pairs.index)


def fold_cuts(
    train: pd.DataFrame, n_folds: int, seed: int, rule: SplitMethod
) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The ``(fit, predict)`` row masks of each fold of ``rule``, and the mask of the rows predicted.

    :data:`~cfutils.data.split.RANDOM`: K = ``n_folds`` random folds (:func:`fold_ids`), fold f
    predicted from the others; every row is predicted. A time split (``GLOBAL_TIME``,
    ``PER_USER_TIME``): forward chaining over K + 1 time slices
    (:func:`cfutils.data.split.chronological_folds`), slice f = 1..K predicted from slices ``< f``;
    the first slice is never predicted. ``ValueError`` for a split that is neither (``PROBE``).
    """
    if rule == RANDOM:
        fold = fold_ids(len(train), n_folds, seed)
        return [(fold != f, fold == f) for f in range(n_folds)], np.ones(len(train), dtype=bool)
    fold = chronological_folds(train, n_folds + 1, rule)
    return [(fold < f, fold == f) for f in range(1, n_folds + 1)], fold >= 1


def out_of_fold(
    compute: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame],
    train: pd.DataFrame | TrainData,
    n_folds: int = 5,
    seed: int = 0,
    progress: bool = False,
    folds: SplitMethod | Sequence[SplitMethod] = RANDOM,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """``compute(fit_part, fold)`` for every fold, reassembled in the row order of ``train``.

    ``compute(fit_part, pairs)`` must return a frame row-aligned with ``pairs`` that depends
    on the ratings of ``fit_part`` only. ``folds`` is one fold rule or several
    (:func:`fold_cuts`): with ``RANDOM`` every row of ``train`` is returned, with a time
    rule every row but those of the first time slice; with several rules, the rows of each
    rule in turn (a rating then appears once per rule). Either way the row of a training
    rating is never computed from the rating itself. The folds of every rule are computed
    in up to ``n_jobs`` worker processes (:func:`cfutils.core.parallel.parallel_map`; the same
    result with any number). ``compute`` receives plain frames (a ``TrainData`` given as
    ``train`` is unwrapped): a fold's task is pickled to its worker, which wraps the frame itself.
    """
    train = as_train_data(train).ratings
    if not train.index.is_unique:
        raise ValueError("train needs a unique index to put the folds back in order; call reset_index() first")
    plans = [fold_cuts(train, n_folds, seed, rule) for rule in fold_rules(folds)]
    # Plain frames, not TrainData: a task is pickled whole to its worker, which wraps its fold itself
    # (fit_copies), so the fold's matrix and neighbour lists are built where they are used and never
    # pickled; a TrainData would carry to every worker whatever it had cached by then.
    tasks = [(train[fit], train[rows]) for cuts, _ in plans for fit, rows in cuts]
    parts = iter(parallel_map(compute, tasks, n_jobs, progress, desc="out-of-fold"))
    return pd.concat([pd.concat([next(parts) for _ in cuts]).loc[train.index[kept]] for cuts, kept in plans])


def refit_and_predict(models: Sequence, fit_part: pd.DataFrame | TrainData, pairs: pd.DataFrame) -> pd.DataFrame:
    """:func:`base_predictions` of ``pairs`` by unfitted copies of ``models`` fitted on ``fit_part``.

    A module-level function of unfitted models, so that a fold sent to a worker process
    carries the models' settings and its own data, never a fitted model."""
    return base_predictions(fit_copies(models, fit_part), pairs)


def fit_copies(models: Sequence, fit_part: pd.DataFrame | TrainData) -> list:
    """Unfitted copies of ``models``, all fitted on one :class:`~cfutils.core.train_data.TrainData` of
    ``fit_part``, so they share its rating matrix and neighbour lists. In a fold's task this runs
    in the worker process, on the plain frame the task carried (see :func:`out_of_fold`)."""
    data = as_train_data(fit_part)
    return [unfitted_copy(model).fit(data) for model in models]


def stack_inputs(
    fit_part: pd.DataFrame | TrainData, pairs: pd.DataFrame, fitted_models: Sequence, n: int, k: int | None
) -> pd.DataFrame:
    """The 13 features (:func:`cfutils.rating.features.similarity_features` with ``n``, ``k``) and the
    support counts of ``pairs`` from ``fit_part`` (one :class:`~cfutils.core.train_data.TrainData`, one
    matrix for both), then one column per fitted base model."""
    data = as_train_data(fit_part)
    features = similarity_features(data, pairs[PAIR_COLUMNS], n=n, k=k)
    return pd.concat([features, support_counts(data, pairs), base_predictions(fitted_models, pairs)], axis=1)


def refit_stack_inputs(
    models: Sequence, n: int, k: int | None, fit_part: pd.DataFrame | TrainData, pairs: pd.DataFrame
) -> pd.DataFrame:
    """:func:`stack_inputs` with unfitted copies of ``models`` fitted on ``fit_part``: one fold's
    training rows of the out-of-fold stack. The fold is wrapped once here, in its worker (see
    :func:`fit_copies`), so the base models, the features and the support counts share its matrix."""
    data = as_train_data(fit_part)
    return stack_inputs(data, pairs, fit_copies(models, data), n, k)


class StackedXGB:
    r"""XGBoost on the 13 similarity features and the base models' predictions.

    .. math::
        \hat r_{ui} = f_{\text{XGB}}\big(\text{GAvg}, \text{sur}_{1..5}, \text{smr}_{1..5},
        \text{UAvg}, \text{MAvg}, \hat r^{(1)}_{ui}, \dots, \hat r^{(M)}_{ui}\big)

    plus :func:`support_counts`. Training rows, ``out_of_fold=True``: the row of a rating in
    a fold holds the 13 features, the support counts and the predictions of base models
    computed without that fold (:func:`out_of_fold`). ``folds`` is one or more fold
    rules, ``RANDOM`` (K = ``n_folds`` random folds) or a time split (forward chaining,
    where the first time slice only feeds the fits); with several, the stack trains on the
    rows of each (a rating then appears once per rule, with different inputs). Both
    matter: the features ``UAvg`` and ``MAvg`` of a training row computed from all of
    train contain its own rating, a leak as real as an in-sample prediction's.
    ``out_of_fold=False`` is the AppliedAI way, the lesson and not the method: features
    and predictions of every training row from all of train, its own rating included.
    Pairs to predict always get the features of all of train and the base models
    fitted on all of train, and never read a test rating.

    ``prefit=True`` says the given base models are already fitted on the very ``train``
    that :meth:`fit` receives (the notebook fits and times each model once); otherwise
    fitted copies are made. The out-of-fold fits always use fresh copies. ``margin``: the
    name of a base model whose prediction the trees correct (XGBoost's ``base_margin``);
    ``None`` starts from a constant.
    ``n``, ``k``: see :func:`cfutils.rating.features.similarity_features`; every other keyword
    goes to ``xgboost.XGBRegressor``. The inputs of the training rows are kept in
    ``train_inputs_``. ``n_jobs`` defaults to 1, as in :class:`~cfutils.rating.models.FeatureXGB`.
    ``workers``: the processes that compute the folds (:func:`out_of_fold`; None: every core).
    """

    def __init__(
        self,
        base_models: Sequence,
        n_folds: int = 5,
        out_of_fold: bool = True,
        folds: SplitMethod | Sequence[SplitMethod] = RANDOM,
        margin: str | None = None,
        prefit: bool = False,
        n: int = 5,
        k: int | None = None,
        seed: int = 0,
        name: str | None = None,
        progress: bool = False,
        workers: int | None = None,
        **xgb_params,
    ):
        self.base_models, self.n_folds, self.out_of_fold, self.prefit = list(base_models), n_folds, out_of_fold, prefit
        self.folds = fold_rules(folds)
        self.margin = margin
        self.n, self.k, self.seed, self.progress, self.workers = n, k, seed, progress, workers
        self.name = name or ("xgb_stack" if out_of_fold else "xgb_stack_in_sample")
        self.xgb_params = {
            "n_estimators": 300,
            "max_depth": 6,
            "learning_rate": 0.05,
            "random_state": seed,
            "n_jobs": 1,
            **xgb_params,
        }

    def inputs(self, fit_part: pd.DataFrame | TrainData, pairs: pd.DataFrame, fitted_models: Sequence) -> pd.DataFrame:
        """:func:`stack_inputs` with this stack's ``n`` and ``k``."""
        return stack_inputs(fit_part, pairs, fitted_models, self.n, self.k)

    def fit(self, train: pd.DataFrame | TrainData) -> StackedXGB:
        import xgboost  # here, not at the top: it takes seconds to load, and is needed only to fit

        self.train_ = as_train_data(train)
        ratings = self.train_.ratings
        self.fitted_models_ = self.base_models if self.prefit else fit_copies(self.base_models, self.train_)
        if self.out_of_fold:
            compute = partial(refit_stack_inputs, [unfitted_copy(m) for m in self.base_models], self.n, self.k)
            self.train_inputs_ = out_of_fold(
                compute, ratings, self.n_folds, self.seed, self.progress, self.folds, self.workers
            )
        else:
            self.train_inputs_ = self.inputs(self.train_, ratings, self.fitted_models_)
        target = ratings["rating"].loc[self.train_inputs_.index]
        self.xgb_ = xgboost.XGBRegressor(**self.xgb_params).fit(
            self.train_inputs_, target, base_margin=self._margin(self.train_inputs_)
        )
        return self

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        inputs = self.inputs(self.train_, pairs, self.fitted_models_)
        return np.clip(
            self.xgb_.predict(inputs, base_margin=self._margin(inputs)).astype(np.float64),
            *rating_scale(self.train_.ratings),
        )

    def _margin(self, inputs: pd.DataFrame) -> np.ndarray | None:
        return None if self.margin is None else inputs[self.margin].to_numpy()
