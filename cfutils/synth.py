r"""Deterministic Netflix-Prize-like data, written in the exact Kaggle file format.

The default run of the project needs no download: it generates a sample with this
module and reads it back with the real reader (:func:`cfutils.io.read_ratings`), so the
reader is exercised every time. The same generator scales to full Netflix size
(480,189 users, 17,770 movies, 100,480,507 ratings) with bounded memory.

Files written (the Kaggle layout of the Netflix Prize data)
-----------------------------------------------------------
``combined_data_1.txt`` ... ``combined_data_F.txt``
    ASCII, LF line endings. A line ``MovieID:`` opens each movie's block; each line
    after it is ``CustomerID,Rating,YYYY-MM-DD``. Movies appear once, in increasing id
    order, split into contiguous id ranges holding about the same number of ratings.
    Inside a block the order is random, as in the real files (neither by customer
    nor by date).
``movie_titles.csv``
    ISO-8859-1, no quoting, ``MovieID,YearOfRelease,Title``. Titles may contain
    commas (split a line on its first two commas only), a few are not ASCII, and a
    few years are ``NULL``.
``probe.txt``, ``qualifying.txt``, ``qualifying_answers.txt``
    Only with ``prize_holdout=True`` (the embedded sample): the Netflix Prize's hold-out,
    made the Prize's way (:func:`cfutils.prize.prize_holdout`). Each user's most recent
    ratings, up to 9 (at most half of them), are held out; about a third become the
    probe set, listed in ``probe.txt`` and kept in the ratings files; the rest become the
    qualifying set, listed with dates in ``qualifying.txt`` and removed from the ratings
    files. ``qualifying_answers.txt`` holds their true stars in the submission format
    (:func:`cfutils.prize.write_qualifying_predictions`); the real data has no such file.
``.synth.json``
    The parameters the files were made from (see :func:`write_netflix`).

Generative model
----------------
Days are counted from ``t = 0`` (1999-11-11) to ``T`` (2005-12-31). ``V(t) ∝ e^{λt}``
is the platform's rating volume, growing by ``rating_growth_per_year`` a year, and
``W(s) = (1 - e^{-λ(T+1-s)}) / (1 - e^{-λ(T+1)})`` is the share of all volume from
day ``s`` on. Every quantity below is drawn once from the seed.

Users ``u``:
    raw id: distinct, uniform in ``1..2,649,429`` (sparse like Netflix customer ids);
    first-active day ``s_u ∝ e^{μt}`` on ``[0, T]`` (the user base grows);
    propensity ``A_u ~ LogNormal(0, σ_A)``, activity ``a_u = A_u · W(s_u)``;
    bias ``b_u ~ N(0, σ_bu²)``; taste segment ``g_u`` uniform on ``1..G`` with centre
    ``t_g ~ N(0, I_K)``; taste ``p_u = √ρ_s t_{g_u} + √(1-ρ_s) ξ_u``, ``ξ_u ~ N(0, I_K)``
    (users of one segment share part of their taste).
Movies ``i`` (ids ``1..n_movies``):
    first-available day ``m_i = 0`` (back catalogue, probability ``c``), else uniform
    on ``[0, T]``; popularity ``B_i ~ LogNormal(0, σ_B)``;
    bias ``b_i = σ_bi (ρ ζ_i + √(1-ρ²) η_i)`` with ``ζ_i = ln B_i / σ_B``, ``η_i ~ N(0, 1)``
    (popular movies are rated higher); taste ``q_i ~ N(0, I_K)``.
Who rates what:
    how many: movie ``i``'s expected count saturates smoothly with its weight
    ``w_i = B_i W(m_i)``: ``x_i = c w_i / (1 + c w_i / (s_max n_users))``, with ``c``
    found by bisection so that ``Σ x_i = n_ratings`` (a smooth head: the most popular
    movies approach ``s_max = max_movie_share`` of the users without a flat cap). Every
    user first gets one movie ``f_u`` drawn ``∝ x_i``, so every user appears; the rest is
    split ``∝ x_i`` over the movies, each getting at least one rating (largest-remainder
    rounding, so the counts ``n_i`` add up exactly).
    who: movie ``i`` is rated by its forced users ``F_i = {u : f_u = i}`` plus
    ``n_i - |F_i|`` more, drawn *without replacement* with probability
    ``∝ a_u · e^{γ t_{g_u}·q_i / √K}`` (successive sampling: weighted draws with
    replacement, skipping users already taken). Exposure follows taste as well as
    activity: users mostly rate movies their segment likes, as real users choose what
    they expect to enjoy, so who-rated-what carries the signal that implicit-feedback
    recommenders (EASE, item-kNN) learn from. Heavy-tailed ``A_u`` and ``B_i`` give
    heavy-tailed user activity and movie popularity; no ``(user, movie)`` pair repeats.
When:
    the rating day ``d_ui`` is drawn from ``∝ e^{λd}`` on ``[max(s_u, m_i), T]``, so a
    user rates only after their first-active day, a movie is rated only after it
    appears, and volume grows over time. Users and movies that appear late are the
    cold start of a time split.
How much:
    ``z_ui = b_u + b_i + σ_f/√K · p_u·q_i + σ_ε ε_ui``, ``ε_ui ~ N(0, 1)``, and the star is
    ``r_ui = 1 + #{j : z_ui > τ_j}``. The thresholds ``τ_1 < … < τ_4`` are the quantiles
    of ``z`` over a pilot (up to 256 raters of each of up to 2,000 movies, drawn as the
    files draw them, each weighted by ``n_i`` over the raters taken) at the
    cumulative Netflix star shares 4.6 / 10.1 / 28.7 / 33.6 / 23.0 %, so the stars
    follow Netflix's distribution (mean 3.60) whatever the model constants.

Determinism: the population comes from ``SeedSequence(seed)``; each movie's block
comes from its own stream ``SeedSequence(seed, spawn_key=(1, movie_index))``. The
bytes written therefore depend on the parameters only, never on ``chunk_ratings``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from itertools import islice
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from cfutils.prize import (
    PROBE_NAME,
    QUALIFYING_ANSWERS_NAME,
    QUALIFYING_NAME,
    prize_holdout,
    write_probe,
    write_qualifying,
    write_qualifying_predictions,
)

#: Bumped whenever the bytes generated for given parameters change; part of the content key.
GENERATOR_VERSION = 2

FIRST_DAY = np.datetime64("1999-11-11", "D")
LAST_DAY = np.datetime64("2005-12-31", "D")
N_DAYS = int((LAST_DAY - FIRST_DAY).astype(int)) + 1

#: Largest Netflix customer id; ids are drawn sparsely from 1..MAX_CUSTOMER_ID.
MAX_CUSTOMER_ID = 2_649_429

#: Share of 1..5 stars in the Netflix Prize training data.
STAR_SHARES = (0.046, 0.101, 0.287, 0.336, 0.230)

MARKER_NAME = ".synth.json"
TITLES_NAME = "movie_titles.csv"

_STREAM_POPULATION, _STREAM_MOVIES, _STREAM_DUPLICATES = 0, 1, 2
#: The star thresholds come from the scores of at most this many movies, and at most
#: ``_PILOT_PER_MOVIE`` of each movie's raters, drawn as the files will draw them.
_PILOT_MOVIES, _PILOT_PER_MOVIE = 2_000, 256


@dataclass(frozen=True)
class Model:
    """Constants of the generative model (see the module docstring for the formulas)."""

    n_factors: int = 4  # K
    user_activity_sigma: float = 1.5  # σ_A
    movie_popularity_sigma: float = 2.1  # σ_B
    rating_growth_per_year: float = 1.05  # e^{λ·365.25}: growth of one user's rating rate
    user_growth_per_year: float = 1.4  # e^{μ·365.25}: growth of the user base
    catalogue_share: float = 0.8  # c
    max_movie_share: float = 0.6  # s_max: saturation of n_i / n_users (Netflix's top movie: 0.49)
    taste_segments: int = 24  # G
    segment_taste_share: float = 0.6  # ρ_s
    exposure_taste: float = 1.0  # γ: how strongly exposure follows taste
    user_bias_sd: float = 0.45  # σ_bu
    movie_bias_sd: float = 0.45  # σ_bi
    popularity_bias_corr: float = 0.4  # ρ: popular movies are rated higher
    taste_sd: float = 0.65  # σ_f
    noise_sd: float = 0.6  # σ_ε

    def __post_init__(self):
        if min(self.rating_growth_per_year, self.user_growth_per_year) <= 1:
            raise ValueError("growth factors must exceed 1 (the day samplers divide by their log)")


MODEL = Model()


@dataclass(frozen=True)
class Preset:
    """Named generator parameters; ``write_preset(directory, preset)`` writes them."""

    n_users: int
    n_movies: int
    n_ratings: int
    seed: int = 0
    n_files: int = 1
    prize_holdout: bool = False

    def scaled(self, fraction: float) -> Preset:
        """Users and ratings scaled by ``fraction``, all movies kept (as in ``benchmarks/scale.py``)."""
        return replace(
            self,
            n_users=max(1, round(self.n_users * fraction)),
            n_ratings=max(1, round(self.n_ratings * fraction)),
        )


#: For unit tests: a few thousand ratings, generated in well under a second.
TINY = Preset(n_users=400, n_movies=80, n_ratings=7_000, seed=7, n_files=2)
#: The embedded default data set, in ``data/sample``.
SAMPLE = Preset(n_users=5_000, n_movies=1_000, n_ratings=250_000, seed=2005, n_files=4, prize_holdout=True)
#: The size of the Netflix Prize training data.
NETFLIX = Preset(n_users=480_189, n_movies=17_770, n_ratings=100_480_507, seed=0, n_files=4)


def default_sample_dir() -> Path:
    """``<repo>/data/sample``, where the embedded sample lives."""
    return Path(__file__).resolve().parents[1] / "data" / "sample"


def write_sample(directory: str | os.PathLike | None = None, *, progress: bool = False) -> Path:
    """Write the :data:`SAMPLE` preset to ``directory`` (default ``<repo>/data/sample``).

    Idempotent: nothing is rewritten when the files are already there and their
    marker matches (see :func:`write_netflix`).
    """
    return write_preset(default_sample_dir() if directory is None else directory, SAMPLE, progress=progress)


def write_preset(directory: str | os.PathLike, preset: Preset, *, progress: bool = False) -> Path:
    """``write_netflix(directory, **preset)``; see :func:`write_netflix`."""
    return write_netflix(directory, **asdict(preset), progress=progress)


def write_netflix(
    directory: str | os.PathLike,
    *,
    n_users: int,
    n_movies: int,
    n_ratings: int,
    seed: int = 0,
    n_files: int = 1,
    duplicate_fraction: float = 0.0,
    prize_holdout: bool = False,
    chunk_ratings: int = 2_000_000,
    progress: bool = False,
) -> Path:
    """Write a Netflix-like data set in the Kaggle format to ``directory``; return it.

    Exactly ``n_users`` distinct customers, ``n_movies`` movies (ids ``1..n_movies``)
    and ``n_ratings`` distinct ``(customer, movie)`` ratings, in ``n_files`` files
    ``combined_data_1.txt ...`` plus ``movie_titles.csv`` (model: module docstring).
    Same parameters, same bytes.

    ``duplicate_fraction`` (default 0) adds, for that share of each movie's ratings,
    an extra *earlier* line for the same ``(customer, movie)`` with a random star: a
    user who changed their mind. Keeping the latest date per pair gives back exactly
    the file written with ``duplicate_fraction=0``. Only ratings later than their
    earliest possible day can get one, so the share reached can be a little lower.

    ``prize_holdout`` (default False) also writes the Netflix Prize's ``probe.txt``,
    ``qualifying.txt`` and ``qualifying_answers.txt`` (module docstring); the qualifying
    ratings are then left out of the ratings files, which hold ``n_ratings`` minus their
    number. It keeps every rating in memory (about 40 bytes each), so it suits samples,
    and excludes ``duplicate_fraction``.

    Memory is bounded: the population takes about 100 bytes per user, and the text is
    built and written ``chunk_ratings`` ratings at a time (about 100 bytes per rating
    in flight; ``chunk_ratings`` changes memory use, never the output). Full Netflix
    size peaks at about 450 MB RSS and takes about 50 s of CPU (2.1 GB written).

    Idempotent: the parameters are stored in ``.synth.json``. When it matches and the
    files it lists have the recorded sizes, nothing is written. Files from an older
    marker are replaced; the function refuses to overwrite Kaggle-named files that
    it did not write (``FileExistsError``).

    Raises ``ValueError`` unless ``1 <= n_files <= n_movies`` and every user and movie
    can get a rating: ``n_users + n_movies <= n_ratings < max_movie_share · n_users · n_movies``.
    """
    _validate(n_users, n_movies, n_ratings, n_files, duplicate_fraction, chunk_ratings)
    if prize_holdout and duplicate_fraction:
        raise ValueError("prize_holdout and duplicate_fraction exclude each other")
    directory = Path(directory)
    key = {
        "generator_version": GENERATOR_VERSION,
        "n_users": n_users,
        "n_movies": n_movies,
        "n_ratings": n_ratings,
        "seed": seed,
        "n_files": n_files,
        "duplicate_fraction": duplicate_fraction,
        "prize_holdout": prize_holdout,
        "model": asdict(MODEL),
    }
    if _is_up_to_date(directory, key):
        return directory
    _clear_previous_output(directory)
    directory.mkdir(parents=True, exist_ok=True)

    pop = _population(n_users, n_movies, n_ratings, seed)
    bounds = _file_bounds(pop.movie_count, n_files)
    names = [f"combined_data_{k + 1}.txt" for k in range(n_files)]
    blocks = _blocks(pop, range(n_movies), seed, duplicate_fraction)
    if prize_holdout:
        blocks = iter(_write_prize_holdout(directory, list(blocks), pop.user_raw_id, seed))
    with tqdm(total=n_ratings, unit="rating", unit_scale=True, desc="synth", disable=not progress) as bar:
        for name, first, stop in zip(names, bounds[:-1], bounds[1:]):
            file_blocks = (block for block in islice(blocks, stop - first) if len(block.users))
            _atomic_write(directory / name, _rating_chunks(file_blocks, pop.user_raw_id, chunk_ratings, bar))
    titles_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAM_POPULATION, 1)))
    _atomic_write(directory / TITLES_NAME, [_titles_csv(titles_rng, pop.movie_start)])

    names.append(TITLES_NAME)
    names += list(PRIZE_FILE_NAMES) if prize_holdout else []
    marker = {**key, "files": {name: (directory / name).stat().st_size for name in names}}
    (directory / MARKER_NAME).write_text(json.dumps(marker, indent=1) + "\n")
    return directory


# --------------------------------------------------------------------------- population


@dataclass(frozen=True)
class _Population:
    """Everything drawn once per data set: users, movies, counts, star thresholds."""

    user_raw_id: np.ndarray  # int32, raw customer id of user index u
    user_start: np.ndarray  # int32, first-active day s_u
    user_bias: np.ndarray  # float64, b_u
    user_taste: np.ndarray  # float64 (n_users, K), σ_f/√K · p_u
    user_sampler: _WeightedSampler  # draws u ∝ a_u · movie_affinity[i, g_u]
    movie_start: np.ndarray  # int32, first-available day m_i
    movie_bias: np.ndarray  # float64, b_i
    movie_taste: np.ndarray  # float64 (n_movies, K), q_i
    movie_count: np.ndarray  # int64, n_i
    movie_affinity: np.ndarray  # float64 (n_movies, G), e^{γ t_g·q_i / √K}
    forced_ptr: np.ndarray  # int64 (n_movies + 1,), users f_u = i are forced_users[ptr[i]:ptr[i+1]]
    forced_users: np.ndarray  # int32
    thresholds: np.ndarray  # float64 (4,), τ
    rate: float  # λ per day


def _population(n_users: int, n_movies: int, n_ratings: int, seed: int) -> _Population:
    """Draw users, movies, counts and star thresholds (module docstring, "Users" to "How much").

    User indices are sorted by taste segment, then by decreasing activity, so each
    segment is one contiguous range for the sampler and the rows drawn most often share
    the cache; raw ids are assigned at random afterwards, so the files do not show it.
    """
    m = MODEL
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAM_POPULATION, 0)))
    rate = np.log(m.rating_growth_per_year) / 365.25

    user_start = _growth_days(rng, np.zeros(n_users, np.int32), np.log(m.user_growth_per_year) / 365.25)
    activity = rng.lognormal(0.0, m.user_activity_sigma, n_users) * _volume_after(user_start, rate)
    segment = rng.integers(0, m.taste_segments, n_users)
    order = np.lexsort((-activity, segment))  # by segment, heavy users first within it
    user_start, activity, segment = user_start[order], activity[order], segment[order]
    segment_bounds = np.searchsorted(segment, np.arange(m.taste_segments + 1))
    raw_ids = rng.choice(max(MAX_CUSTOMER_ID, n_users), size=n_users, replace=False) + 1
    user_bias = m.user_bias_sd * rng.standard_normal(n_users)
    centres = rng.standard_normal((m.taste_segments, m.n_factors))
    own_taste = rng.standard_normal((n_users, m.n_factors))
    shared = np.sqrt(m.segment_taste_share)
    user_taste = (shared * centres[segment] + np.sqrt(1 - m.segment_taste_share) * own_taste) * (
        m.taste_sd / np.sqrt(m.n_factors))

    is_new = rng.random(n_movies) >= m.catalogue_share
    movie_start = np.where(is_new, rng.integers(0, N_DAYS, n_movies), 0).astype(np.int32)
    movie_zeta = rng.standard_normal(n_movies)
    movie_weight = np.exp(m.movie_popularity_sigma * movie_zeta) * _volume_after(movie_start, rate)
    eta = rng.standard_normal(n_movies)
    movie_bias = m.movie_bias_sd * (m.popularity_bias_corr * movie_zeta + np.sqrt(1 - m.popularity_bias_corr**2) * eta)
    movie_taste = rng.standard_normal((n_movies, m.n_factors))
    movie_affinity = np.exp(m.exposure_taste * (movie_taste @ centres.T) / np.sqrt(m.n_factors))

    expected = _saturating_counts(n_ratings, movie_weight, m.max_movie_share * n_users)
    forced_movie = rng.choice(n_movies, size=n_users, p=expected / expected.sum())
    forced_count = np.bincount(forced_movie, minlength=n_movies)
    base = forced_count + (forced_count == 0)  # every movie gets at least one rating
    movie_count = base + _allocate(n_ratings - int(base.sum()), np.maximum(expected - base, 1e-9), n_users - base)

    sampler = _WeightedSampler(activity, segment_bounds)
    pilot_movies = np.sort(rng.choice(n_movies, size=min(n_movies, _PILOT_MOVIES), replace=False))
    scores, weights = [], []
    for i in pilot_movies.tolist():
        raters = sampler.distinct(rng, np.empty(0, np.int32), int(movie_count[i]), movie_affinity[i])
        if len(raters) > _PILOT_PER_MOVIE:  # a prefix would favour the users drawn first
            raters = rng.choice(raters, size=_PILOT_PER_MOVIE, replace=False)
        scores.append(_scores(rng, user_bias[raters] + movie_bias[i], user_taste[raters], movie_taste[i]))
        weights.append(np.full(len(raters), movie_count[i] / len(raters)))
    thresholds = _weighted_quantiles(np.concatenate(scores), np.concatenate(weights), np.cumsum(STAR_SHARES)[:-1])

    order = np.argsort(forced_movie, kind="stable")
    return _Population(
        user_raw_id=raw_ids.astype(np.int32),
        user_start=user_start,
        user_bias=user_bias,
        user_taste=user_taste,
        user_sampler=sampler,
        movie_start=movie_start,
        movie_bias=movie_bias,
        movie_taste=movie_taste,
        movie_count=movie_count,
        movie_affinity=movie_affinity,
        forced_ptr=np.concatenate([[0], np.cumsum(forced_count)]),
        forced_users=order.astype(np.int32),
        thresholds=thresholds,
        rate=rate,
    )


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The smallest value whose cumulative weight share reaches each level."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return values[order][np.minimum(np.searchsorted(cumulative, levels), len(values) - 1)]


def _volume_after(day: np.ndarray, rate: float) -> np.ndarray:
    """``W(s) = (1 - e^{-λ(T+1-s)}) / (1 - e^{-λ(T+1)})``: the share of all rating volume from day ``s`` on."""
    return np.expm1(-rate * (N_DAYS - day)) / np.expm1(-rate * N_DAYS)


def _growth_days(rng: np.random.Generator, first: np.ndarray, rate: float) -> np.ndarray:
    """One day per entry, drawn with density ``∝ e^{rate·d}`` on ``first[j] .. T`` (inverse CDF)."""
    span = N_DAYS - first
    offset = np.log1p(rng.random(len(first)) * np.expm1(rate * span)) / rate
    return np.minimum(first + offset.astype(np.int32), N_DAYS - 1).astype(np.int32)


def _scores(rng: np.random.Generator, biases: np.ndarray, user_taste: np.ndarray, movie_taste: np.ndarray):
    """``z = b_u + b_i + σ_f/√K p_u·q_i + σ_ε ε`` (``user_taste`` already holds ``σ_f/√K p_u``)."""
    taste = np.einsum("nk,nk->n", user_taste, movie_taste) if movie_taste.ndim == 2 else user_taste @ movie_taste
    return biases + taste + MODEL.noise_sd * rng.standard_normal(len(biases))


def _saturating_counts(total: int, weights: np.ndarray, ceiling: float) -> np.ndarray:
    """Expected counts ``x_i = c w_i / (1 + c w_i / ceiling)`` with ``Σ x_i = total``.

    ``x`` grows like ``c w`` for small weights and saturates smoothly towards ``ceiling``
    for large ones, so the most popular movies stay ordered by weight instead of sharing
    one flat cap. ``c`` is found by bisection on ``log c`` (the sum increases with ``c``);
    it needs ``total < len(weights) · ceiling``.
    """
    if total >= len(weights) * ceiling:
        raise ValueError(f"cannot place {total} ratings below a ceiling of {ceiling:.0f} per movie")
    low, high = -60.0, 60.0
    for _ in range(200):
        middle = (low + high) / 2
        scaled = np.exp(middle) * weights
        low, high = (middle, high) if (scaled / (1 + scaled / ceiling)).sum() < total else (low, middle)
    scaled = np.exp(high) * weights
    return scaled / (1 + scaled / ceiling)


def _allocate(total: int, weights: np.ndarray, room: np.ndarray) -> np.ndarray:
    """Integers ``x >= 0`` with ``sum(x) == total``, ``x <= room``, ``x ∝ weights`` where not capped.

    Water-filling: entries whose share exceeds their room are fixed at the room and
    the rest is shared again; then largest-remainder rounding (ties to the lower index).
    """
    if total > room.sum():
        raise ValueError(f"cannot place {total} ratings: the movies have room for {room.sum()}")
    share = np.zeros(len(weights))
    free = np.ones(len(weights), bool)
    while True:
        left = total - share[~free].sum()
        share[free] = left * weights[free] / weights[free].sum()
        over = free & (share > room)
        if not over.any():
            break
        share[over] = room[over]
        free &= ~over
    counts = np.floor(share).astype(np.int64)
    remainder = share - counts
    extra = total - int(counts.sum())
    counts[np.argsort(-remainder, kind="stable")[:extra]] += 1
    return counts


class _WeightedSampler:
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

    def draw_for(self, rng: np.random.Generator, affinities: np.ndarray) -> np.ndarray:
        """One draw per row of ``affinities`` (one ``e_g`` vector per draw), with replacement."""
        cumulative = np.cumsum(affinities * self.mass, axis=1)
        threshold = rng.random(len(affinities)) * cumulative[:, -1]
        segment = (cumulative <= threshold[:, None]).sum(axis=1)
        return self._draw_in(rng, np.minimum(segment, len(self.sizes) - 1))

    def _draw_in(self, rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
        """One user of each given segment, drawn ``∝ w_u`` within it."""
        column = self.bounds[segment] + (rng.random(len(segment)) * self.sizes[segment]).astype(np.int64)
        return np.where(rng.random(len(segment)) < self.prob[column], column, self.alias[column]).astype(np.int32)

    def distinct(self, rng: np.random.Generator, forced: np.ndarray, size: int,
                 affinity: np.ndarray | None = None) -> np.ndarray:
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


# --------------------------------------------------------------------------- per-movie blocks


@dataclass(frozen=True)
class _Block:
    """One movie's lines: user indices, stars (1..5), day indices, in file order."""

    movie_id: int
    users: np.ndarray
    stars: np.ndarray
    days: np.ndarray


