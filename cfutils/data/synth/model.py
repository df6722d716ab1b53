r"""The generative model of users and movies behind the generated Netflix-like data.

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

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from cfutils.data.synth.sampler import WeightedSampler

FIRST_DAY = np.datetime64("1999-11-11", "D")
LAST_DAY = np.datetime64("2005-12-31", "D")
N_DAYS = int((LAST_DAY - FIRST_DAY).astype(int)) + 1

#: Largest Netflix customer id; ids are drawn sparsely from 1..MAX_CUSTOMER_ID.
MAX_CUSTOMER_ID = 2_649_429

#: Share of 1..5 stars in the Netflix Prize training data.
STAR_SHARES = (0.046, 0.101, 0.287, 0.336, 0.230)

STREAM_POPULATION, _STREAM_MOVIES, _STREAM_DUPLICATES = 0, 1, 2
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
class _Population:
    """Everything drawn once per data set: users, movies, counts, star thresholds."""

    user_raw_id: np.ndarray  # int32, raw customer id of user index u
    user_start: np.ndarray  # int32, first-active day s_u
    user_bias: np.ndarray  # float64, b_u
    user_activity: np.ndarray  # float64, a_u
    user_taste: np.ndarray  # float64 (n_users, K), σ_f/√K · p_u
    user_sampler: WeightedSampler  # draws u ∝ a_u · movie_affinity[i, g_u]
    movie_start: np.ndarray  # int32, first-available day m_i
    movie_bias: np.ndarray  # float64, b_i
    movie_taste: np.ndarray  # float64 (n_movies, K), q_i
    movie_count: np.ndarray  # int64, n_i
    movie_affinity: np.ndarray  # float64 (n_movies, G), e^{γ t_g·q_i / √K}
    forced_ptr: np.ndarray  # int64 (n_movies + 1,), users f_u = i are forced_users[ptr[i]:ptr[i+1]]
    forced_users: np.ndarray  # int32
    thresholds: np.ndarray  # float64 (4,), τ
    rate: float  # λ per day


class _Users(NamedTuple):
    """The users' draws, indices sorted by taste segment, then by decreasing activity."""

    start: np.ndarray  # s_u
    activity: np.ndarray  # a_u
    segment_bounds: np.ndarray  # users of segment g are bounds[g]:bounds[g+1]
    raw_ids: np.ndarray
    bias: np.ndarray  # b_u
    taste: np.ndarray  # σ_f/√K · p_u
    centres: np.ndarray  # t_g


class _Movies(NamedTuple):
    """The movies' draws."""

    start: np.ndarray  # m_i
    weight: np.ndarray  # w_i = B_i W(m_i)
    bias: np.ndarray  # b_i
    taste: np.ndarray  # q_i
    affinity: np.ndarray  # e^{γ t_g·q_i / √K}, one column per segment


