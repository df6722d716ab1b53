r"""One train set, built once: the ratings frame, its rating matrix, and what is derived from it.

Every stage that learns from train (features, rating models, stacking, recommenders) takes a
:class:`TrainData` or a plain ratings frame, which :func:`as_train_data` wraps. Passed along,
one ``TrainData`` lets every model fitted on the same train share one
:class:`~cfutils.core.matrix.RatingMatrix`, and lets features computed twice (at fit and at predict)
share one set of neighbour lists. At full Netflix size a matrix holds 80 million ratings and a
set of movie neighbours is minutes of work.

What it holds, each computed on first use and kept while the object lives:

* ``ratings``: the frame (``user_id``, ``movie_id``, ``rating``, ``date``), as given;
* ``matrix``: :meth:`RatingMatrix.from_ratings <cfutils.core.matrix.RatingMatrix.from_ratings>` of it;
* ``binary``: the 0/1 pattern :math:`x_{ui} = [r_{ui} \text{ exists}]`, whatever the stars (float32
  ones on the matrix's own index arrays);
* :meth:`neighbours`: :func:`~cfutils.core.similarity.engine.cosine_top_k` of users or movies, on the stars
  or on the binary pattern, once per ``(side, k, binary, dtype)``;
* :meth:`cached`: anything a later stage derives from train alone (for example the recommenders'
  recency ranks), once per key. This module stays below those stages in the data flow.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import cached_property
from typing import TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from cfutils.core.matrix import RatingMatrix, with_data
from cfutils.core.memory import DEFAULT_BUDGET_BYTES
from cfutils.core.similarity.engine import cosine_top_k

T = TypeVar("T")
SIDES = ("users", "movies")


class TrainData:
    """A train ratings frame and what is computed from it, each once (module docstring).

    Treat it as read-only: the cached matrix and neighbour lists describe ``ratings`` as it
    was given, so a changed frame needs a new ``TrainData``. ``matrix``: the frame's matrix when
    it is already built, possibly over more movies than the frame names (a fold-in keeps the
    fitted model's movie index, :mod:`cfutils.lists.fold_in`).
    """

    def __init__(self, ratings: pd.DataFrame, matrix: RatingMatrix | None = None):
        self.ratings = ratings
        self._cache: dict[Hashable, object] = {}
        if matrix is not None:  # fills the cached property below
            self.__dict__["matrix"] = matrix

    def __len__(self) -> int:
        return len(self.ratings)

    @cached_property
    def matrix(self) -> RatingMatrix:
        """The user x movie rating matrix of ``ratings`` (compact ids, CSR)."""
        return RatingMatrix.from_ratings(self.ratings)  # reads three columns; no copy of the frame

    @cached_property
    def binary(self) -> sp.csr_matrix:
        r"""Users x movies CSR with :math:`x_{ui} = 1` where the user rated the movie, whatever the stars.

        float32 ones on the index arrays of ``matrix.csr``, shared rather than copied: 4 bytes per
        rating instead of 12 (a float64 copy), about 1 GiB less at full Netflix size. Every count
        it takes part in is exact in float32 (below :math:`2^{24}`), and products with float64
        weights are computed in float64. Read-only, like the matrix it shares its indices with.
        """
        return with_data(self.matrix.csr, np.ones(self.matrix.csr.nnz, np.float32), copy=False)

    def neighbours(
        self,
        side: str,
        k: int,
        *,
        binary: bool = False,
        dtype=np.float32,
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
        progress: bool = False,
    ) -> sp.csr_matrix:
        """``cosine_top_k`` of the users (rows of R) or of the movies (rows of Rᵀ), on the stars or on
        ``binary``, computed once per ``(side, k, binary, dtype)``; compact indices of ``matrix``.

        ``budget_bytes`` and ``progress`` only change how the lists are computed, not what they are.
        """
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, not {side!r}")

        def build() -> sp.csr_matrix:
            if side == "users":
                rows = self.binary if binary else self.matrix.csr
            else:
                # Transposes without a copy: cosine_top_k makes its own CSR copy of any layout.
                rows = self.binary.T if binary else self.matrix.csc.T
            return cosine_top_k(rows, k, budget_bytes=budget_bytes, progress=progress, dtype=dtype).tocsr()

        return self.cached(("neighbours", side, k, binary, np.dtype(dtype).str), build)

    def cached(self, key: Hashable, build: Callable[[], T]) -> T:
        """``build()`` the first time ``key`` is asked for, the kept result every later time."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]


def as_train_data(train: pd.DataFrame | TrainData) -> TrainData:
    """``train`` itself when it is a :class:`TrainData`, else a new one wrapping the frame."""
    return train if isinstance(train, TrainData) else TrainData(train)
