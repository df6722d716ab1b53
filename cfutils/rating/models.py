r"""Rating predictors with one tiny interface, and adapters to Surprise.

Every model here has a ``name``, ``fit(train) -> self`` on a ratings frame or a
:class:`~cfutils.core.train_data.TrainData` (several models fitted on one ``TrainData`` share
its rating matrix and neighbour lists; :func:`fit_each` wraps a frame once for all) and
``predict(pairs) -> np.ndarray`` for any frame with ``user_id`` and ``movie_id``
(a ``rating`` column, if present, is never read). Notation as in Surprise:
:math:`\mu` is the mean of all training ratings, :math:`b_u` and :math:`b_i` the
user and item biases, :math:`b_{ui} = \mu + b_u + b_i` the baseline estimate.
Predictions are clipped into the rating scale, as ``surprise.AlgoBase.predict`` does.

=====================  ==================================================================
:class:`GlobalMean`     :math:`\hat r_{ui} = \mu`
:class:`BiasBaseline`   :math:`\hat r_{ui} = \mu + b_u + b_i` (Koren 2010, section 2.1)
:class:`KNNBaseline`    :math:`b_{ui}` plus the similarity-weighted mean of the k nearest
                        neighbours' deviations from their baselines (Koren 2010, 2.2)
:class:`SVD`            :math:`\mu + b_u + b_i + q_i^T p_u` (Koren 2010, section 5.1)
:class:`SVDpp`          :math:`\mu + b_u + b_i + q_i^T(p_u + |I_u|^{-1/2}\sum_{j\in I_u} y_j)`
                        (Koren 2008, section 4; Koren 2010, section 5.3)
:class:`FeatureXGB`     XGBoost on the tutorial's 13 features (:mod:`cfutils.rating.features`)
=====================  ==================================================================

The Bayesian factorization machine, with the same interface, is in :mod:`cfutils.rating.bayes_fm`.

The Surprise adapters (a ratings frame as a trainset, batch prediction) are in
:mod:`cfutils.rating.surprise_batch`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import surprise

from cfutils.core.matrix import index_of
from cfutils.core.memory import DEFAULT_BUDGET_BYTES, MemoryBudgetError, check_budget
from cfutils.core.similarity import pattern_gram, shrinkage_factor
from cfutils.core.train_data import TrainData, as_train_data
from cfutils.rating.features import similarity_features
from cfutils.rating.surprise_batch import predict_pairs, rating_scale, raw_ids, to_trainset
from cfutils.rating.surprise_batch import surprise_bytes_per_rating as surprise_bytes_per_rating  # re-exported

PAIR_COLUMNS = ["user_id", "movie_id"]

#: Python-object bytes per rating of a Surprise trainset; :func:`surprise_bytes_per_rating`
#: measured 160-200 on the embedded sample (fewer ratings per user cost more per rating).
SURPRISE_BYTES_PER_RATING = 200.0

#: Bytes per cell of KNNBaseline's pearson_baseline: five dense n x n float64/intp matrices.
KNN_BYTES_PER_CELL = 40


def unfitted_copy(model):
    """A copy of ``model`` with its settings but none of its fitted state.

    Fitted attributes end with an underscore (``bu_``, ``algo_``), as in scikit-learn;
    they are left out, so copying a fitted KNNBaseline does not copy its n x n matrix.
    """
    clone = copy.copy(model)
    clone.__dict__ = {key: copy.deepcopy(value) for key, value in vars(model).items() if not key.endswith("_")}
    return clone


# --------------------------------------------------------------------------- timing


@dataclass
class Stopwatch:
    """Wall-clock seconds of a ``with stopwatch() as watch:`` block, in ``watch.seconds``."""

    seconds: float = float("nan")


@contextmanager
def stopwatch() -> Iterator[Stopwatch]:
    watch = Stopwatch()
    start = time.perf_counter()
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - start


def fit_timed(model, train: pd.DataFrame | TrainData) -> float:
    """Fit ``model`` on ``train`` and return the seconds it took."""
    with stopwatch() as watch:
        model.fit(train)
    return watch.seconds


# --------------------------------------------------------------------------- models


class GlobalMean:
    r""":math:`\hat r_{ui} = \mu`, the mean of all training ratings, for every pair."""

    name = "global_mean"

    def fit(self, train: pd.DataFrame | TrainData) -> GlobalMean:
        self.mean_ = float(as_train_data(train).ratings["rating"].to_numpy(np.float64).mean())
        return self

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        return np.full(len(pairs), self.mean_)


class BiasBaseline:
    r"""The baseline estimate :math:`\hat r_{ui} = b_{ui} = \mu + b_u + b_i`.

    If user :math:`u` is unknown, :math:`b_u = 0`; the same for item :math:`i` and
    :math:`b_i`. See section 2.1 of Koren (2010), "Factor in the neighbors".

    ``method="als"`` (default) alternates, ``n_epochs`` times, the closed-form updates
    of Surprise's ``baseline_als`` (items first, then users), in numpy over all ratings:

    .. math::
        b_i = \frac{\sum_{u \in U_i} (r_{ui} - \mu - b_u)}{\lambda_i + |U_i|}, \qquad
        b_u = \frac{\sum_{i \in I_u} (r_{ui} - \mu - b_i)}{\lambda_u + |I_u|}

    with :math:`\lambda_u` = ``reg_u``, :math:`\lambda_i` = ``reg_i``. It needs a few
    arrays of the size of the data, so it fits the full Netflix data. ``method="sgd"``
    runs Surprise's ``baseline_sgd`` (``reg``, ``learning_rate``), a Python-object loop.
    Predictions are clipped into the rating scale.
    """

    def __init__(
        self,
        method: str = "als",
        n_epochs: int | None = None,
        reg_u: float = 15.0,
        reg_i: float = 10.0,
        reg: float = 0.02,
        learning_rate: float = 0.005,
        name: str = "baseline",
    ):
        if method not in ("als", "sgd"):
            raise ValueError(f"method must be 'als' or 'sgd', not {method!r}")
        self.method, self.n_epochs = method, n_epochs if n_epochs is not None else (10 if method == "als" else 20)
        self.reg_u, self.reg_i, self.reg, self.learning_rate, self.name = reg_u, reg_i, reg, learning_rate, name

    def surprise_options(self) -> dict:
        """The same settings as Surprise's ``bsl_options``."""
        if self.method == "als":
            return {"method": "als", "n_epochs": self.n_epochs, "reg_u": self.reg_u, "reg_i": self.reg_i}
        return {"method": "sgd", "n_epochs": self.n_epochs, "reg": self.reg, "learning_rate": self.learning_rate}

    def required_bytes(
        self, n_ratings: int, n_users: int, n_movies: int, bytes_per_rating: float = SURPRISE_BYTES_PER_RATING
    ) -> float:
        """Estimated peak memory of a fit: for ALS the 20-byte ratings frame plus 48 bytes of
        int64/float64 work arrays per rating (codes, ratings, residuals); for SGD a Surprise trainset."""
        return (20 + 48) * n_ratings if self.method == "als" else bytes_per_rating * n_ratings

    def fit(self, train: pd.DataFrame | TrainData) -> BiasBaseline:
        data = as_train_data(train)
        ratings = data.ratings
        self.scale_ = rating_scale(ratings)
        if self.method == "sgd":
            algo = surprise.BaselineOnly(bsl_options=self.surprise_options(), verbose=False).fit(to_trainset(ratings))
            (self.user_ids_, self.bu_), (self.movie_ids_, self.bi_) = (
                _sorted_by_id(ids, biases) for ids, biases in zip(raw_ids(algo.trainset), (algo.bu, algo.bi))
            )
            self.mean_ = algo.trainset.global_mean
            return self
        # The compact indices of the train data's matrix (sorted raw ids), in the frame's row order.
        self.user_ids_, self.movie_ids_ = data.matrix.user_ids, data.matrix.movie_ids
        u = index_of(self.user_ids_, ratings["user_id"].to_numpy())
        i = index_of(self.movie_ids_, ratings["movie_id"].to_numpy())
        centred = np.array(ratings["rating"], dtype=np.float64)  # always a copy: centred in place below
        self.mean_ = float(centred.mean())
        centred -= self.mean_
        n_u, n_i = np.bincount(u, minlength=len(self.user_ids_)), np.bincount(i, minlength=len(self.movie_ids_))
        self.bu_, self.bi_ = np.zeros(len(n_u)), np.zeros(len(n_i))
        residual = np.empty_like(centred)  # one buffer for every epoch, gathered into and subtracted in place
        for _ in range(self.n_epochs):
            self.bi_ = np.bincount(i, _residual(centred, self.bu_, u, residual), len(n_i)) / (self.reg_i + n_i)
            self.bu_ = np.bincount(u, _residual(centred, self.bi_, i, residual), len(n_u)) / (self.reg_u + n_u)
        return self

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        est = np.full(len(pairs), self.mean_)
        for biases, ids, column in ((self.bu_, self.user_ids_, "user_id"), (self.bi_, self.movie_ids_, "movie_id")):
            position = index_of(ids, pairs[column].to_numpy())
            est[position >= 0] += biases[position[position >= 0]]
        return np.clip(est, *self.scale_)