def draw_population(n_users: int, n_movies: int, n_ratings: int, seed: int) -> _Population:
    """Draw users, movies, counts and star thresholds (module docstring, "Users" to "How much").

    User indices are sorted by taste segment, then by decreasing activity, so each
    segment is one contiguous range for the sampler and the rows drawn most often share
    the cache; raw ids are assigned at random afterwards, so the files do not show it.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_POPULATION, 0)))
    rate = np.log(MODEL.rating_growth_per_year) / 365.25
    users = _draw_users(rng, n_users, rate)
    movies = _draw_movies(rng, n_movies, users.centres, rate)

    expected = _saturating_counts(n_ratings, movies.weight, MODEL.max_movie_share * n_users)
    forced_movie = rng.choice(n_movies, size=n_users, p=expected / expected.sum())
    forced_count = np.bincount(forced_movie, minlength=n_movies)
    base = forced_count + (forced_count == 0)  # every movie gets at least one rating
    movie_count = base + _allocate(n_ratings - int(base.sum()), np.maximum(expected - base, 1e-9), n_users - base)
    sampler = WeightedSampler(users.activity, users.segment_bounds)
    return _Population(
        user_raw_id=users.raw_ids.astype(np.int32),
        user_start=users.start,
        user_bias=users.bias,
        user_activity=users.activity,
        user_taste=users.taste,
        user_sampler=sampler,
        movie_start=movies.start,
        movie_bias=movies.bias,
        movie_taste=movies.taste,
        movie_count=movie_count,
        movie_affinity=movies.affinity,
        forced_ptr=np.concatenate([[0], np.cumsum(forced_count)]),
        forced_users=np.argsort(forced_movie, kind="stable").astype(np.int32),
        thresholds=_star_thresholds(rng, sampler, users, movies, movie_count),
        rate=rate,
    )


def _draw_users(rng: np.random.Generator, n_users: int, rate: float) -> _Users:
    """``s_u``, ``a_u``, ``g_u``, raw ids, ``b_u`` and ``p_u`` (module docstring, "Users")."""
    m = MODEL
    start = _growth_days(rng, np.zeros(n_users, np.int32), np.log(m.user_growth_per_year) / 365.25)
    activity = rng.lognormal(0.0, m.user_activity_sigma, n_users) * _volume_after(start, rate)
    segment = rng.integers(0, m.taste_segments, n_users)
    order = np.lexsort((-activity, segment))  # by segment, heavy users first within it
    start, activity, segment = start[order], activity[order], segment[order]
    segment_bounds = np.searchsorted(segment, np.arange(m.taste_segments + 1))
    raw_ids = rng.choice(max(MAX_CUSTOMER_ID, n_users), size=n_users, replace=False) + 1
    bias = m.user_bias_sd * rng.standard_normal(n_users)
    centres = rng.standard_normal((m.taste_segments, m.n_factors))
    own_taste = rng.standard_normal((n_users, m.n_factors))
    shared = np.sqrt(m.segment_taste_share)
    taste = (shared * centres[segment] + np.sqrt(1 - m.segment_taste_share) * own_taste) * (
        m.taste_sd / np.sqrt(m.n_factors)
    )
    return _Users(start, activity, segment_bounds, raw_ids, bias, taste, centres)


def _draw_movies(rng: np.random.Generator, n_movies: int, centres: np.ndarray, rate: float) -> _Movies:
    """``m_i``, ``w_i``, ``b_i``, ``q_i`` and the affinity to each taste segment (module docstring, "Movies")."""
    m = MODEL
    is_new = rng.random(n_movies) >= m.catalogue_share
    start = np.where(is_new, rng.integers(0, N_DAYS, n_movies), 0).astype(np.int32)
    zeta = rng.standard_normal(n_movies)
    weight = np.exp(m.movie_popularity_sigma * zeta) * _volume_after(start, rate)
    eta = rng.standard_normal(n_movies)
    bias = m.movie_bias_sd * (m.popularity_bias_corr * zeta + np.sqrt(1 - m.popularity_bias_corr**2) * eta)
    taste = rng.standard_normal((n_movies, m.n_factors))
    affinity = np.exp(m.exposure_taste * (taste @ centres.T) / np.sqrt(m.n_factors))
    return _Movies(start, weight, bias, taste, affinity)


def _star_thresholds(rng, sampler: WeightedSampler, users: _Users, movies: _Movies, movie_count) -> np.ndarray:
    """``τ_1 < … < τ_4``: quantiles of the scores of a pilot drawn as the files draw them (module
    docstring, "How much"), each rater weighted by ``n_i`` over the raters taken."""
    n_movies = len(movie_count)
    pilot_movies = np.sort(rng.choice(n_movies, size=min(n_movies, _PILOT_MOVIES), replace=False))
    scores, weights = [], []
    for i in pilot_movies.tolist():
        raters = sampler.distinct(rng, np.empty(0, np.int32), int(movie_count[i]), movies.affinity[i])
        if len(raters) > _PILOT_PER_MOVIE:  # a prefix would favour the users drawn first
            raters = rng.choice(raters, size=_PILOT_PER_MOVIE, replace=False)
        scores.append(_scores(rng, users.bias[raters] + movies.bias[i], users.taste[raters], movies.taste[i]))
        weights.append(np.full(len(raters), movie_count[i] / len(raters)))
    return _weighted_quantiles(np.concatenate(scores), np.concatenate(weights), np.cumsum(STAR_SHARES)[:-1])


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


# --------------------------------------------------------------------------- per-movie blocks


@dataclass(frozen=True)
class MovieBlock:
    """One movie's lines: user indices, stars (1..5), day indices, in file order."""

    movie_id: int
    users: np.ndarray
    stars: np.ndarray
    days: np.ndarray


def movie_blocks(pop: _Population, movies: range, seed: int, duplicate_fraction: float) -> Iterator[MovieBlock]:
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
        yield MovieBlock(i + 1, users, stars, days)


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