def _blocks(pop: _Population, movies: range, seed: int, duplicate_fraction: float) -> Iterator[_Block]:
    """Each movie's lines, drawn from the movie's own random stream (so neither the file
    split nor ``chunk_ratings`` changes them): users, then days, then stars."""
    for i in movies:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAM_MOVIES, i)))
        forced = pop.forced_users[pop.forced_ptr[i] : pop.forced_ptr[i + 1]]
        users = pop.user_sampler.distinct(rng, forced, int(pop.movie_count[i]), pop.movie_affinity[i])
        users = users[rng.permutation(len(users))]
        first = np.maximum(pop.user_start[users], pop.movie_start[i])
        days = _growth_days(rng, first, pop.rate)
        z = _scores(rng, pop.user_bias[users] + pop.movie_bias[i], pop.user_taste[users], pop.movie_taste[i])
        stars = (1 + np.searchsorted(pop.thresholds, z)).astype(np.uint8)
        if duplicate_fraction > 0:
            dup_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAM_DUPLICATES, i)))
            users, stars, days = _add_changed_minds(dup_rng, users, stars, days, first, duplicate_fraction)
        yield _Block(i + 1, users, stars, days)


def _add_changed_minds(rng, users, stars, days, first, fraction):
    """Add an earlier line with a random star for ``fraction`` of the ratings (those with ``day > first``)."""
    eligible = np.flatnonzero(days > first)
    picked = np.sort(rng.choice(eligible, size=min(len(eligible), round(fraction * len(users))), replace=False))
    old_days = first[picked] + (rng.random(len(picked)) * (days[picked] - first[picked])).astype(np.int32)
    old_stars = (1 + rng.choice(5, size=len(picked), p=STAR_SHARES)).astype(np.uint8)
    order = rng.permutation(len(users) + len(picked))
    return (
        np.concatenate([users, users[picked]])[order],
        np.concatenate([stars, old_stars])[order],
        np.concatenate([days, old_days])[order],
    )


