r"""The generator's ground truth: every user's true expected rating of every movie, and how exposure was drawn.

A generated data set knows what real data never tells: the taste of each user for *every* movie, not only
for the movies the user chose to rate. :class:`Truth` rebuilds it from the parameters in the data set's
marker (``.synth.json``) by drawing the same population again (:func:`~cfutils.data.synth.model.draw_population`);
no file is read or written besides the marker, so the data set is unchanged.

With :math:`\mu_{ui} = b_u + b_i + \sigma_f/\sqrt{K}\, p_u \cdot q_i` (the score without its noise), the
thresholds :math:`\tau_1 < \dots < \tau_4` and :math:`\Phi` the standard normal CDF, the star
:math:`r_{ui} = 1 + \#\{j : \mu_{ui} + \sigma_\varepsilon \varepsilon_{ui} > \tau_j\}` has

.. math::

    P(r_{ui} > s) = \Phi\!\left(\frac{\mu_{ui} - \tau_s}{\sigma_\varepsilon}\right), \qquad
    \mathbb{E}[r_{ui}] = 1 + \sum_{s=1}^{4} \Phi\!\left(\frac{\mu_{ui} - \tau_s}{\sigma_\varepsilon}\right).

**Exposure.** Movie :math:`i` is rated by its forced users :math:`F_i` (every user's one guaranteed movie)
plus :math:`m_i = n_i - |F_i|` others drawn without replacement with probability
:math:`\propto w_{ui} = a_u e^{\gamma t_{g_u} \cdot q_i / \sqrt{K}}` (successive sampling). Its inclusion
probabilities have no closed form; :meth:`Truth.propensity` gives the standard approximation
(Rosén's, exact in the limit of many users):

.. math::

    \pi_{ui} = 1 \text{ for } u \in F_i, \qquad \pi_{ui} = 1 - e^{-c_i w_{ui}} \text{ otherwise},
    \quad c_i \text{ such that } \sum_{u \notin F_i} \pi_{ui} = m_i,

found by Newton's method (the sum is concave and increasing in :math:`c_i`, so the iterates climb to the
root). ``tests/test_truth.py`` checks it against the frequencies of thousands of replayed draws. On the
embedded sample, the Prize's qualifying ratings were drawn (exposed) but then removed from the files.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr

from cfutils.core import index_of
from cfutils.data.synth.model import FIRST_DAY, MODEL, draw_population, movie_blocks
from cfutils.data.synth.writer import GENERATOR_VERSION, MARKER_NAME, Preset

#: Newton steps for each movie's :math:`c_i` (from :math:`c = 0` the iterates climb monotonically).
_NEWTON_STEPS = 60
#: Movies × users cells held at once while solving for :math:`c_i` (about 32 MB per float64 array).
_CELLS_PER_BLOCK = 4_000_000


class Truth:
    """The ground truth of a data set written by :mod:`cfutils.data.synth` (module docstring).

    Users and movies are given by their raw ids, as in the ratings frame (``user_id``, ``movie_id``);
    an id the generator never drew raises ``KeyError``. Every method is vectorised over pairs
    ``(user_ids[j], movie_ids[j])``.
    """

    def __init__(self, preset: Preset, duplicate_fraction: float = 0.0):
        self.preset = preset
        self.duplicate_fraction = duplicate_fraction
        self.population = draw_population(preset.n_users, preset.n_movies, preset.n_ratings, preset.seed)
        self.user_order = np.argsort(self.population.user_raw_id, kind="stable")
        self.user_ids = self.population.user_raw_id[self.user_order].astype(np.int64)  # sorted raw ids
        self.movie_ids = np.arange(1, preset.n_movies + 1, dtype=np.int64)
        sampler = self.population.user_sampler
        self.user_segment = np.repeat(np.arange(len(sampler.sizes)), sampler.sizes)
        self.forced_movie = np.empty(preset.n_users, dtype=np.int64)  # f_u by user index
        self.forced_movie[self.population.forced_users] = np.repeat(
            np.arange(preset.n_movies), np.diff(self.population.forced_ptr)
        )
        self.scales = np.full(preset.n_movies, np.nan)  # c_i by movie index, computed on first use

    @classmethod
    def of(cls, directory: str | os.PathLike) -> Truth | None:
        """The truth of the data set in ``directory``, or None when its marker is missing or was written by
        another generator version or model (real data has no marker)."""
        try:
            marker = json.loads((Path(directory) / MARKER_NAME).read_text())
        except (OSError, ValueError):
            return None
        if marker.get("generator_version") != GENERATOR_VERSION or marker.get("model") != asdict(MODEL):
            return None
        preset = Preset(**{name: marker[name] for name in Preset.__dataclass_fields__})
        return cls(preset, marker.get("duplicate_fraction", 0.0))

    # ------------------------------------------------------------------ ids

    def user_index(self, user_ids) -> np.ndarray:
        """The generator's index of each raw user id."""
        position = index_of(self.user_ids, np.asarray(user_ids, dtype=np.int64))
        if (position < 0).any():
            raise KeyError(f"user ids the generator never drew: {np.asarray(user_ids)[position < 0][:5]}")
        return self.user_order[position]

    def movie_index(self, movie_ids) -> np.ndarray:
        """The generator's index of each movie id (ids are ``1..n_movies``)."""
        index = np.asarray(movie_ids, dtype=np.int64) - 1
        if ((index < 0) | (index >= self.preset.n_movies)).any():
            raise KeyError(f"movie ids outside 1..{self.preset.n_movies}")
        return index

    # ------------------------------------------------------------------ ratings

    def mean_score(self, user_ids, movie_ids) -> np.ndarray:
        r""":math:`\mu_{ui} = b_u + b_i + \sigma_f/\sqrt{K}\, p_u \cdot q_i`, the score before its noise."""
        pop, u, i = self.population, self.user_index(user_ids), self.movie_index(movie_ids)
        taste = np.einsum("nk,nk->n", pop.user_taste[u], pop.movie_taste[i])
        return pop.user_bias[u] + pop.movie_bias[i] + taste

    def above(self, user_ids, movie_ids) -> np.ndarray:
        r""":math:`P(r_{ui} > s)` for :math:`s = 1..4`, one column each (n × 4)."""
        mu = self.mean_score(user_ids, movie_ids)
        return ndtr((mu[:, None] - self.population.thresholds[None, :]) / MODEL.noise_sd)

    def star_probabilities(self, user_ids, movie_ids) -> np.ndarray:
        r""":math:`P(r_{ui} = s)` for :math:`s = 1..5` (n × 5; each row sums to 1)."""
        above = self.above(user_ids, movie_ids)
        ones = np.ones((len(above), 1))
        return np.hstack([ones, above]) - np.hstack([above, np.zeros_like(ones)])

    def expected_rating(self, user_ids, movie_ids) -> np.ndarray:
        r""":math:`\mathbb{E}[r_{ui}] = 1 + \sum_s P(r_{ui} > s)`: the user's true expected stars for the movie."""
        return 1.0 + self.above(user_ids, movie_ids).sum(axis=1)

    def mean_expected_by_movie(self) -> pd.Series:
        r"""Each movie's true mean :math:`\frac{1}{|U|}\sum_u \mathbb{E}[r_{ui}]` over *all* users (index ``movie_id``),
        computed a block of movies at a time; its mean is the true mean over all pairs."""
        step = max(1, _CELLS_PER_BLOCK // self.preset.n_users)
        means = []
        for first in range(0, self.preset.n_movies, step):
            movies = self.movie_ids[first : first + step]
            expected = self.expected_rating(np.tile(self.user_ids, movies.size), np.repeat(movies, self.user_ids.size))
            means.append(expected.reshape(movies.size, -1).mean(axis=1))
        return pd.Series(np.concatenate(means), index=pd.Index(self.movie_ids, name="movie_id"), name="true_mean")

    def like_probability(self, user_ids, movie_ids, stars: int = 4) -> np.ndarray:
        r""":math:`P(r_{ui} \ge \text{stars})`: how likely the user is to like the movie (4 stars or more)."""
        return self.above(user_ids, movie_ids)[:, stars - 2] if stars > 1 else np.ones(len(np.asarray(user_ids)))

    def draw_stars(self, rng: np.random.Generator, user_ids, movie_ids) -> np.ndarray:
        """One star per pair, drawn as the generator draws them (a fresh noise term)."""
        above = self.above(user_ids, movie_ids)
        return 1 + (rng.random(len(above))[:, None] < above).sum(axis=1)

    # ------------------------------------------------------------------ exposure

    def propensity(self, user_ids, movie_ids) -> np.ndarray:
        r""":math:`\pi_{ui}`, the probability that user ``u`` rated movie ``i`` (module docstring)."""
        u, i = self.user_index(user_ids), self.movie_index(movie_ids)
        pop = self.population
        scale = self.exposure_scales(np.unique(i))
        weight = pop.user_activity[u] * pop.movie_affinity[i, self.user_segment[u]]
        return np.where(self.forced_movie[u] == i, 1.0, -np.expm1(-scale[i] * weight))

    def exposure_scales(self, movies: np.ndarray) -> np.ndarray:
        """:math:`c_i` over all movie indices, computed (by Newton's method) and cached for those in
        ``movies``; NaN for the others until asked."""
        pop = self.population
        todo = np.setdiff1d(movies, np.flatnonzero(~np.isnan(self.scales)))
        step = max(1, _CELLS_PER_BLOCK // self.preset.n_users)
        for block in np.split(todo, np.arange(step, todo.size, step)):
            weight = pop.user_activity[None, :] * pop.movie_affinity[block][:, self.user_segment]
            weight[self.forced_movie[None, :] == block[:, None]] = 0.0  # forced users are not drawn
            target = pop.movie_count[block] - np.diff(pop.forced_ptr)[block]
            c = np.zeros(block.size)
            for _ in range(_NEWTON_STEPS):
                decay = np.exp(-c[:, None] * weight)
                slope = (weight * decay).sum(axis=1)
                c += np.divide(target - (1 - decay).sum(axis=1), slope, out=np.zeros(block.size), where=slope > 0)
            self.scales[block] = c
        return self.scales

    def drawn_ratings(self) -> pd.DataFrame:
        """Every rating the generator drew (``user_id``, ``movie_id``, ``rating``, ``date``), replayed from the
        seed: the files' ratings, plus the Prize's qualifying ratings on data written with its hold-out, without
        the changed-mind duplicates."""
        blocks = list(movie_blocks(self.population, range(self.preset.n_movies), self.preset.seed, 0.0))
        sizes = [len(block.users) for block in blocks]
        return pd.DataFrame(
            {
                "user_id": self.population.user_raw_id[np.concatenate([b.users for b in blocks])].astype(np.int64),
                "movie_id": np.repeat([b.movie_id for b in blocks], sizes).astype(np.int64),
                "rating": np.concatenate([b.stars for b in blocks]).astype(np.float32),
                "date": (FIRST_DAY + np.concatenate([b.days for b in blocks])).astype("datetime64[s]"),
            }
        )
