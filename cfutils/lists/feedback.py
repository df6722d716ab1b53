r"""A feedback loop: recommend, let simulated users respond, add the responses to train, refit, again.

Round 0 fits each recommender on train and lists ``n`` movies for the loop's users. Before each later round
:math:`t = 1..R`, every user looks at the last list and *accepts* movie :math:`i` (watches and rates it) with
probability :math:`P(r_{ui} \ge 4)` under a response model; an accepted movie gets a star drawn from that model
and joins train, dated the day after train's last day (one more day per round). Each recommender learns only
from its own loop, as a deployed system learns from the responses to its own lists (Chaney, Stewart and
Engelhardt 2018; Mansoury et al. 2020).

Each round reports, for the lists of that round: the Gini of exposure and the coverage
(:mod:`cfutils.eval.beyond`, catalogue = the movies of the original train), NDCG@k on the held-out test
ratings the loop has not fed back yet (a fed-back movie is rated now, so no list may show it again),
``like_rate``, the mean :math:`P(r_{ui} \ge 4)` of the listed movies under the response model,
``train_gini``, the Gini of the movies' rating counts in the train the round was fitted on (does the loop make
the popular more popular?), and ``accepted``, how many responses the round adds.

Response models (anything with ``like_probability(user_ids, movie_ids)`` and
``draw_stars(rng, user_ids, movie_ids)``): on generated data the generator's truth
(:class:`cfutils.data.synth.truth.Truth`); on real data :class:`FittedResponses`, a stated model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.special import ndtr

from cfutils.core import RatingMatrix
from cfutils.eval import as_padded_array, catalogue_coverage, exposure_counts, gini, list_pairs, ranking_metrics, rmse
from cfutils.lists.lists import ListRecommender
from cfutils.rating import rating_scale


class FittedResponses:
    r"""Responses of real users as a stated model: a rating model fitted on *all* the ratings (train and test),
    plus Gaussian noise of its own in-sample RMSE :math:`\sigma`, rounded to the data's star step :math:`h`:

    .. math::

        r_{ui} = \mathrm{clip}\big(h \cdot \mathrm{round}((\hat r_{ui} + \sigma\varepsilon)/h)\big), \qquad
        P(r_{ui} \ge 4) = \Phi\!\left(\frac{\hat r_{ui} - (4 - h/2)}{\sigma}\right).

    It knows only what the model learned from the observed ratings, so it inherits their selection bias: a
    statement to read results by, not a truth.
    """

    def __init__(self, model, ratings: pd.DataFrame, like: float = 4.0):
        self.model = model.fit(ratings)
        self.scale = rating_scale(ratings)
        self.step = 0.5 if self.scale[0] == 0.5 else 1.0
        self.sd = rmse(ratings["rating"], self.model.predict(ratings))
        self.like = like

    def predicted(self, user_ids, movie_ids) -> np.ndarray:
        return self.model.predict(pd.DataFrame({"user_id": user_ids, "movie_id": movie_ids}))

    def like_probability(self, user_ids, movie_ids) -> np.ndarray:
        return ndtr((self.predicted(user_ids, movie_ids) - (self.like - self.step / 2)) / self.sd)

    def draw_stars(self, rng: np.random.Generator, user_ids, movie_ids) -> np.ndarray:
        noisy = self.predicted(user_ids, movie_ids) + self.sd * rng.standard_normal(len(np.asarray(user_ids)))
        return np.clip(np.round(noisy / self.step) * self.step, *self.scale)


def _pair_keys(users, movies, width: int) -> np.ndarray:
    return np.asarray(users, dtype=np.int64) * width + np.asarray(movies, dtype=np.int64)


def feedback_loop(
    make: Callable[[], ListRecommender],
    train: pd.DataFrame,
    test: pd.DataFrame,
    users: np.ndarray,
    responses,
    rounds: int = 3,
    n: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """Run the loop of the module docstring for one recommender (``make()`` builds it unfitted): one row per
    round ``0..rounds`` with ``round``, ``gini``, ``coverage``, ``ndcg@{n}``, ``like_rate``, ``train_gini`` and
    ``accepted``."""
    rng = np.random.default_rng(seed)
    catalogue = RatingMatrix.from_ratings(train).movie_ids
    width = int(max(train["movie_id"].max(), test["movie_id"].max())) + 1
    test = test[test["user_id"].isin(users)]
    current, rows = train, []
    for step in range(rounds + 1):
        lists = make().fit(current).top_n_batch(users, n)
        listed_users, recommended = as_padded_array(lists, n)
        fed_back = np.isin(
            _pair_keys(test["user_id"], test["movie_id"], width),
            _pair_keys(current["user_id"], current["movie_id"], width),
        )
        ndcg = ranking_metrics(lists, test[~fed_back], (n,))[f"ndcg@{n}"]
        pair_users, pair_movies, _ = list_pairs(listed_users, recommended)
        like = responses.like_probability(pair_users, pair_movies)
        accept = rng.random(like.size) < like
        rows.append(
            {
                "round": step,
                "gini": gini(exposure_counts(recommended, catalogue)),
                "coverage": catalogue_coverage(recommended, catalogue),
                f"ndcg@{n}": ndcg,
                "like_rate": float(like.mean()),
                "train_gini": gini(exposure_counts(current["movie_id"].to_numpy(), catalogue)),
                "accepted": int(accept.sum()) if step < rounds else 0,
            }
        )
        if step == rounds:
            break
        added = pd.DataFrame(
            {
                "user_id": pair_users[accept],
                "movie_id": pair_movies[accept],
                "rating": responses.draw_stars(rng, pair_users[accept], pair_movies[accept]),
                "date": current["date"].max() + pd.Timedelta(days=1),
            }
        )
        current = pd.concat([current, added.astype(current.dtypes.to_dict())], ignore_index=True)
    return pd.DataFrame(rows)