# --------------------------------------------------------------------------- the Prize's hold-out

PRIZE_FILE_NAMES = (PROBE_NAME, QUALIFYING_NAME, QUALIFYING_ANSWERS_NAME)


def _write_prize_holdout(directory: Path, blocks: list[_Block], raw_ids: np.ndarray, seed: int) -> list[_Block]:
    """Write the probe, qualifying and answers files of ``blocks`` (every movie's block, in
    order) into ``directory``; return the blocks without their qualifying ratings (a block
    may be left empty). The files list pairs by movie, then customer id."""
    sizes = [len(block.users) for block in blocks]
    ratings = pd.DataFrame({
        "user_id": raw_ids[np.concatenate([block.users for block in blocks])],
        "movie_id": np.repeat(np.array([block.movie_id for block in blocks], dtype=np.int32), sizes),
        "rating": np.concatenate([block.stars for block in blocks]).astype(np.float32),
        "date": (FIRST_DAY + np.concatenate([block.days for block in blocks])).astype("datetime64[s]"),
    })
    holdout = prize_holdout(ratings, seed=seed)
    write_probe(ratings[holdout.is_probe].sort_values(["movie_id", "user_id"]), directory / PROBE_NAME)
    qualifying = ratings[holdout.is_qualifying].sort_values(["movie_id", "user_id"])
    write_qualifying(qualifying, directory / QUALIFYING_NAME)
    write_qualifying_predictions(qualifying, qualifying["rating"], directory / QUALIFYING_ANSWERS_NAME, decimals=0)
    kept = np.split(~holdout.is_qualifying, np.cumsum(sizes)[:-1])
    return [
        replace(block, users=block.users[keep], stars=block.stars[keep], days=block.days[keep])
        for block, keep in zip(blocks, kept)
    ]


