r"""From predicted scores to top-N lists: candidate generation, re-ranking, cold start and baselines.

Every recommender here is fit on a train ratings frame and answers two calls:

* ``top_n(user_id, n)``: one user's list as a frame ``[movie_id, title, year, score, because]``;
* ``top_n_batch(user_ids, n)``: the long frame ``[user_id, rank, movie_id, score]`` that
  :func:`cfutils.metrics.ranking_metrics` evaluates.

Rules shared by all of them:

* A movie the user rated in train is never recommended.
* Ties in score go to the smaller movie id, so every list is reproducible.
* A user unknown to train (cold start) gets the *fallback*: the most rated movies of the
  last ``fallback_days`` days of train (:class:`PopularRecommender` with a window). Recent
  popularity is what a new visitor is most likely to watch next.
* A movie with no train rating has no neighbours, no factors and no popularity, so it is
  never a candidate: no model here can recommend it. It becomes reachable once it has
  ratings (after the next fit); until then only an editorial list could surface it.
* Padding: when fewer than ``n`` movies are left to recommend, the list is shorter.

:class:`Recommender` works in two stages, as production systems do:

1. **Candidates.** (a) item-kNN: the movies the user *liked* (:math:`r_{uj} \ge
   \min(\bar r_u, 4)`) and their ``n_neighbours`` most similar movies from the sparse
   graph :math:`S` of :func:`cfutils.similarity.cosine_top_k`; (b) matrix factorisation:
   the ``n_mf_candidates`` best unrated movies by the truncated-SVD score. Both are sparse
   products or one small dense product per batch of users.
2. **Re-ranking.** A scorer, possibly an expensive model, scores only the candidates.
   Scoring every movie with the stacked model does not scale: at 17,770 movies and
   480,189 users that is 8.5 billion predictions.

Candidates run short for a user who liked few movies; the list is then filled with the
fallback, whose rows say ``because = "popular recently"``. The ``score`` column is the
recommender's own score on its rows and the fallback's *rating count* on fallback rows:
the two scales differ, so compare scores only within one source.
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

from cfutils.matrix import RatingMatrix
from cfutils.memory import DEFAULT_BUDGET_BYTES, check_budget
from cfutils.metrics import ranking_metrics
from cfutils.models import BiasBaseline
from cfutils.similarity import cosine_top_k
from cfutils.split import make_split

LIST_COLUMNS = ["movie_id", "title", "year", "score", "because"]
BATCH_COLUMNS = ["user_id", "rank", "movie_id", "score"]
FALLBACK_REASON = "popular recently"
DENSE_SVD_MAX_CELLS = 4_000_000
"""Up to this many matrix cells (32 MB as float64) the SVD is a dense LAPACK one, above it ARPACK's ``svds``."""