def _residual(centred: np.ndarray, biases: np.ndarray, codes: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``centred - biases[codes]`` written into ``out``, with no temporary array of the ratings' size."""
    np.take(biases, codes, out=out)
    return np.subtract(centred, out, out=out)


def _sorted_by_id(ids: np.ndarray, biases: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Surprise's raw ids (in inner-id order) and their biases, sorted by raw id for :func:`index_of`."""
    order = np.argsort(ids, kind="stable")
    return ids[order], np.asarray(biases)[order]


class SurpriseModel:
    """A Surprise algorithm behind the ``fit(train)`` / ``predict(pairs)`` interface.

    ``make_algo()`` builds a fresh, unfitted algorithm; ``predict`` uses the batch
    route of :func:`predict_pairs`. The fitted algorithm is ``algo_``. Before fitting,
    :meth:`required_bytes` is checked against ``budget_bytes``.
    """

    def __init__(self, name: str, budget_bytes: float = DEFAULT_BUDGET_BYTES, progress: bool = False):
        self.name, self.budget_bytes, self.progress = name, budget_bytes, progress

    def make_algo(self) -> surprise.AlgoBase:
        raise NotImplementedError

    def required_bytes(
        self, n_ratings: int, n_users: int, n_movies: int, bytes_per_rating: float = SURPRISE_BYTES_PER_RATING
    ) -> float:
        """Estimated peak memory of a fit: the trainset's Python objects (the factors are small)."""
        return bytes_per_rating * n_ratings

    def fit(self, train: pd.DataFrame | TrainData) -> SurpriseModel:
        ratings = as_train_data(train).ratings
        sizes = len(ratings), ratings["user_id"].nunique(), ratings["movie_id"].nunique()
        check_budget(
            self.required_bytes(*sizes),
            self.budget_bytes,
            f"{self.name} (Surprise) on {len(ratings):,} ratings",
            "budget_bytes",
        )
        self.algo_ = self.make_algo().fit(to_trainset(ratings))
        return self

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        return predict_pairs(self.algo_, pairs, progress=self.progress)


class KNNBaseline(SurpriseModel):
    r"""Surprise's KNNBaseline with the pearson_baseline similarity (Koren 2010, section 2.2).

    Over users (``user_based=True``):

    .. math::
        \hat r_{ui} = b_{ui} + \frac{\sum_{v \in N^k_i(u)} s_{uv}\,(r_{vi} - b_{vi})}
                                    {\sum_{v \in N^k_i(u)} s_{uv}}

    where :math:`N^k_i(u)` are the k users with the highest similarity to u among those
    who rated i, keeping only :math:`s_{uv} > 0`. Over items, swap the roles. The
    similarity is the Pearson correlation of the baseline residuals over the
    :math:`n_{uv}` common items, shrunk: :math:`s_{uv} = \frac{n_{uv} - 1}{n_{uv} - 1 +
    \text{shrinkage}}\,\rho_{uv}`, and 0 below ``min_support`` common items (at least 2).
    Fewer than ``min_k`` neighbours: the baseline alone. Unknown user or item: the
    baseline with that bias 0. ``baseline`` gives the ALS/SGD settings of :math:`b_{ui}`.

    Surprise computes :math:`\rho_{uv}` (its ``pearson_baseline`` with shrinkage 0, in Cython: the
    reference implementation of the formula, kept for the neighbour search and prediction it feeds);
    the shrinkage is then applied by :func:`cfutils.core.similarity.shrinkage_factor`, the package's
    one copy of that rule, on the co-rating counts :math:`n_{uv}`
    (:func:`cfutils.core.similarity.pattern_gram`). The product is the one Surprise's own shrinkage
    computes, bit for bit (``tests/test_models.py``).

    Memory: Surprise builds five dense :math:`n \times n` matrices (n users or items),
    40 n² bytes; 5,000 users need 0.9 GiB, Netflix's 17,770 movies 12 GiB and its
    480,189 users 8.4 TiB. :meth:`required_bytes` adds them to the trainset.
    """

    def __init__(
        self,
        user_based: bool = True,
        k: int = 40,
        min_k: int = 1,
        shrinkage: float = 100.0,
        min_support: int = 2,
        baseline: BiasBaseline | None = None,
        name: str | None = None,
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
        progress: bool = False,
    ):
        super().__init__(name or ("knn_users" if user_based else "knn_items"), budget_bytes, progress)
        self.user_based, self.k, self.min_k, self.shrinkage, self.min_support = (
            user_based,
            k,
            min_k,
            shrinkage,
            min_support,
        )
        self.baseline = baseline or BiasBaseline()

    def required_bytes(
        self, n_ratings: int, n_users: int, n_movies: int, bytes_per_rating: float = SURPRISE_BYTES_PER_RATING
    ) -> float:
        n = n_users if self.user_based else n_movies
        return super().required_bytes(n_ratings, n_users, n_movies, bytes_per_rating) + KNN_BYTES_PER_CELL * n**2

    def fit(self, train: pd.DataFrame | TrainData) -> KNNBaseline:
        super().fit(train)
        if self.shrinkage > 0:
            sim = self.algo_.sim
            factor = shrinkage_factor(co_rating_counts(self.algo_.trainset, self.user_based), self.shrinkage)
            np.fill_diagonal(factor, 1.0)  # s_uu = 1, never shrunk (as in Surprise)
            sim *= factor
        return self

    def make_algo(self) -> surprise.KNNBaseline:
        sim_options = {  # unshrunk rho; fit() shrinks it
            "name": "pearson_baseline",
            "user_based": self.user_based,
            "shrinkage": 0,
            "min_support": self.min_support,
        }
        return surprise.KNNBaseline(
            k=self.k,
            min_k=self.min_k,
            sim_options=sim_options,
            bsl_options=self.baseline.surprise_options(),
            verbose=False,
        )


def co_rating_counts(trainset: surprise.Trainset, user_based: bool) -> np.ndarray:
    r"""Dense float64 :math:`n_{uv}`, the items two users both rated (``user_based``), or :math:`n_{ij}`,
    the users who rated both items, indexed by Surprise's inner ids; the diagonal holds each one's count."""
    triples = np.array(list(trainset.all_ratings()), dtype=np.float64).reshape(-1, 3)
    users, items = triples[:, 0].astype(np.int64), triples[:, 1].astype(np.int64)
    rows, columns = (items, users) if user_based else (users, items)
    shape = (trainset.n_items, trainset.n_users) if user_based else (trainset.n_users, trainset.n_items)
    pattern = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, columns)), shape=shape)
    return pattern_gram(pattern)