# --------------------------------------------------------------------------- text


def _rating_chunks(
    blocks: Iterator[_Block], raw_ids: np.ndarray, chunk_ratings: int, bar
) -> Iterator[bytes | memoryview]:
    """The bytes of one ``combined_data`` file, ``chunk_ratings`` lines at a time."""
    pending: list[_Block] = []
    size = 0
    for block in blocks:
        pending.append(block)
        size += len(block.users)
        if size >= chunk_ratings:
            yield from _format_blocks(pending, raw_ids)
            bar.update(size)
            pending, size = [], 0
    if pending:
        yield from _format_blocks(pending, raw_ids)
        bar.update(size)


def _format_blocks(blocks: list[_Block], raw_ids: np.ndarray) -> list[bytes | memoryview]:
    """Header ``"{movie_id}:\\n"`` then the block's lines, for each block."""
    lines, ends = format_rating_lines(
        raw_ids[np.concatenate([b.users for b in blocks])],
        np.concatenate([b.stars for b in blocks]),
        np.concatenate([b.days for b in blocks]),
    )
    view = memoryview(lines)
    stops = np.cumsum([len(b.users) for b in blocks])
    offsets = np.concatenate([[0], ends])[np.concatenate([[0], stops])].tolist()
    parts: list[bytes | memoryview] = []
    for block, start, stop in zip(blocks, offsets[:-1], offsets[1:]):
        parts += [f"{block.movie_id}:\n".encode(), view[start:stop]]
    return parts


