r"""A Bayesian factorization machine fitted by Gibbs sampling (the ``myfm`` package).

Rendle, Zhang and Koren (2019), "On the difficulty of evaluating baselines", section 4;
Rendle (2012), "Factorization machines with libFM", section 4 (MCMC inference).
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cfutils.core.memory import DEFAULT_BUDGET_BYTES, check_budget
from cfutils.core.train_data import TrainData, as_train_data
from cfutils.rating.surprise_batch import rating_scale

#: Bytes per rating of myfm's sampler besides the kept samples: its per-row caches (about
#: ``rank + 4`` float64 each) and the row-to-block maps; an estimate, see :meth:`BayesFM.required_bytes`.
WORK_BYTES_PER_RATING_AND_FACTOR = 8
#: Bytes per stored non-zero of a CSR block (float64 value and int32 column index).
CSR_BYTES_PER_NONZERO = 12


class BayesFM:
    r"""Bayesian factorization machine, Gibbs sampling (Rendle 2012; Rendle, Zhang and Koren 2019).

    A rating is a sparse feature row :math:`x` and

    .. math::
        \hat y(x) = w_0 + \sum_i w_i x_i + \sum_{i<j} \langle v_i, v_j \rangle\, x_i x_j

    with :math:`v_i \in \mathbb{R}^{\text{rank}}`. The feature blocks, each an option:

    ============================  =====================================================
    ``user``                      one-hot of the user: :math:`w_u` is a user bias, :math:`v_u` ``p_u``
    ``movie``                     one-hot of the movie: :math:`b_i` and :math:`q_i`
    ``implicit_user``             the movies u rated in train, each :math:`|I_u|^{-1/2}`: SVD++'s
                                  :math:`|I_u|^{-1/2}\sum_{j \in I_u} y_j` added to :math:`p_u`
    ``implicit_movie``            the users who rated i in train, each :math:`|U_i|^{-1/2}`: the same
                                  idea for the movie
    ``date_bins``                 one-hot of the rating's date among ``date_bins`` bins of equal
                                  train counts (0: none); later dates fall in the last bin
    ============================  =====================================================

    With ``user`` and ``movie`` only this is biased matrix factorisation,
    :math:`\mu + b_u + b_i + q_i^T p_u`. Every parameter has a Gaussian prior whose mean and
    precision have their own hyper-priors (one per block), and the noise precision a Gamma prior.
    Gibbs sampling draws each parameter in turn from its conditional posterior, ``n_iter`` sweeps;
    the prediction is the mean of :math:`\hat y` over the kept samples (the last ``n_kept_samples``,
    myfm's default ``n_iter - 5``). The regularisation is sampled, not tuned, and there is no
    learning rate: so the only settings are ``rank`` and ``n_iter``.

    Training rows get their implicit blocks from train (their own rating's *existence* included, as
    in SVD++); pairs to predict get the same blocks from train only, never from the test pairs. An
    unknown user (movie) has an all-zero user (movie) block: the prediction is then the rest of
    the formula. Predictions are clipped into the rating scale.

    Memory (:meth:`required_bytes`): the kept samples are ``n_kept_samples`` copies of
    :math:`w` and :math:`V`, 8 (rank + 1) bytes per feature each; at Netflix size with both
    implicit blocks (2 (480,189 + 17,770) features, rank 10, 195 samples) that is 17 GB, which
    :func:`~cfutils.core.memory.check_budget` refuses before the fit starts.
    """

    def __init__(
        self,
        rank: int = 10,
        n_iter: int = 200,
        n_kept_samples: int | None = None,
        user: bool = True,
        movie: bool = True,
        implicit_user: bool = True,
        implicit_movie: bool = True,
        date_bins: int = 0,
        random_state: int = 0,
        name: str = "bayes_fm",
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
        progress: bool = False,
    ):
        if not (user or movie or implicit_user or implicit_movie or date_bins):
            raise ValueError("BayesFM needs at least one feature block")
        self.rank, self.n_iter, self.n_kept_samples = rank, n_iter, n_kept_samples
        self.user, self.movie, self.implicit_user, self.implicit_movie = user, movie, implicit_user, implicit_movie
        self.date_bins, self.random_state, self.name = date_bins, random_state, name
        self.budget_bytes, self.progress = budget_bytes, progress

    def kept_samples(self) -> int:
        """How many Gibbs samples the prediction averages (myfm's default: ``n_iter - 5``, at least 5)."""
        return self.n_kept_samples if self.n_kept_samples is not None else min(max(self.n_iter - 5, 5), self.n_iter)

    def n_features(self, n_users: int, n_movies: int) -> int:
        """Length of a feature row: the blocks in the order date bins, user block, movie block."""
        user_block = n_users * self.user + n_movies * self.implicit_user
        return self.date_bins + user_block + n_movies * self.movie + n_users * self.implicit_movie

    def required_bytes(self, n_ratings: int, n_users: int, n_movies: int, bytes_per_rating: float = 0.0) -> float:
        """Estimated peak memory of a fit: the kept samples, 8 (rank + 1) bytes per feature each;
        the user and movie blocks in CSR; and 8 (rank + 4) bytes per rating of sampler caches.
        (``bytes_per_rating`` is the Surprise trainset's, unused: myfm never builds one.)"""
        samples = self.kept_samples() * 8 * (self.rank + 1) * self.n_features(n_users, n_movies)
        nonzeros = (n_users * self.user + n_ratings * self.implicit_user) + (
            n_movies * self.movie + n_ratings * self.implicit_movie
        )
        work = WORK_BYTES_PER_RATING_AND_FACTOR * (self.rank + 4) * n_ratings
        return float(samples + CSR_BYTES_PER_NONZERO * nonzeros + work)

    # ------------------------------------------------------------------ features

    def features(self, pairs: pd.DataFrame) -> tuple[sp.csr_matrix, list[tuple[np.ndarray, sp.csr_matrix]]]:
        """The feature rows of ``pairs`` in myfm's relational form: ``(X, blocks)``.

        ``X`` holds the date bins of each row (no columns when ``date_bins`` is 0); each block is
        ``(row_of_pair, block)``, pair k's features being ``block[row_of_pair[k]]``: the user block
        (one-hot, then the implicit rated set), then the movie block, each left out when it has no
        columns. The full row of pair k is
        ``X[k]`` followed by each block's row, in that order (:meth:`full_rows`).
        """
        user_rows = _rows_of(self.user_ids_, pairs["user_id"])
        movie_rows = _rows_of(self.movie_ids_, pairs["movie_id"])
        blocks = [(user_rows, self.user_block_), (movie_rows, self.movie_block_)]
        return self._date_features(pairs), [(rows, block) for rows, block in blocks if block.shape[1]]

    def full_rows(self, pairs: pd.DataFrame) -> sp.csr_matrix:
        """The feature rows of ``pairs`` as one CSR matrix (:meth:`features` expanded; for checks)."""
        X, blocks = self.features(pairs)
        return sp.hstack([X, *(block[rows] for rows, block in blocks)], format="csr")

    def _date_features(self, pairs: pd.DataFrame) -> sp.csr_matrix:
        if not self.date_bins:
            return sp.csr_matrix((len(pairs), 0))
        days = pairs["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        bins = np.searchsorted(self.date_edges_, days, side="right")
        return sp.csr_matrix((np.ones(len(pairs)), (np.arange(len(pairs)), bins)), shape=(len(pairs), self.date_bins))

    def _blocks(self, ratings: pd.DataFrame) -> None:
        """The user and movie blocks of train, with an all-zero last row for an unknown id."""
        u, self.user_ids_ = pd.factorize(ratings["user_id"].to_numpy().astype(np.int64), sort=True)
        i, self.movie_ids_ = pd.factorize(ratings["movie_id"].to_numpy().astype(np.int64), sort=True)
        n_u, n_i = len(self.user_ids_), len(self.movie_ids_)
        rated = sp.csr_matrix((np.ones(len(u)), (u, i)), shape=(n_u, n_i))
        self.user_block_ = _block(self.user, self.implicit_user, rated)
        self.movie_block_ = _block(self.movie, self.implicit_movie, rated.T.tocsr())

    def groups(self) -> list[int]:
        """The prior group of each feature column: date bins, user one-hot, user implicit, movie
        one-hot, movie implicit (0..4); each group has its own hyper-priors."""
        n_u, n_i = len(self.user_ids_), len(self.movie_ids_)
        sizes = [self.date_bins, n_u * self.user, n_i * self.implicit_user, n_i * self.movie, n_u * self.implicit_movie]
        return [group for group, size in enumerate(sizes) for _ in range(size)]

    # ------------------------------------------------------------------ fit and predict

    def fit(self, train: pd.DataFrame | TrainData) -> BayesFM:
        ratings = as_train_data(train).ratings
        sizes = len(ratings), ratings["user_id"].nunique(), ratings["movie_id"].nunique()
        check_budget(self.required_bytes(*sizes), self.budget_bytes, f"{self.name} on {sizes[0]:,} ratings", "rank")
        myfm = _import_myfm()
        self.scale_ = rating_scale(ratings)
        self._blocks(ratings)
        if self.date_bins:
            days = ratings["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
            self.date_edges_ = np.quantile(days, np.linspace(0, 1, self.date_bins + 1)[1:-1])
        X, blocks = self.features(ratings)
        # group ids are 0..4 but myfm wants them consecutive from 0: renumber the groups present
        present, groups = np.unique(self.groups(), return_inverse=True)
        self.fm_ = myfm.MyFMRegressor(rank=self.rank, random_seed=self.random_state)
        with _quiet(not self.progress):
            self.fm_.fit(
                X,
                ratings["rating"].to_numpy(np.float64),
                X_rel=[myfm.RelationBlock(rows, block) for rows, block in blocks],
                n_iter=self.n_iter,
                n_kept_samples=self.kept_samples(),
                grouping=groups.tolist() if len(present) > 1 else None,
            )
        return self

    def samples(self) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """The kept Gibbs samples ``(w0, w, V)``; ``V`` has one row :math:`v_i` per feature."""
        return [(s.w0, np.asarray(s.w), np.asarray(s.V)) for s in self.fm_.predictor_.samples]

    def predict(self, pairs: pd.DataFrame) -> np.ndarray:
        myfm = _import_myfm()
        X, blocks = self.features(pairs)
        blocks = [myfm.RelationBlock(rows, block) for rows, block in blocks]
        return np.clip(self.fm_.predict(X, blocks), *self.scale_)


def fm_formula(w0: float, w: np.ndarray, V: np.ndarray, x: np.ndarray) -> float:
    r"""The slow reference: :math:`w_0 + \sum_i w_i x_i + \sum_{i<j} \langle v_i, v_j\rangle x_i x_j`
    of one dense feature row ``x``, by a double loop over its non-zero entries."""
    nonzero = np.flatnonzero(x)
    value = w0 + sum(w[i] * x[i] for i in nonzero)
    for a, i in enumerate(nonzero):
        for j in nonzero[a + 1 :]:
            value += float(V[i] @ V[j]) * x[i] * x[j]
    return float(value)


def _block(one_hot: bool, implicit: bool, rated: sp.csr_matrix) -> sp.csr_matrix:
    """``[I | D^{-1/2} R]`` (parts as asked) for ``rated`` R (rows × columns, 1 where rated), with D
    the row counts, plus an all-zero row for an unknown id."""
    parts = []
    if one_hot:
        parts.append(sp.identity(rated.shape[0], format="csr"))
    if implicit:
        counts = np.maximum(np.diff(rated.indptr), 1)
        parts.append(sp.diags(counts**-0.5) @ rated)
    if not parts:
        return sp.csr_matrix((rated.shape[0] + 1, 0))
    return sp.vstack([sp.hstack(parts), sp.csr_matrix((1, sum(p.shape[1] for p in parts)))], format="csr")


def _rows_of(known: np.ndarray, ids: pd.Series) -> np.ndarray:
    """The block row of each id: its position in the sorted ``known`` ids, or the last row (unknown)."""
    position = pd.Index(known).get_indexer(ids.to_numpy().astype(np.int64))
    return np.where(position >= 0, position, len(known)).astype(np.int64)


def _import_myfm():
    """``myfm``, imported on first use (its import warns that ``pkg_resources`` is deprecated: hidden)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import myfm
    return myfm


def _quiet(quiet: bool):
    """Hide myfm's progress bar (it always writes one to stderr) unless progress was asked for."""
    return contextlib.redirect_stderr(io.StringIO()) if quiet else contextlib.nullcontext()