class SVD(SurpriseModel):
    r"""Biased matrix factorisation, Surprise's SVD (Koren 2010, section 5.1; Funk).

    :math:`\hat r_{ui} = \mu + b_u + b_i + q_i^T p_u`, fitted by SGD on the squared
    error with L2 penalty ``reg_all`` on :math:`b_u, b_i, p_u, q_i`, step ``lr_all``,
    ``n_epochs`` passes, factors drawn from :math:`N(0, 0.1^2)` with ``random_state``.
    Unknown user: :math:`b_u = 0` and no factor term; the same for an unknown item.
    """

    def __init__(
        self,
        n_factors: int = 50,
        n_epochs: int = 20,
        lr_all: float = 0.005,
        reg_all: float = 0.02,
        random_state: int = 0,
        name: str = "svd",
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
        progress: bool = False,
    ):
        super().__init__(name, budget_bytes, progress)
        self.n_factors, self.n_epochs, self.lr_all, self.reg_all, self.random_state = (
            n_factors,
            n_epochs,
            lr_all,
            reg_all,
            random_state,
        )

    def make_algo(self) -> surprise.SVD:
        return surprise.SVD(
            n_factors=self.n_factors,
            n_epochs=self.n_epochs,
            lr_all=self.lr_all,
            reg_all=self.reg_all,
            random_state=self.random_state,
        )