_DATE_BYTES = np.frombuffer(
    "".join(str(FIRST_DAY + d) for d in range(N_DAYS)).encode("ascii"), dtype=np.uint8
).reshape(N_DAYS, 10)


def format_rating_lines(customer_ids: np.ndarray, stars: np.ndarray, days: np.ndarray) -> tuple[bytes, np.ndarray]:
    """``b"".join(f"{c},{r},{FIRST_DAY + d}\\n")`` over the rows, vectorised; also the end offset of each line.

    Builds a ``(n, digits + 14)`` byte matrix (right-aligned id digits, ``,``, star,
    ``,``, date, ``\\n``) and drops the leading-zero cells with a mask, so the cost is a
    few passes over ``n`` rows and no Python loop. Ids must be positive.
    """
    ids = np.asarray(customer_ids, dtype=np.int64)
    n = len(ids)
    width = len(str(int(ids.max()))) if n else 1
    rows = np.empty((n, width + 14), dtype=np.uint8)
    rest = ids.copy()
    for col in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        rows[:, col] = digit + 48
    rows[:, width] = rows[:, width + 2] = ord(",")
    rows[:, width + 1] = np.asarray(stars, dtype=np.uint8) + 48
    rows[:, width + 3 : width + 13] = _DATE_BYTES[np.asarray(days)]
    rows[:, width + 13] = ord("\n")
    n_digits = np.searchsorted(10 ** np.arange(1, width + 1), ids, side="right") + 1
    keep = np.ones(rows.shape, dtype=bool)
    keep[:, :width] = np.arange(width) >= (width - n_digits)[:, None]
    return rows[keep].tobytes(), np.cumsum(n_digits + 14)