class RatingModel(Protocol):
    """Anything with ``predict(pairs) -> np.ndarray`` for a frame ``[user_id, movie_id]``.

    The models of :mod:`cfutils.models` (baseline, Surprise adapters, the stack) fit it.
    """

    def predict(self, pairs: pd.DataFrame) -> np.ndarray: ...


Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``scorer(user_idx, movie_idx) -> scores``: compact-index pairs of equal length -> one score each."""


# ---- shared machinery -----------------------------------------------------------------------------


def top_n_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Column indices of the ``n`` largest finite scores of each row, best first, padded with -1.

    Ties go to the smaller column index. ``-inf`` and NaN mark columns that may not be
    chosen. Costs one ``np.partition`` per row plus a sort of the (few) columns at or
    above the n-th largest value, never a full sort of the row.
    """
    n_rows, n_cols = scores.shape
    out = np.full((n_rows, n), -1, dtype=np.int64)
    if n_cols == 0 or n == 0:
        return out
    clean = np.where(np.isnan(scores), -np.inf, scores)
    kth = -np.partition(-clean, min(n, n_cols) - 1, axis=1)[:, min(n, n_cols) - 1]
    rows, cols = np.nonzero((clean >= kth[:, None]) & np.isfinite(clean))
    order = np.lexsort((cols, -clean[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    starts = np.searchsorted(rows, np.arange(n_rows))
    rank = np.arange(rows.size) - starts[rows]
    keep = rank < n
    out[rows[keep], rank[keep]] = cols[keep]
    return out


def _batch_size(n_movies: int, budget_bytes: float, dense_arrays: int = 8) -> int:
    """Users per batch so that ``dense_arrays`` float64 arrays of (batch x movies) fit the budget."""
    per_user = max(n_movies, 1) * 8 * dense_arrays
    check_budget(per_user, budget_bytes, "scoring one user against every movie", "budget_bytes")
    return int(max(1, min(4096, budget_bytes // per_user)))


def _titles_of(movie_ids: np.ndarray, titles: pd.DataFrame | None) -> pd.DataFrame:
    """``title`` and ``year`` of each movie id; "movie <id>" and <NA> where unknown."""
    if titles is None:
        titles = pd.DataFrame({"title": pd.Series(dtype=str), "year": pd.Series(dtype="Int32")})
    found = titles.reindex(movie_ids)
    return pd.DataFrame(
        {
            "title": found["title"].fillna(pd.Series([f"movie {m}" for m in movie_ids], index=found.index)),
            "year": found["year"].astype("Int32"),
        }
    ).reset_index(drop=True)


class _ListRecommender:
    """Shared ``top_n`` / ``top_n_batch`` on top of a subclass's dense batch scores.

    Subclasses implement ``_fit(train)`` and ``_scores(user_idx) -> (batch x movies)``
    (``-inf`` = not a candidate) for users known to train; unknown users get the fallback.
    """

    budget_bytes: float = DEFAULT_BUDGET_BYTES
    fallback_days: int | None = None

    def fit(self, train: pd.DataFrame, titles: pd.DataFrame | None = None):
        """Fit on a train ratings frame; ``titles`` (index ``movie_id``) only feeds ``top_n``. Returns self."""
        self.matrix = RatingMatrix.from_ratings(train)
        self.titles = titles
        self.fallback_scores = _popularity_scores(train, self.matrix, self.fallback_days)
        self._fit(train)
        return self

    def _fit(self, train: pd.DataFrame) -> None:
        pass

    def _scores(self, user_idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _rated_mask(self, user_idx: np.ndarray) -> np.ndarray:
        """Dense (batch x movies) True where the user rated the movie in train; all False for new users."""
        rated = np.zeros((user_idx.size, self.matrix.n_movies), dtype=bool)
        known = np.flatnonzero(user_idx >= 0)
        if known.size:
            sub = self.matrix.csr[user_idx[known]]
            rated[np.repeat(known, np.diff(sub.indptr)), sub.indices] = True
        return rated

    def _lists(self, user_idx: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(movie_idx, score, from_fallback) arrays of shape (batch, n), -1 / NaN padded."""
        rated = self._rated_mask(user_idx)
        scores = np.repeat(self.fallback_scores[None, :], user_idx.size, axis=0)
        known = user_idx >= 0
        if known.any():
            scores[known] = self._scores(user_idx[known])
        scores[rated] = -np.inf
        chosen = top_n_indices(scores, n)
        from_fallback = np.repeat(~known[:, None], n, axis=1) & (chosen >= 0)
        short = np.flatnonzero(chosen[:, -1] < 0) if n else np.array([], dtype=np.int64)
        if short.size:
            fill = np.where(rated[short], -np.inf, self.fallback_scores[None, :])
            rows, ranks = np.nonzero(chosen[short] >= 0)
            fill[rows, chosen[short][rows, ranks]] = -np.inf  # already in the list
            extra = top_n_indices(fill, n)
            for row, user_row in enumerate(short):  # only users with too few candidates
                have = int((chosen[user_row] >= 0).sum())
                add = extra[row, : n - have]
                chosen[user_row, have:] = add
                from_fallback[user_row, have:] = add >= 0
        picked = np.take_along_axis(scores, np.maximum(chosen, 0), axis=1)
        fallback_picked = self.fallback_scores[np.maximum(chosen, 0)]
        score = np.where(chosen < 0, np.nan, np.where(from_fallback, fallback_picked, picked))
        return chosen, score, from_fallback

    def top_n_batch(self, user_ids: Iterable[int], n: int = 10, progress: bool = False) -> pd.DataFrame:
        """Lists of many users as the long frame ``[user_id, rank, movie_id, score]`` (rank 1-based).

        Users are processed in batches sized to ``budget_bytes``; padding is dropped, so a
        user with fewer than ``n`` recommendable movies has fewer rows.

        ``score`` mixes two scales: on rows from the recommender it is the recommender's
        score (e.g. a predicted rating plus the popularity term); on rows filled from the
        fallback (every row of a user unknown to train, and the tail of a list whose
        candidates ran short) it is the fallback's number of train ratings of the movie in
        the last ``fallback_days`` days. Ranks stay consistent; the values are not comparable
        across the two sources.
        """
        user_ids = np.asarray(list(user_ids) if not isinstance(user_ids, np.ndarray) else user_ids, dtype=np.int64)
        size = _batch_size(self.matrix.n_movies, self.budget_bytes)
        parts = []
        starts = range(0, user_ids.size, size)
        for start in tqdm(starts, desc="top-N", unit="batch", disable=not progress):
            batch = user_ids[start : start + size]
            chosen, score, _ = self._lists(self.matrix.user_index(batch), n)
            rows, ranks = np.nonzero(chosen >= 0)
            parts.append(
                pd.DataFrame(
                    {
                        "user_id": batch[rows].astype(np.int32),
                        "rank": (ranks + 1).astype(np.int16),
                        "movie_id": self.matrix.movie_ids[chosen[rows, ranks]],
                        "score": score[rows, ranks],
                    }
                )
            )
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=BATCH_COLUMNS)

    def top_n(self, user_id: int, n: int = 10) -> pd.DataFrame:
        """One user's list: ``[movie_id, title, year, score, because]``, best first.

        A user unknown to train gets the fallback list (``because = "popular recently"``).
        ``score`` is the recommender's score, except on rows whose ``because`` is
        ``"popular recently"``: there it is the fallback's recent rating *count*, on another
        scale (see :meth:`top_n_batch`).
        """
        user_idx = self.matrix.user_index([user_id])
        chosen, score, from_fallback = self._lists(user_idx, n)
        keep = chosen[0] >= 0
        movie_idx = chosen[0][keep]
        movie_ids = self.matrix.movie_ids[movie_idx]
        because = self._explain(int(user_idx[0]), movie_idx, from_fallback[0][keep])
        frame = pd.concat(
            [pd.DataFrame({"movie_id": movie_ids}), _titles_of(movie_ids, self.titles)], axis=1
        )
        frame["score"] = score[0][keep]
        frame["because"] = because
        return frame[LIST_COLUMNS]

    def _explain(self, user_idx: int, movie_idx: np.ndarray, from_fallback: np.ndarray) -> list[str]:
        return [FALLBACK_REASON if fb else self.reason for fb in from_fallback]

    reason = ""


def _popularity_scores(train: pd.DataFrame, matrix: RatingMatrix, window_days: int | None) -> np.ndarray:
    """Number of train ratings of each movie (compact order) in the last ``window_days`` days of train (None = all)."""
    recent = train
    if window_days is not None and len(train):
        recent = train[train["date"] > train["date"].max() - pd.Timedelta(days=window_days)]
    counts = np.bincount(matrix.movie_index(recent["movie_id"].to_numpy()), minlength=matrix.n_movies)
    return counts.astype(np.float64)


# ---- baselines ------------------------------------------------------------------------------------------


class PopularRecommender(_ListRecommender):
    r"""Most popular: :math:`\mathrm{score}(u, i) = |\{v : r_{vi} \in \text{train}, \text{date} > t_{max} - w\}|`.

    The number of train ratings of the movie, counted over the last ``window_days`` days of
    train (``None``: all of train). The same list for everyone, minus what each user rated.
    A strong baseline for ranking: people mostly rate what everybody watches.
    """

    reason = "popular"

    def __init__(self, window_days: int | None = None, budget_bytes: float = DEFAULT_BUDGET_BYTES):
        self.window_days = window_days
        self.fallback_days = window_days
        self.budget_bytes = budget_bytes

    def _scores(self, user_idx: np.ndarray) -> np.ndarray:
        return np.repeat(self.fallback_scores[None, :], user_idx.size, axis=0)


class TopRatedRecommender(_ListRecommender):
    r"""Highest damped mean: :math:`\mathrm{score}(i) = \frac{\sum_{u} r_{ui} + m\,\mu}{|U_i| + m}`.

    The movie's mean rating shrunk toward the global mean :math:`\mu` by ``damping`` = m
    pseudo-ratings, so a movie with two 5-star ratings does not top the chart. Movies with
    fewer than ``min_support`` ratings are not candidates. Cold-start users get the
    popularity fallback (``fallback_days``), like every recommender here.
    """

    reason = "highly rated"

    def __init__(
        self,
        damping: float = 10.0,
        min_support: int = 5,
        fallback_days: int | None = None,
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
    ):
        self.damping = damping
        self.min_support = min_support
        self.fallback_days = fallback_days
        self.budget_bytes = budget_bytes

    def _fit(self, train: pd.DataFrame) -> None:
        counts = self.matrix.movie_counts
        sums = np.asarray(self.matrix.csc.sum(axis=0, dtype=np.float64)).ravel()
        damped = (sums + self.damping * self.matrix.global_mean) / (counts + self.damping)
        self.item_scores = np.where(counts >= self.min_support, damped, -np.inf)

    def _scores(self, user_idx: np.ndarray) -> np.ndarray:
        return np.repeat(self.item_scores[None, :], user_idx.size, axis=0)


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a fixed, well-mixed uint64 hash of each entry."""
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class RandomRecommender(_ListRecommender):
    """Uniformly random unrated movies: :math:`\\mathrm{score}(u, i) = h(\\text{seed}, u, i) \\in [0, 1)`.

    The score is a hash of (seed, user id, movie id), so a user's list depends only on
    the seed, never on which other users share the batch. The floor every model must beat.
    """

    reason = "random pick"

    def __init__(self, seed: int = 0, fallback_days: int | None = None, budget_bytes: float = DEFAULT_BUDGET_BYTES):
        self.seed = seed
        self.fallback_days = fallback_days
        self.budget_bytes = budget_bytes

    def _scores(self, user_idx: np.ndarray) -> np.ndarray:
        raw_users = self.matrix.user_ids[user_idx].astype(np.uint64)
        with np.errstate(over="ignore"):
            key = _mix64(np.uint64(self.seed) * np.uint64(0x9E3779B97F4A7C15) + raw_users)
        hashed = _mix64(key[:, None] ^ self.matrix.movie_ids.astype(np.uint64)[None, :])
        return (hashed >> np.uint64(11)).astype(np.float64) / float(2**53)


# ---- the two-stage recommender -------------------------------------------------------------------------


def _with_data(csr: sp.csr_matrix, data: np.ndarray) -> sp.csr_matrix:
    """A CSR matrix with the sparsity pattern of ``csr`` (copied, never shared) and new cell values."""
    return sp.csr_matrix((data, csr.indices.copy(), csr.indptr.copy()), shape=csr.shape)


class Recommender(_ListRecommender):
    r"""Two-stage top-N: item-kNN and matrix-factorisation candidates, re-ranked by a scorer.

    Baseline :math:`b_{ui} = \mu + b_u + b_i`: :class:`cfutils.models.BiasBaseline` (ALS,
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
        on compact indices of ``self.matrix``.

    The list ranks by :math:`\hat r_{ui} + \lambda \log(1 + |U_i|)` with
    :math:`\lambda` = ``popularity_weight`` and :math:`|U_i|` the train count of the movie.
    A rating predictor alone favours obscure movies with few, high ratings; the blend
    trades that against what people actually watch. :math:`\lambda` only acts at ranking
    time, so it can be tuned on a fitted model (:func:`tune_popularity_weight`).

    Edge cases: a user unknown to train gets the fallback (the most rated movies of the
    last ``fallback_days`` days of train); a movie unknown to train is never a candidate.
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
        self.seed = seed
        self.budget_bytes = budget_bytes
        self.progress = progress

    # -- fit ---------------------------------------------------------------------------------------------

    def _fit(self, train: pd.DataFrame) -> None:
        m = self.matrix
        biases = BiasBaseline(reg_u=self.reg_user, reg_i=self.reg_item).fit(train)
        self.b_user, self.b_item = np.zeros(m.n_users), np.zeros(m.n_movies)
        self.b_user[m.user_index(biases.user_ids_)] = biases.bu_
        self.b_item[m.movie_index(biases.movie_ids_)] = biases.bi_
        user_of_cell = np.repeat(np.arange(m.n_users), m.user_counts)
        baseline_of_cell = m.global_mean + self.b_user[user_of_cell] + self.b_item[m.csr.indices]
        self._residuals = _with_data(m.csr, m.csr.data - baseline_of_cell)
        liked = m.csr.data >= np.minimum(m.user_means()[user_of_cell], self.like_threshold)
        self._liked = _with_data(m.csr, liked.astype(np.float32))
        self._liked.eliminate_zeros()
        self._rated = _with_data(m.csr, np.ones(m.nnz, np.float32))
        sim = cosine_top_k(m.csc.T.tocsr(), self.n_neighbours, budget_bytes=self.budget_bytes, progress=self.progress)
        self.similarity = sim.maximum(sim.T).tocsr()
        self._fit_factors()
        self.log_popularity = np.log1p(m.movie_counts.astype(np.float64))
        self.model_ = copy.deepcopy(self.scorer).fit(train) if hasattr(self.scorer, "fit") else self.scorer

    def _fit_factors(self) -> None:
        m = self.matrix
        rank = min(self.n_factors, min(m.n_users, m.n_movies) - 1)
        check_budget((m.n_users + m.n_movies) * max(rank, 0) * 8 * 3, self.budget_bytes, "SVD factors", "n_factors")
        if rank < 1 or self._residuals.nnz == 0:
            self.user_factors = np.zeros((m.n_users, 0))
            self.item_factors = np.zeros((m.n_movies, 0))
            return
        residuals = self._residuals.astype(np.float64)
        if m.n_users * m.n_movies <= DENSE_SVD_MAX_CELLS:  # exact, and robust where ARPACK is not
            u, s, vt = np.linalg.svd(residuals.toarray(), full_matrices=False)
            u, s, vt = u[:, :rank], s[:rank], vt[:rank]
        else:
            v0 = np.random.default_rng(self.seed).standard_normal(min(m.csr.shape))
            u, s, vt = svds(residuals, k=rank, v0=v0)
        self.user_factors = u * s
        self.item_factors = vt.T

    # -- scoring -----------------------------------------------------------------------------------------

    def baseline(self, user_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        """:math:`b_{ui} = \\mu + b_u + b_i` for compact-index pairs."""
        return self.matrix.global_mean + self.b_user[user_idx] + self.b_item[movie_idx]

    def item_knn_scores(self, user_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        """The ``"item_knn"`` prediction (class docstring) for compact-index pairs.

        The distinct users are processed in batches sized to ``budget_bytes`` (two dense
        float64 rows per user, plus the sparse products), so any number of pairs fits;
        :class:`cfutils.memory.MemoryBudgetError` if not even one user fits.
        """
        users, row = np.unique(user_idx, return_inverse=True)
        size = _batch_size(self.matrix.n_movies, self.budget_bytes, dense_arrays=4)
        order = np.argsort(row, kind="stable")
        starts = np.arange(0, users.size, size)
        cuts = np.searchsorted(row[order], np.r_[starts, users.size])
        num, den = np.zeros(user_idx.size), np.zeros(user_idx.size)
        batches = tqdm(starts, desc="item-kNN", unit="batch", disable=not self.progress or starts.size < 2)
        for k, start in enumerate(batches):
            pick = order[cuts[k] : cuts[k + 1]]
            batch, local = users[start : start + size], row[pick] - start
            num[pick] = (self._residuals[batch] @ self.similarity).toarray()[local, movie_idx[pick]]
            den[pick] = (self._rated[batch] @ self.similarity).toarray()[local, movie_idx[pick]]
        deviation = np.divide(num, den, out=np.zeros(num.shape), where=den > 0)
        return self.baseline(user_idx, movie_idx) + deviation

    def mf_scores(self, user_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
        """The ``"mf"`` prediction :math:`b_{ui} + p_u^T q_i` for compact-index pairs.

        Pairs are processed in chunks sized to ``budget_bytes`` (the gathered factor rows).
        """
        per_pair = 8 * (2 * self.user_factors.shape[1] + 4)
        check_budget(per_pair, self.budget_bytes, "scoring one pair with MF", "budget_bytes")
        size = int(max(1, self.budget_bytes // per_pair))
        dot = np.zeros(user_idx.size)
        for start in range(0, user_idx.size, size):
            part = slice(start, start + size)
            dot[part] = np.einsum("ij,ij->i", self.user_factors[user_idx[part]], self.item_factors[movie_idx[part]])
        return self.baseline(user_idx, movie_idx) + dot

    def _scorer(self) -> Scorer:
        if isinstance(self.scorer, str):
            named = {"item_knn": self.item_knn_scores, "mf": self.mf_scores}
            if self.scorer not in named:
                raise ValueError(f"unknown scorer {self.scorer!r}; use one of {sorted(named)} or a model")
            return named[self.scorer]
        if hasattr(self.scorer, "predict"):
            model = self.model_

            def predict(user_idx: np.ndarray, movie_idx: np.ndarray) -> np.ndarray:
                pairs = pd.DataFrame(
                    {"user_id": self.matrix.user_ids[user_idx], "movie_id": self.matrix.movie_ids[movie_idx]}
                )
                return np.asarray(model.predict(pairs), dtype=np.float64)

            return predict
        return self.scorer

    def candidates(self, user_idx: np.ndarray) -> np.ndarray:
        """Dense (batch x movies) True for the stage-1 candidates of known users (rated movies excluded)."""
        neighbours = ((self._liked[user_idx] @ self.similarity).toarray() > 0)
        rated = self._rated_mask(user_idx)
        if self.n_mf_candidates > 0 and self.item_factors.shape[1]:
            mf = self.user_factors[user_idx] @ self.item_factors.T + self.b_item + self.popularity_weight * self.log_popularity
            mf[rated] = -np.inf
            top = top_n_indices(mf, self.n_mf_candidates)
            rows = np.repeat(np.arange(user_idx.size), top.shape[1])
            keep = top.ravel() >= 0
            neighbours[rows[keep], top.ravel()[keep]] = True
        return neighbours & ~rated

    def candidate_counts(self, user_ids: Iterable[int], progress: bool = False) -> np.ndarray:
        """Number of stage-1 candidates (:meth:`candidates`) of each raw user id; 0 for a user unknown to train.

        Users are processed in batches sized to ``budget_bytes``.
        """
        user_ids = np.asarray(user_ids if isinstance(user_ids, np.ndarray) else list(user_ids))
        user_idx = self.matrix.user_index(user_ids)
        counts = np.zeros(user_idx.size, dtype=np.int64)
        known = np.flatnonzero(user_idx >= 0)
        size = _batch_size(self.matrix.n_movies, self.budget_bytes)
        for start in tqdm(range(0, known.size, size), desc="candidates", unit="batch", disable=not progress):
            rows = known[start : start + size]
            counts[rows] = self.candidates(user_idx[rows]).sum(axis=1)
        return counts

    def _scores(self, user_idx: np.ndarray) -> np.ndarray:
        rows, movies = np.nonzero(self.candidates(user_idx))
        scores = np.full((user_idx.size, self.matrix.n_movies), -np.inf)
        if rows.size:
            scored = self._scorer()(user_idx[rows], movies)
            scores[rows, movies] = scored + self.popularity_weight * self.log_popularity[movies]
        return scores

    def score(self, pairs: pd.DataFrame) -> np.ndarray:
        """Ranking score of each (user_id, movie_id) pair of a frame; NaN for an unknown user or movie.

        The scorer plus the popularity term, for any pair (candidate or not): the
        benchmark ranks every movie with it to check the candidate stage. The named scorers
        work in batches sized to ``budget_bytes`` (:meth:`item_knn_scores`, :meth:`mf_scores`),
        so every test pair of a large data set can be scored at once.
        """
        user_idx = self.matrix.user_index(pairs["user_id"].to_numpy())
        movie_idx = self.matrix.movie_index(pairs["movie_id"].to_numpy())
        known = (user_idx >= 0) & (movie_idx >= 0)
        out = np.full(len(pairs), np.nan)
        if known.any():
            u, i = user_idx[known], movie_idx[known]
            out[known] = self._scorer()(u, i) + self.popularity_weight * self.log_popularity[i]
        return out

    # -- explanations ------------------------------------------------------------------------------------

    def _explain(self, user_idx: int, movie_idx: np.ndarray, from_fallback: np.ndarray) -> list[str]:
        """"because you rated X (4★), Y (5★)": the user's liked movies most similar to each recommendation."""
        if user_idx < 0:
            return [FALLBACK_REASON] * movie_idx.size
        neighbours = self.similarity[movie_idx].tocoo()
        liked = np.isin(neighbours.col, self._liked[user_idx].indices)
        rows, cols, sims = neighbours.row[liked], neighbours.col[liked], neighbours.data[liked]
        order = np.lexsort((cols, -sims, rows))  # per recommendation: most similar first
        rows, cols = rows[order], cols[order]
        first = np.searchsorted(rows, rows)
        keep = np.arange(rows.size) - first < self.explain_with
        rows, cols = rows[keep], cols[keep]
        titles = _titles_of(self.matrix.movie_ids[cols], self.titles)["title"].to_numpy()
        stars = self.matrix.csr[user_idx].toarray().ravel()[cols]
        named = [f"{title} ({star:g}★)" for title, star in zip(titles, stars)]
        reasons = []
        for row, fallback in enumerate(from_fallback):
            mine = [name for name, r in zip(named, rows) if r == row]
            if fallback:
                reasons.append(FALLBACK_REASON)
            elif mine:
                reasons.append("because you rated " + ", ".join(mine))
            else:
                reasons.append("users with similar taste (matrix factorisation)")
        return reasons


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

    The validation part is the end of train by time (``split``: ``"global_time"`` or
    ``"per_user_time"``, as :func:`cfutils.split.make_split`); a copy of ``recommender`` is
    fit on the rest once, and every weight re-ranks its lists. The test set is never
    touched. ``max_users`` (None: all) caps the validation users scored to a random sample
    of that size (``seed``), as large data needs. Returns the best weight (ties: the first in ``weights``) and the table
    ``[popularity_weight, ndcg@n]``. ``recommender`` itself is left unfitted and unchanged.
    """
    if split not in ("global_time", "per_user_time"):
        raise ValueError(f"validate on a time split ('global_time' or 'per_user_time'), not {split!r}")
    fit_part, validation = make_split(train, split, test_size=validation_size)
    model = copy.copy(recommender).fit(fit_part)
    users = np.unique(validation["user_id"].to_numpy())
    if max_users is not None and users.size > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
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