class SVDpp(SVD):
    r"""SVD++, Surprise's SVDpp (Koren 2008, section 4; Koren 2010, section 5.3).

    .. math::
        \hat r_{ui} = \mu + b_u + b_i + q_i^T\Big(p_u + |I_u|^{-1/2} \sum_{j \in I_u} y_j\Big)

    :math:`I_u` are the items u rated in train (implicit feedback: *that* u rated j).
    Same SGD settings as :class:`SVD`; each step also updates the :math:`y_j` of all of
    u's items, so an epoch costs about :math:`\sum_u |I_u|^2` factor updates.
    Unknown user or item: the baseline with that bias 0, no factor term.
    """

    def __init__(
        self,
        n_factors: int = 20,
        n_epochs: int = 20,
        lr_all: float = 0.007,
        reg_all: float = 0.02,
        random_state: int = 0,
        name: str = "svdpp",
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
        progress: bool = False,
    ):
        super().__init__(n_factors, n_epochs, lr_all, reg_all, random_state, name, budget_bytes, progress)

    def make_algo(self) -> surprise.SVDpp:
        return surprise.SVDpp(
            n_factors=self.n_factors,
            n_epochs=self.n_epochs,
            lr_all=self.lr_all,
            reg_all=self.reg_all,
            random_state=self.random_state,
            cache_ratings=True,
        )