def _file_bounds(movie_count: np.ndarray, n_files: int) -> list[int]:
    """Movie-index boundaries ``0 = b_0 < … < b_F = n_movies`` giving each file about the same number of ratings."""
    n_movies = len(movie_count)
    targets = movie_count.sum() * np.arange(1, n_files) / n_files
    bounds = [0, *np.searchsorted(np.cumsum(movie_count), targets, side="right").tolist(), n_movies]
    for k in range(1, n_files):  # at least one movie per file
        bounds[k] = min(max(bounds[k], bounds[k - 1] + 1), n_movies - (n_files - k))
    return bounds


# --------------------------------------------------------------------------- titles

_ADJECTIVES = (
    "Silent Dark Golden Lost Last Hidden Broken Wild Secret Crimson Frozen Burning Little Midnight "
    "Eternal Savage Quiet Lonely Electric Forgotten Deadly Perfect Distant Hollow Sweet Iron Blue"
).split()
_NOUNS = (
    "River Night Empire Garden Storm Heart City Road Kingdom Summer Mirror Shadow Island Winter Dream "
    "Harbor Machine Witness Stranger Frontier Station Legacy Promise Signal Voyage Horizon Letter Hunter "
    "Ghost Orchard Carnival Detective Bridge Desert Season Angel"
).split()
_NAMES = "Jack Rosa Harry Lucy Frank Nina Oscar Mabel Victor Ruby Eddie Clara".split()
_LATIN1 = ("Café", "Amélie", "Señor", "Noël", "Déjà Vu", "Mañana", "Über", "Naïve", "Fiancée", "São Paulo")
_SUFFIXES = (": Season 1", ": Season 2", ": The Director's Cut", " II", " 2", ": Special Edition", ": Collector's Set")


