r"""Beyond accuracy: what a batch of top-N lists does to the catalogue, not how many hits it scores.

The lists are the padded array ``recommended`` of :mod:`cfutils.eval.metrics` (one row per user, raw
movie ids, ``-1`` padding). The popularity of movie :math:`i` is :math:`|U_i|`, its number of train
ratings, out of :math:`|U|` train users; the catalogue :math:`C` is the train movies.

================================  ==========================================================================
novelty                           mean self-information of the recommended movies,
                                  :math:`\frac{1}{\sum_u |L_u|}\sum_u \sum_{i \in L_u} -\log_2 \frac{|U_i|}{|U|}`
                                  (in bits: a movie every user rated gives 0, one in 1,024 users 10)
intra-list diversity (ILD)        :math:`1 - \frac{2}{|L_u|(|L_u|-1)}\sum_{i<j \in L_u} s_{ij}`, averaged over
                                  the lists of at least two movies; :math:`s_{ij}` is the cosine of the binary
                                  train columns of :math:`i` and :math:`j` (who rated them)
long-tail share                   the share of recommended slots filled by long-tail movies: all but the
                                  :math:`\lceil h |C| \rceil` most rated ones (``head_fraction`` :math:`h`,
                                  0.2 by default; ties to the smaller id)
Gini of exposure                  with :math:`c_i` the number of lists showing catalogue movie :math:`i`
                                  (0 included), sorted :math:`c_{(1)} \le \dots \le c_{(n)}`:
                                  :math:`G = \frac{\sum_{k=1}^{n} (2k - n - 1)\, c_{(k)}}{n \sum_k c_{(k)}}`,
                                  0 when every movie is shown equally often, :math:`1 - 1/n` when one movie
                                  takes every slot
coverage                          :func:`cfutils.eval.metrics.catalogue_coverage`
================================  ==========================================================================

The intra-list similarity needs no movies × movies matrix: with unit columns :math:`\hat x_i`,
:math:`\sum_{i<j} \hat x_i \cdot \hat x_j = \tfrac{1}{2}(\lVert \sum_{i \in L_u} \hat x_i \rVert^2 - |L_u|)`,
one sparse product per batch of lists. ``tests/test_beyond.py`` checks each metric against a plain loop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cfutils.core import RatingMatrix, index_of
from cfutils.eval.metrics import PAD, catalogue_coverage

#: Lists per sparse product in :func:`intra_list_diversity`.
_LISTS_PER_BATCH = 2048


def _listed(recommended: np.ndarray) -> np.ndarray:
    ids = np.asarray(recommended).ravel()
    return ids[ids != PAD]


def novelty(recommended: np.ndarray, popularity: pd.Series, n_users: int) -> float:
    r"""Mean self-information :math:`-\log_2(|U_i| / |U|)` of the recommended movies, padding excluded.

    ``popularity`` is :func:`cfutils.eval.metrics.item_popularity` (train ratings per movie) and ``n_users``
    the number of train users. A movie without a train rating (never recommended by :mod:`cfutils.lists`)
    raises ``ValueError``: its self-information is infinite. NaN for no recommended movie.
    """
    counts = popularity.reindex(_listed(recommended), fill_value=0).to_numpy(np.float64)
    if (counts <= 0).any():
        raise ValueError("a recommended movie has no train rating: its self-information is infinite")
    return float(np.mean(-np.log2(counts / n_users))) if counts.size else float("nan")


def unit_columns(matrix: RatingMatrix) -> sp.csc_matrix:
    """The binary train matrix (users × movies, compact order) with each column scaled to length 1."""
    binary = matrix.csc.copy()
    binary.data = np.ones_like(binary.data, dtype=np.float64)
    return binary.multiply(1.0 / np.sqrt(np.maximum(matrix.movie_counts, 1))[None, :]).tocsc()


def intra_list_diversity(recommended: np.ndarray, matrix: RatingMatrix) -> float:
    r"""Mean over lists of at least two movies of :math:`1 - \overline{s_{ij}}`, the mean binary cosine of the
    list's pairs (module docstring); movies outside ``matrix`` (the train matrix) have no column and count as
    similar to nothing. NaN when no list holds two movies."""
    recommended = np.asarray(recommended)
    columns = index_of(matrix.movie_ids, recommended.ravel()).reshape(recommended.shape)
    unit = unit_columns(matrix).T.tocsr()  # movies × users
    values = []
    for start in range(0, len(columns), _LISTS_PER_BATCH):
        block = columns[start : start + _LISTS_PER_BATCH]
        rows, slots = np.nonzero(recommended[start : start + _LISTS_PER_BATCH] != PAD)
        lengths = np.bincount(rows, minlength=len(block))
        known = block[rows, slots] >= 0
        pick = sp.csr_matrix(
            (np.ones(known.sum()), (rows[known], block[rows, slots][known])), (len(block), unit.shape[0])
        )
        summed = pick @ unit
        squared = np.asarray(summed.multiply(summed).sum(axis=1)).ravel()
        self_terms = np.bincount(rows[known], minlength=len(block))
        pairs = lengths * (lengths - 1) / 2
        keep = pairs > 0
        values.append(1.0 - (squared[keep] - self_terms[keep]) / 2 / pairs[keep])
    values = np.concatenate(values) if values else np.empty(0)
    return float(values.mean()) if values.size else float("nan")


def head_movies(popularity: pd.Series, head_fraction: float = 0.2) -> np.ndarray:
    r"""The :math:`\lceil h |C| \rceil` most rated movies of ``popularity`` (ties to the smaller id): the short head."""
    if not 0 <= head_fraction <= 1:
        raise ValueError(f"head_fraction must be in [0, 1], got {head_fraction}")
    ids, counts = popularity.index.to_numpy(), popularity.to_numpy()
    order = np.lexsort((ids, -counts))
    return np.sort(ids[order[: int(np.ceil(head_fraction * len(ids)))]])


def long_tail_share(recommended: np.ndarray, popularity: pd.Series, head_fraction: float = 0.2) -> float:
    """The share of recommended slots (padding excluded) that hold a movie outside the short head
    (:func:`head_movies`). NaN for no recommended movie."""
    listed = _listed(recommended)
    return float(np.mean(~np.isin(listed, head_movies(popularity, head_fraction)))) if listed.size else float("nan")


def exposure_counts(recommended: np.ndarray, catalogue) -> np.ndarray:
    """How many slots of all lists show each movie of ``catalogue`` (sorted ids), 0 for a movie never shown;
    movies outside the catalogue are ignored."""
    catalogue = np.unique(np.asarray(catalogue))
    position = index_of(catalogue, _listed(recommended))
    return np.bincount(position[position >= 0], minlength=catalogue.size)


def gini(values) -> float:
    r"""Gini coefficient :math:`G = \sum_k (2k - n - 1) v_{(k)} / (n \sum_k v_{(k)})` of non-negative ``values``
    (sorted ascending, :math:`k` 1-based): 0 for equal values, :math:`1 - 1/n` when one holds everything.
    NaN when they sum to 0."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    if (v < 0).any():
        raise ValueError("the Gini coefficient needs non-negative values")
    n, total = v.size, v.sum()
    if total == 0:
        return float("nan")
    return float(((2 * np.arange(1, n + 1) - n - 1) @ v) / (n * total))


def beyond_accuracy(
    recommended: np.ndarray, train: pd.DataFrame, matrix: RatingMatrix | None = None, head_fraction: float = 0.2
) -> dict[str, float]:
    """The five measures of the module docstring for one recommender's lists, the catalogue being the movies of
    ``train`` (``matrix`` is its :class:`~cfutils.core.RatingMatrix`, built when not given)."""
    matrix = RatingMatrix.from_ratings(train) if matrix is None else matrix
    popularity = pd.Series(matrix.movie_counts, index=matrix.movie_ids)
    return {
        "novelty": novelty(recommended, popularity, matrix.n_users),
        "intra_list_diversity": intra_list_diversity(recommended, matrix),
        "long_tail_share": long_tail_share(recommended, popularity, head_fraction),
        "gini": gini(exposure_counts(recommended, matrix.movie_ids)),
        "coverage": catalogue_coverage(recommended, matrix.movie_ids),
    }