class FeatureXGB:
    r"""XGBoost regression on the tutorial's 13 features (:mod:`cfutils.rating.features`).

    Features of a pair (u, i): GAvg, sur1..sur5 (ratings of i by the users most
    cosine-similar to u), smr1..smr5 (u's ratings of the movies most similar to i),
    UAvg, MAvg. Training rows get features computed from ``train``; predicted pairs
    get features from the same ``train`` only (no test ratings are read). The train set is
    kept as a :class:`~cfutils.core.train_data.TrainData` in ``train_``, so fit and every predict
    share one rating matrix and one set of neighbour lists. ``n`` and
    ``k`` are passed to :func:`cfutils.rating.features.similarity_features`; every other
    keyword goes to ``xgboost.XGBRegressor`` (default ``n_jobs=1``: on the shared 2-core
    development machine two OpenMP threads made 300 trees on 200k rows 10-20x slower).
    """

    def __init__(self, n: int = 5, k: int | None = None, name: str = "xgb_features", **xgb_params):
        self.n, self.k, self.name = n, k, name
        self.xgb_params = {
            "n_estimators": 100,
            "max_depth": 6,
            "learning_rate": 0.1,
            "random_state": 0,
            "n_jobs": 1,
            **xgb_params,
        }

    def features(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """The 13 features of ``pairs`` computed from the training set ``train_``."""
        return similarity_features(self.train_, pairs[PAIR_COLUMNS], n=self.n, k=self.k)

    def fit(self, train: pd.DataFrame | TrainData) -> FeatureXGB:
        import xgboost  # here, not at the top: it takes seconds to load, and most users of this module never fit it

        self.train_ = as_train_data(train)
        ratings = self.train_.ratings
        self.xgb_ = xgboost.XGBRegressor(**self.xgb_params).fit(self.features(ratings), ratings["rating"])
        return self

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        return self.xgb_.predict(self.features(pairs)).astype(np.float64)


def fit_each(models: Sequence, train: pd.DataFrame | TrainData) -> tuple[list, dict[str, float], dict[str, str]]:
    """Fit and time each model on ``train``: ``(fitted, fit_seconds, skipped)``.

    ``train`` is wrapped once (:func:`~cfutils.core.train_data.as_train_data`) and the same
    :class:`~cfutils.core.train_data.TrainData` goes to every model, so they share its matrix and
    neighbour lists; the first model that needs one pays for building it in its fit time.

    A model whose fit raises :class:`~cfutils.core.memory.MemoryBudgetError` is dropped from
    ``fitted`` and ``skipped[model.name]`` holds the reason, as in :func:`cfutils.rating.tuning.tune_each`.
    """
    data = as_train_data(train)
    fitted, seconds, skipped = [], {}, {}
    for model in models:
        try:
            seconds[model.name] = fit_timed(model, data)
        except MemoryBudgetError as error:
            skipped[model.name] = str(error)
        else:
            fitted.append(model)
    return fitted, seconds, skipped


# --------------------------------------------------------------------------- evaluation


def is_cold(train: pd.DataFrame | TrainData, pairs: pd.DataFrame) -> np.ndarray:
    """True for pairs whose user or movie has no rating in ``train`` (cold start)."""
    ratings = as_train_data(train).ratings
    return ~(
        pairs["user_id"].isin(ratings["user_id"]).to_numpy() & pairs["movie_id"].isin(ratings["movie_id"]).to_numpy()
    )


def activity_bucket(
    train: pd.DataFrame | TrainData, pairs: pd.DataFrame, edges: Sequence[int] = (1, 10, 50, 200)
) -> pd.Series:
    """Label each pair's user by their number of training ratings: ``"0 (cold)"``, ``"1-9"``, ..., ``"200+"``.

    ``edges`` are the lower bounds of the buckets after the cold one (increasing, first 1).
    """
    counts = pairs["user_id"].map(as_train_data(train).ratings["user_id"].value_counts()).fillna(0).to_numpy()
    labels = ["0 (cold)", *(f"{lo}-{hi - 1}" for lo, hi in zip(edges, edges[1:])), f"{edges[-1]}+"]
    bucket = np.searchsorted(np.asarray(edges), counts, side="right")
    return pd.Series(pd.Categorical.from_codes(bucket, labels), index=pairs.index, name="user_activity")