def _titles_csv(rng: np.random.Generator, movie_start: np.ndarray) -> bytes:
    """``movie_titles.csv`` (latin-1): ``MovieID,YearOfRelease,Title`` per movie.

    Back-catalogue movies (``m_i = 0``) were released ``⌈Exp(10)⌉`` years before 2000
    (not before 1915); later ones in the year they appear or the year before. About 3 %
    of titles contain commas and 1 % a latin-1 letter (at least one of each), and about
    0.05 % of years are ``NULL`` (at least one), as in the Netflix file.
    """
    n = len(movie_start)
    appear_year = (FIRST_DAY + movie_start).astype("datetime64[Y]").astype(int) + 1970
    old_year = np.maximum(1915, 2000 - np.ceil(rng.exponential(10.0, n)).astype(int))
    years = np.where(movie_start == 0, old_year, appear_year - (rng.random(n) < 0.35)).tolist()
    comma = _pick(rng, n, 0.03)
    latin1 = _pick(rng, n, 0.01)
    null_year = _pick(rng, n, 0.0005)
    lines = []
    for i in range(n):
        title = _title(rng, comma=i in comma, latin1=i in latin1)
        lines.append(f"{i + 1},{'NULL' if i in null_year else years[i]},{title}\n")
    return "".join(lines).encode("latin-1")


