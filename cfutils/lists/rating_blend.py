r"""Rating predictors turned into lists: item-kNN / MF candidates re-ranked by a predicted rating
blended with popularity (the lesson: a model trained for RMSE makes a poor list on its own).

Baseline :math:`b_{ui} = \mu + b_u + b_i`: :class:`cfutils.rating.models.BiasBaseline` (ALS,
``reg_user``, ``reg_item``).

Similarity :math:`S`: ``cosine_top_k(R.T, n_neighbours)``, each movie's
``n_neighbours`` most cosine-similar movies over the train rating vectors, made
symmetric with :math:`S \leftarrow \max(S, S^T)` (cosine is symmetric, a top-k cut is
not). :math:`N(i)` is the row of movie i.

Matrix factorisation: a rank-``n_factors`` truncated SVD of the residual matrix
(:math:`r_{ui} - b_{ui}` on rated cells, 0 elsewhere):
:math:`\hat r_{ui} = b_{ui} + p_u^T q_i`.

Candidates (stage 1): the neighbours :math:`N(j)` of every movie j the user liked
(:math:`r_{uj} \ge \min(\bar r_u, 4)`), and the ``n_mf_candidates`` unrated movies with
the best MF score plus popularity term (below), so that with ``scorer="mf"`` the list
equals ranking every movie. Scores (stage 2), chosen by ``scorer``:

``"item_knn"``
    :math:`\hat r_{ui} = b_{ui} + \frac{\sum_{j \in N(i) \cap I_u} s_{ij} (r_{uj} - b_{uj})}
    {\sum_{j \in N(i) \cap I_u} s_{ij}}` (Surprise's KNNBaseline with the top-k graph as
    neighbourhood); :math:`b_{ui}` when the user rated no neighbour of i.
``"mf"``
    :math:`\hat r_{ui} = b_{ui} + p_u^T q_i`.
a :class:`RatingModel`
    ``model.predict(frame[user_id, movie_id])``, e.g. the best model of notebook 05. If it
    has a ``fit(train)`` method, :meth:`fit` fits a copy of it (``self.model_``) on the same
    train, so tuning on a validation split never sees validation ratings; otherwise it is
    used as given (already fitted).
a callable ``(user_idx, movie_idx) -> scores``
    on compact indices of ``self.matrix_``.

The list ranks by :math:`\hat r_{ui} + \lambda \log(1 + |U_i|)` with
:math:`\lambda` = ``popularity_weight`` and :math:`|U_i|` the train count of the movie.
A rating predictor alone favours obscure movies with few, high ratings; the blend
trades that against what people actually watch. :math:`\lambda` only acts at ranking
time, so it can be tuned on a fitted model (:func:`tune_popularity_weight`).

Edge cases: a user unknown to train gets the fallback (the most rated movies of the
last ``fallback_days`` days of train); a movie unknown to train is never a candidate.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from tqdm.auto import tqdm

from cfutils.core.matrix import with_data
from cfutils.core.memory import DEFAULT_BUDGET_BYTES, check_budget
from cfutils.core.train_data import TrainData
from cfutils.data.split import sample_ids, validation_cut
from cfutils.eval.metrics import ranking_metrics
from cfutils.lists.explain import ExplainedByRatedMovies
from cfutils.lists.lists import ListRecommender, batch_size, top_n_indices
from cfutils.rating.models import BiasBaseline

DENSE_SVD_MAX_CELLS = 4_000_000
"""Up to this many matrix cells (32 MB as float64) the SVD is a dense LAPACK one, above it ARPACK's ``svds``."""


class RatingModel(Protocol):
    """Anything with ``predict(pairs) -> np.ndarray`` for a frame ``[user_id, movie_id]``.

    The models of :mod:`cfutils.rating.models` (baseline, Surprise adapters, the stack) fit it.
    """

    def predict(self, pairs: pd.DataFrame) -> np.ndarray: ...


Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``scorer(user_idx, movie_idx) -> scores``: compact-index pairs of equal length -> one score each."""


def residual_svd(residuals: sp.csr_matrix, rank: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rank-``rank`` truncated SVD of a residual matrix as (user factors U·S, item factors V).

    Dense LAPACK up to :data:`DENSE_SVD_MAX_CELLS` cells (exact, robust where ARPACK is not),
    ARPACK's ``svds`` (start vector seeded by ``seed``) above. Zero columns when ``rank < 1``.
    """
    n_users, n_movies = residuals.shape
    if rank < 1 or residuals.nnz == 0:
        return np.zeros((n_users, 0)), np.zeros((n_movies, 0))
    residuals = residuals.astype(np.float64)
    if n_users * n_movies <= DENSE_SVD_MAX_CELLS:
        u, s, vt = np.linalg.svd(residuals.toarray(), full_matrices=False)
        u, s, vt = u[:, :rank], s[:rank], vt[:rank]
    else:
        v0 = np.random.default_rng(seed).standard_normal(min(residuals.shape))
        u, s, vt = svds(residuals, k=rank, v0=v0)
    return u * s, vt.T


