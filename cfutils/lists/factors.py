r"""Matrix factorisation for implicit feedback, from the ``implicit`` library (Ben Frederickson).

Both learn user and movie factors from binary interactions :math:`X` and score
:math:`\mathrm{score}(u, i) = p_u^T q_i`:

* **ALS** (Hu, Koren & Volinsky 2008): minimises
  :math:`\sum_{u,i} c_{ui}(x_{ui} - p_u^T q_i)^2 + \lambda(\|P\|^2 + \|Q\|^2)` with confidence
  :math:`c_{ui} = 1 + \alpha x_{ui}`, by alternating least squares.
* **BPR** (Rendle et al. 2009): maximises :math:`\sum \ln \sigma(p_u^T q_i - p_u^T q_j)` over
  (user, watched i, not watched j) triples, by stochastic gradient.

An unknown user gets the fallback. Both run on one thread, so a seed gives one result.
"""

from __future__ import annotations

import warnings

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

from cfutils.core.memory import DEFAULT_BUDGET_BYTES, check_budget
from cfutils.core.train_data import TrainData
from cfutils.lists.lists import ListRecommender


class ImplicitFactors(ListRecommender):
    """Shared fit and scoring of the ``implicit`` adapters; subclasses build the model."""

    reason = "users with similar taste"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.01,
        iterations: int = 15,
        seed: int = 0,
        fallback_days: int | None = 30,
        budget_bytes: float = DEFAULT_BUDGET_BYTES,
    ):
        self.factors, self.regularization, self.iterations, self.seed = factors, regularization, iterations, seed
        self.fallback_days, self.budget_bytes = fallback_days, budget_bytes

    def make_model(self):
        raise NotImplementedError

    def _fit(self, data: TrainData) -> None:
        m = self.matrix_
        check_budget(
            (m.n_users + m.n_movies) * (self.factors + 1) * 4 * 3,
            self.budget_bytes,
            f"{type(self).__name__} factors",
            "factors",
        )
        binary = data.binary.astype(np.float32)
        with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="OpenBLAS is configured", category=RuntimeWarning)
            model = self.make_model()
            model.fit(binary, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float64)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float64)

    def scores(self, user_idx: np.ndarray) -> np.ndarray:
        return self.user_factors_[user_idx] @ self.item_factors_.T


class ALS(ImplicitFactors):
    """Implicit ALS (module docstring); ``alpha`` is the confidence weight of a watched movie."""

    def __init__(self, factors: int = 64, regularization: float = 0.05, alpha: float = 2.0, **options):
        super().__init__(factors, regularization, **options)
        self.alpha = alpha

    def make_model(self) -> AlternatingLeastSquares:
        return AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            random_state=self.seed,
            num_threads=1,
        )


class BPR(ImplicitFactors):
    """BPR (module docstring), stochastic gradient with ``learning_rate``."""

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.01,
        learning_rate: float = 0.05,
        iterations: int = 50,
        **options,
    ):
        super().__init__(factors, regularization, iterations, **options)
        self.learning_rate = learning_rate

    def make_model(self) -> BayesianPersonalizedRanking:
        return BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.seed,
            num_threads=1,
        )