def _pick(rng: np.random.Generator, n: int, share: float) -> set[int]:
    """About ``share · n`` distinct indices below ``n``, at least one."""
    return set(rng.choice(n, size=min(n, max(1, round(share * n))), replace=False).tolist())


def _title(rng: np.random.Generator, *, comma: bool, latin1: bool) -> str:
    """One title from a few patterns; ``comma``/``latin1`` force those quirks."""

    def word(words):
        return words[rng.integers(len(words))]

    noun = word(_LATIN1) if latin1 else word(_NOUNS)
    if comma:
        patterns = (
            f"{word(_NOUNS)}, {noun} and {word(_NOUNS)}",
            f"Goodbye, {noun}",
            f"{word(_NAMES)}, {word(_NAMES)} and the {noun}",
        )
    else:
        patterns = (
            f"The {word(_ADJECTIVES)} {noun}",
            f"{noun} of the {word(_NOUNS)}",
            f"{word(_NAMES)}'s {noun}",
            f"{word(_ADJECTIVES)} {noun}",
        )
    return word(patterns) + (word(_SUFFIXES) if rng.random() < 0.08 else "")


# --------------------------------------------------------------------------- files


def _validate(n_users, n_movies, n_ratings, n_files, duplicate_fraction, chunk_ratings) -> None:
    if min(n_users, n_movies, n_files, chunk_ratings) < 1:
        raise ValueError("n_users, n_movies, n_files and chunk_ratings must be at least 1")
    if n_files > n_movies:
        raise ValueError(f"n_files={n_files} exceeds n_movies={n_movies}: each file needs a movie")
    if n_ratings < n_users + n_movies:
        raise ValueError(f"n_ratings={n_ratings} must be at least n_users + n_movies = {n_users + n_movies}")
    most = MODEL.max_movie_share * n_users * n_movies
    if n_ratings >= most:
        raise ValueError(f"n_ratings={n_ratings} must stay below {most:.0f}, max_movie_share · n_users · n_movies")
    if not 0 <= duplicate_fraction < 1:
        raise ValueError("duplicate_fraction must be in [0, 1)")


def _read_marker(directory: Path) -> dict | None:
    try:
        return json.loads((directory / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None


def _is_up_to_date(directory: Path, key: dict) -> bool:
    marker = _read_marker(directory)
    if marker is None or {k: marker.get(k) for k in key} != key:
        return False
    files = marker.get("files", {})
    return all(
        (directory / name).is_file() and (directory / name).stat().st_size == size
        for name, size in files.items()
    )


def _clear_previous_output(directory: Path) -> None:
    """Remove files listed by an old marker; refuse to touch Kaggle-named files we did not write."""
    marker = _read_marker(directory)
    ours = set(marker.get("files", {})) if marker else set()
    foreign = [p.name for p in directory.glob("combined_data_*.txt") if p.name not in ours]
    foreign += [n for n in (TITLES_NAME, *PRIZE_FILE_NAMES) if (directory / n).exists() and n not in ours]
    if foreign:
        raise FileExistsError(f"{directory} holds {sorted(foreign)}, not written by cfutils.synth; use an empty folder")
    (directory / MARKER_NAME).unlink(missing_ok=True)
    for name in ours:
        (directory / name).unlink(missing_ok=True)


def _atomic_write(path: Path, parts) -> None:
    """Write ``parts`` to ``path`` via a temporary file, so a crash never leaves a half file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        for part in parts:
            f.write(part)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(prog="python -m cfutils.synth", description=__doc__.split("\n")[0])
    parser.add_argument("directory", nargs="?", help="output folder (omit with --sample)")
    parser.add_argument("--sample", action="store_true", help="write the embedded sample to data/sample")
    parser.add_argument("--users", type=int, default=SAMPLE.n_users)
    parser.add_argument("--movies", type=int, default=SAMPLE.n_movies)
    parser.add_argument("--ratings", type=int, default=SAMPLE.n_ratings)
    parser.add_argument("--files", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duplicate-fraction", type=float, default=0.0)
    parser.add_argument("--prize-holdout", action="store_true", help="also write probe.txt and qualifying.txt")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.sample:
        path = write_sample(args.directory, progress=not args.quiet)
    elif args.directory is None:
        parser.error("give an output folder, or --sample")
    else:
        path = write_netflix(
            args.directory,
            n_users=args.users,
            n_movies=args.movies,
            n_ratings=args.ratings,
            seed=args.seed,
            n_files=args.files,
            duplicate_fraction=args.duplicate_fraction,
            prize_holdout=args.prize_holdout,
            progress=not args.quiet,
        )
    print(path)
    return path


if __name__ == "__main__":
    main()