def neighbour_deviation(
    residuals: sp.csr_matrix,
    rated: sp.csr_matrix,
    similarity: sp.csr_matrix,
    user_idx: np.ndarray,
    movie_idx: np.ndarray,
    users_per_batch: int,
    progress: bool = False,
) -> np.ndarray:
    r""":math:`\sum_{j} s_{ij}(r_{uj} - b_{uj}) / \sum_{j} s_{ij}` over the rated neighbours j of i, per pair.

    The distinct users are processed ``users_per_batch`` at a time (two dense rows per user
    plus the sparse products), so any number of pairs fits; 0 where the user rated no
    neighbour of i.
    """
    users, row = np.unique(user_idx, return_inverse=True)
    order = np.argsort(row, kind="stable")
    starts = np.arange(0, users.size, users_per_batch)
    cuts = np.searchsorted(row[order], np.r_[starts, users.size])
    num, den = np.zeros(user_idx.size), np.zeros(user_idx.size)
    batches = tqdm(starts, desc="item-kNN", unit="batch", disable=not progress or starts.size < 2)
    for k, start in enumerate(batches):
        pick = order[cuts[k] : cuts[k + 1]]
        batch, local = users[start : start + users_per_batch], row[pick] - start
        num[pick] = (residuals[batch] @ similarity).toarray()[local, movie_idx[pick]]
        den[pick] = (rated[batch] @ similarity).toarray()[local, movie_idx[pick]]
    return np.divide(num, den, out=np.zeros(num.shape), where=den > 0)


