"""Weighted draws of users, with and without replacement, in O(1) per draw (Walker alias tables)."""

from __future__ import annotations

import numpy as np


class WeightedSampler:
    """Draws user indices with ``P(u) = w_u e_{g(u)} / Σ_v w_v e_{g(v)}``, with or without replacement.

    Users are cut into segments, contiguous index ranges ``bounds[g]:bounds[g+1]`` (one
    segment by default); ``e_g`` is a weight per segment given at each draw (a movie's
    affinity to each taste segment; 1 by default). A draw picks segment ``g`` with
    probability ``∝ e_g Σ_{u∈g} w_u``, then a user of ``g`` from its Walker alias table
    (Vose's construction, O(n) with a Python loop over the columns, built once per data
    set): column ``j`` keeps itself with probability ``prob[j]``, else it is ``alias[j]``.
    Two scratch arrays make :meth:`distinct` sort-free; they are restored after every call.
    """

    def __init__(self, weights: np.ndarray, bounds: np.ndarray | None = None):
        n = len(weights)
        self.bounds = np.array([0, n] if bounds is None else bounds, dtype=np.int64)
        self.sizes = np.diff(self.bounds)
        self.mass = np.add.reduceat(weights, self.bounds[:-1]) * (self.sizes > 0) if n else np.zeros(len(self.sizes))
        prob, alias = [1.0] * n, list(range(n))
        for first, stop in zip(self.bounds[:-1].tolist(), self.bounds[1:].tolist()):
            if stop == first:
                continue
            part = weights[first:stop]
            scaled = dict(enumerate((part * ((stop - first) / part.sum())).tolist(), start=first))
            small = [j for j, p in scaled.items() if p < 1.0]
            large = [j for j, p in scaled.items() if p >= 1.0]
            while small and large:
                j, big = small.pop(), large[-1]
                prob[j], alias[j] = scaled[j], big
                scaled[big] -= 1.0 - scaled[j]
                if scaled[big] < 1.0:
                    small.append(large.pop())
        self.prob, self.alias = np.array(prob), np.array(alias, dtype=np.int32)
        self._taken = np.zeros(n, dtype=bool)
        self._first = np.full(n, np.iinfo(np.int32).max, dtype=np.int32)

    def draw(self, rng: np.random.Generator, size: int, affinity: np.ndarray | None = None) -> np.ndarray:
        """``size`` independent draws, with replacement; ``affinity`` holds ``e_g`` (default 1)."""
        segment_p = self.mass if affinity is None else self.mass * affinity
        cumulative = np.cumsum(segment_p)
        segment = np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right")
        return self._draw_in(rng, np.minimum(segment, len(self.sizes) - 1))

    def _draw_in(self, rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
        """One user of each given segment, drawn ``∝ w_u`` within it."""
        column = self.bounds[segment] + (rng.random(len(segment)) * self.sizes[segment]).astype(np.int64)
        return np.where(rng.random(len(segment)) < self.prob[column], column, self.alias[column]).astype(np.int32)

    def distinct(
        self, rng: np.random.Generator, forced: np.ndarray, size: int, affinity: np.ndarray | None = None
    ) -> np.ndarray:
        """``forced`` followed by distinct other users drawn without replacement, ``size`` in all.

        Successive sampling: a stream of :meth:`draw` results is read in order and users
        already taken are skipped. The stream comes in batches sized from the yield of
        the previous batch, so popular movies need a few batches and most movies one.
        Within a batch, ``np.minimum.at`` finds each user's first position (no sort).
        """
        self._taken[forced] = True
        chosen = [forced]
        need = size - len(forced)
        batch = need + need // 8 + 16
        while need > 0:
            draws = self.draw(rng, batch, affinity)
            fresh = draws[~self._taken[draws]]
            position = np.arange(len(fresh), dtype=np.int32)
            np.minimum.at(self._first, fresh, position)
            new = fresh[self._first[fresh] == position][:need]
            self._first[fresh] = np.iinfo(np.int32).max
            self._taken[new] = True
            chosen.append(new)
            need -= len(new)
            batch = int(min(need / max(len(new), 1), 8) * batch * 1.25) + 16  # grows at most 10-fold
        users = np.concatenate(chosen)
        self._taken[users] = False
        return users