def model_scorer(model: RatingModel, matrix) -> Scorer:
    """A :data:`Scorer` on compact indices of ``matrix`` from a model's ``predict(frame[user_id, movie_id])``."""

    def predict(user_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        pairs = pd.DataFrame({"user_id": matrix.user_ids[user_idx], "movie_id": matrix.movie_ids[movie_idx]})
        return np.asarray(model.predict(pairs), dtype=np.float64)

    return predict


def factor_dots(
    user_factors: np.ndarray, item_factors: np.ndarray, user_idx: np.ndarray, movie_idx: np.ndarray, budget_bytes: float
) -> np.ndarray:
    """:math:`p_u^T q_i` of each pair ``(user_idx[k], movie_idx[k])``, in chunks whose gathered factor
    rows fit ``budget_bytes``; :class:`cfutils.core.memory.MemoryBudgetError` if not even one pair fits."""
    per_pair = 8 * (2 * user_factors.shape[1] + 4)
    check_budget(per_pair, budget_bytes, "scoring one pair with MF", "budget_bytes")
    size = int(max(1, budget_bytes // per_pair))
    dots = np.zeros(user_idx.size)
    for start in range(0, user_idx.size, size):
        part = slice(start, start + size)
        dots[part] = np.einsum("ij,ij->i", user_factors[user_idx[part]], item_factors[movie_idx[part]])
    return dots


class Recommender(ExplainedByRatedMovies, ListRecommender):
    r"""Two-stage top-N: item-kNN and matrix-factorisation candidates, re-ranked by a rating
    predictor blended with popularity, :math:`\hat r_{ui} + \lambda \log(1 + |U_i|)`.

    The formulas of the baseline, the similarity graph, the factors, the candidates and the
    scorers (``"item_knn"``, ``"mf"``, a :class:`RatingModel` or a callable) are in the module
    docstring. A user unknown to train gets the fallback; a movie unknown to train is never a
    candidate.
    """

    def __init__(
        self,
        scorer: str | RatingModel | Scorer = "item_knn",
        n_neighbours: int = 50,
        n_factors: int = 50,
        n_mf_candidates: int = 100,
        popularity_weight: float = 0.0,
        like_threshold: float = 4.0,
        reg_user: float = 15.0,
        reg_item: float = 10.0,
        fallback_days: int | None = 30,
        explain_with: int = 2,
        seed: int = 0,
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
        progress: bool = False,
    ):
        self.scorer = scorer
        self.n_neighbours = n_neighbours
        self.n_factors = n_factors
        self.n_mf_candidates = n_mf_candidates
        self.popularity_weight = popularity_weight
        self.like_threshold = like_threshold
        self.reg_user = reg_user
        self.reg_item = reg_item
        self.fallback_days = fallback_days
        self.explain_with = explain_with
        self.unexplained_reason = "users with similar taste (matrix factorisation)"
        self.seed = seed
        self.budget_bytes = budget_bytes
        self.progress = progress

    # -- fit ---------------------------------------------------------------------------------------------

    def _fit(self, data: TrainData) -> None:
        m = self.matrix_
        biases = BiasBaseline(reg_u=self.reg_user, reg_i=self.reg_item).fit(data.ratings)
        self.b_user_, self.b_item_ = np.zeros(m.n_users), np.zeros(m.n_movies)
        self.b_user_[m.user_index(biases.user_ids_)] = biases.bu_
        self.b_item_[m.movie_index(biases.movie_ids_)] = biases.bi_
        user_of_cell = np.repeat(np.arange(m.n_users), m.user_counts)
        baseline_of_cell = m.global_mean + self.b_user_[user_of_cell] + self.b_item_[m.csr.indices]
        self._residuals_ = with_data(m.csr, m.csr.data - baseline_of_cell)
        liked = m.csr.data >= np.minimum(m.user_means()[user_of_cell], self.like_threshold)
        self._liked_ = with_data(m.csr, liked.astype(np.float32))
        self._liked_.eliminate_zeros()
        self._rated_ = with_data(m.csr, np.ones(m.nnz, np.float32))
        sim = data.neighbours("movies", self.n_neighbours, budget_bytes=self.budget_bytes, progress=self.progress)
        self.similarity_ = sim.maximum(sim.T).tocsr()
        rank = min(self.n_factors, min(m.n_users, m.n_movies) - 1)
        check_budget((m.n_users + m.n_movies) * max(rank, 0) * 8 * 3, self.budget_bytes, "SVD factors", "n_factors")
        self.user_factors_, self.item_factors_ = residual_svd(self._residuals_, rank, self.seed)
        self.log_popularity_ = np.log1p(m.movie_counts.astype(np.float64))
        self.model_ = copy.deepcopy(self.scorer).fit(data.ratings) if hasattr(self.scorer, "fit") else self.scorer

    # -- scoring -----------------------------------------------------------------------------------------

    def baseline(self, user_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        """:math:`b_{ui} = \\mu + b_u + b_i` for compact-index pairs."""
        return self.matrix_.global_mean + self.b_user_[user_idx] + self.b_item_[movie_idx]

    def item_knn_scores(self, user_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        """The ``"item_knn"`` prediction (class docstring) for compact-index pairs.

        The distinct users are processed in batches sized to ``budget_bytes`` (two dense
        float64 rows per user, plus the sparse products), so any number of pairs fits;
        :class:`cfutils.core.memory.MemoryBudgetError` if not even one user fits.
        """
        deviation = neighbour_deviation(
            self._residuals_,
            self._rated_,
            self.similarity_,
            user_idx,
            movie_idx,
            batch_size(self.matrix_.n_movies, self.budget_bytes, dense_arrays=4),
            self.progress,
        )
        return self.baseline(user_idx, movie_idx) + deviation

    def mf_scores(self, user_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        """The ``"mf"`` prediction :math:`b_{ui} + p_u^T q_i` for compact-index pairs.

        Pairs are processed in chunks sized to ``budget_bytes`` (:func:`factor_dots`).
        """
        dots = factor_dots(self.user_factors_, self.item_factors_, user_idx, movie_idx, self.budget_bytes)
        return self.baseline(user_idx, movie_idx) + dots

    def _scorer(self) -> Scorer:
        if isinstance(self.scorer, str):
            named = {"item_knn": self.item_knn_scores, "mf": self.mf_scores}
            if self.scorer not in named:
                raise ValueError(f"unknown scorer {self.scorer!r}; use one of {sorted(named)} or a model")
            return named[self.scorer]
        if hasattr(self.scorer, "predict"):
            return model_scorer(self.model_, self.matrix_)
        return self.scorer

    def candidates(self, user_idx: np.ndarray) -> np.ndarray:
        """Dense (batch x movies) True for the stage-1 candidates of known users (rated movies excluded)."""
        neighbours = (self._liked_[user_idx] @ self.similarity_).toarray() > 0
        rated = self.rated_mask(user_idx)
        if self.n_mf_candidates > 0 and self.item_factors_.shape[1]:
            mf = (
                self.user_factors_[user_idx] @ self.item_factors_.T
                + self.b_item_
                + self.popularity_weight * self.log_popularity_
            )
            mf[rated] = -np.inf
            top = top_n_indices(mf, self.n_mf_candidates)
            rows = np.repeat(np.arange(user_idx.size), top.shape[1])
            keep = top.ravel() >= 0
            neighbours[rows[keep], top.ravel()[keep]] = True
        return neighbours & ~rated

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        rows, movies = np.nonzero(self.candidates(user_idx))
        scores = np.full((user_idx.size, self.matrix_.n_movies), -np.inf)
        if rows.size:
            scored = self._scorer()(user_idx[rows], movies)
            scores[rows, movies] = scored + self.popularity_weight * self.log_popularity_[movies]
        return scores

    def score(self, pairs: pd.DataFrame) -> np.ndarray:
        """Ranking score of each (user_id, movie_id) pair of a frame (candidate or not); NaN for an
        unknown user or movie. The named scorers work in batches sized to ``budget_bytes``."""
        user_idx = self.matrix_.user_index(pairs["user_id"].to_numpy())
        movie_idx = self.matrix_.movie_index(pairs["movie_id"].to_numpy())
        known = (user_idx >= 0) & (movie_idx >= 0)
        out = np.full(len(pairs), np.nan)
        if known.any():
            u, i = user_idx[known], movie_idx[known]
            out[known] = self._scorer()(u, i) + self.popularity_weight * self.log_popularity_[i]
        return out

    # -- explanations ------------------------------------------------------------------------------------

    def item_weights(self, user_idx: int, rated_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        """Similarity of each recommendation to each rated movie the user *liked* (0 for the others)."""
        liked = np.isin(rated_idx, self._liked_[user_idx].indices)
        return self.similarity_[movie_idx][:, rated_idx].toarray() * liked[None, :]


def tune_popularity_weight(
    recommender: Recommender,
    train: pd.DataFrame,
    weights: Iterable[float] = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
    split: str = "per_user_time",
    validation_size: float = 0.2,
    n: int = 10,
    threshold: float = 4.0,
    max_users: int | None = None,
    seed: int = 0,
) -> tuple[float, pd.DataFrame]:
    """Choose :math:`\\lambda` (``popularity_weight``) by NDCG@n on a validation split of *train*.

    The validation part is cut from train by the rule :func:`cfutils.data.split.validation_split_for`
    gives lists under the test split ``split`` (its own rule, :func:`cfutils.data.split.validation_cut`
    with ``lists=True``); a copy of ``recommender`` is
    fit on the rest once, and every weight re-ranks its lists. The test set is never
    touched. ``max_users`` (None: all) caps the validation users scored to a random sample
    of that size (``seed``), as large data needs. Returns the best weight (ties: the first in ``weights``) and the table
    ``[popularity_weight, ndcg@n]``. ``recommender`` itself is left unfitted and unchanged.
    """
    fit_part, validation = validation_cut(train, split, validation_size, lists=True, seed=seed)
    model = copy.copy(recommender).fit(fit_part)
    users = sample_ids(np.unique(validation["user_id"].to_numpy()), max_users, seed)
    validation = validation[validation["user_id"].isin(users)]
    rows = []
    for weight in weights:
        model.popularity_weight = float(weight)
        lists = model.top_n_batch(users, n)
        ndcg = ranking_metrics(lists, validation, (n,), threshold)[f"ndcg@{n}"]
        rows.append({"popularity_weight": float(weight), f"ndcg@{n}": ndcg})
    table = pd.DataFrame(rows, columns=["popularity_weight", f"ndcg@{n}"])
    scored = table.dropna()
    if scored.empty:  # no validation user with a relevant item: keep the current weight
        return float(recommender.popularity_weight), table
    return float(scored.loc[scored[f"ndcg@{n}"].idxmax(), "popularity_weight"]), table
