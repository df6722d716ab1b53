"""Train/test splits of a ratings frame, each a named choice the reader can see.

Three splits, as in LensKit's ``split_temporal_fraction`` / ``sample_users`` family:

============================  =====================================================
``temporal_split``            the last ``test_size`` of all ratings by date: the
                              honest "predict the future" split of the Netflix Prize.
``per_user_temporal_split``   each user's last ``test_size`` of ratings: every test
                              user is also a train user (no user cold start).
``random_split``              a seeded random sample: optimistic, it trains on the future.
``hashed_split``              a seeded random split decided by a hash of each pair, with
                              no draw: the ``random`` split of ``cfutils.distributed``.
``probe_split``               the Netflix Prize's probe set: each user's latest
                              ratings, up to 9, a third of them (``cfutils.data.io.prize``).
``make_split(..., "given")``  a fixed split shipped with the data: MovieLens 100K's
                              ``u1.test`` … ``ub.test`` beside their ``.base`` files
                              (``cfutils.data.dataset.read_given``).
============================  =====================================================

Each is also a named object, :class:`SplitMethod` (:data:`GLOBAL_TIME`, :data:`PER_USER_TIME`,
:data:`RANDOM`, :data:`PROBE`, :data:`GIVEN`), which is what travels inside the package (a stack's folds, a
validation rule). The notebooks' ``SPLIT`` string becomes its object in one place,
:func:`split_method`.

The original tutorial split 80/20 in *file order*. The Netflix files are grouped by
movie, so that split puts whole movies in test: it is a split by movie, not by time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from cfutils.data.io.prize import find_pairs


class Split(NamedTuple):
    """A train/test pair of ratings frames; unpack it as ``train, test = split``."""

    train: pd.DataFrame
    test: pd.DataFrame


def check_fraction(test_size: float) -> None:
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")


def _chronological_order(ratings: pd.DataFrame) -> np.ndarray:
    """Row positions sorted by (date, user_id, movie_id): a total, reproducible order.

    The ids break ties between ratings of the same day, so the split does not
    depend on the order of the rows in the input.
    """
    return np.lexsort((ratings["movie_id"].to_numpy(), ratings["user_id"].to_numpy(), ratings["date"].to_numpy()))


def _take(ratings: pd.DataFrame, is_test: np.ndarray) -> Split:
    return Split(ratings[~is_test], ratings[is_test])


def temporal_split(ratings: pd.DataFrame, test_size: float = 0.2) -> Split:
    """Split by date: the latest ``round(test_size * n)`` ratings are test.

    Rows are ordered by ``(date, user_id, movie_id)``, so ratings on the same day at
    the cut are assigned deterministically. Input row order is kept within each part.

    When it fits: evaluating what a deployed system would face. Users and movies
    that first appear after the cut are *cold start*; on the Netflix data about 15 % of
    test users are new, on MovieLens 100K about 85 % of test rows have an unseen user
    (MovieLens users rate in one burst), so prefer ``per_user_temporal_split`` there.
    """
    check_fraction(test_size)
    return _take(ratings, _latest(ratings, int(round(test_size * len(ratings)))))


def _latest(ratings: pd.DataFrame, n_latest: int) -> np.ndarray:
    """Boolean mask of the last ``n_latest`` rows in the order of :func:`_chronological_order`.

    The same rows as ``order[len - n_latest:]`` of that order, without sorting all of them: with
    :math:`k` = len - n_latest, the date :math:`t` at sorted position :math:`k` comes from one
    ``np.partition`` (linear time); rows dated after :math:`t` are in, rows before it are out, and
    only the rows dated :math:`t` are sorted by (user_id, movie_id) to fill the remaining places.
    At 80 million ratings this replaces a three-key ``lexsort`` of every row (tested against it).
    """
    n = len(ratings)
    if n_latest > n:
        raise ValueError(f"cannot take the latest {n_latest} of {n} ratings")
    is_latest = np.zeros(n, dtype=bool)
    if n_latest <= 0:
        return is_latest
    keep = n - n_latest
    if keep == 0:
        is_latest[:] = True
        return is_latest
    dates = ratings["date"].to_numpy()
    # A datetime64 column of any unit orders as its int64 view (no copy: 800 MB at Netflix size).
    days = dates.view(np.int64) if dates.dtype.kind == "M" else dates.astype("datetime64[ns]").view(np.int64)
    cut = np.partition(days, keep)[keep]
    is_latest[days > cut] = True
    tied = np.flatnonzero(days == cut)
    before = int(np.count_nonzero(days < cut))
    users, movies = ratings["user_id"].to_numpy()[tied], ratings["movie_id"].to_numpy()[tied]
    is_latest[tied[np.lexsort((movies, users))[keep - before :]]] = True
    return is_latest


def per_user_temporal_split(ratings: pd.DataFrame, test_size: float = 0.2) -> Split:
    """Each user's latest ``floor(test_size * n_u)`` ratings are test.

    A user with n_u ratings keeps at least ``n_u - floor(test_size * n_u)`` in train, so
    no test user is unseen. Ties on the same day go by movie_id.

    When it fits: ranking evaluation ("what will this user watch next?") and data sets
    such as MovieLens where a global cut leaves most test users cold.
    """
    check_fraction(test_size)
    rows, position, count = _positions_in_user(ratings)
    is_test = np.zeros(len(ratings), dtype=bool)
    is_test[rows] = position >= count - np.floor(test_size * count).astype(np.int64)
    return _take(ratings, is_test)


def _positions_in_user(ratings: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, position, count)``: row positions grouped by user, in chronological order within
    each user; the 0-based position of each among its user's ratings; its user's rating count."""
    order = _chronological_order(ratings)
    users = ratings["user_id"].to_numpy()[order]
    by_user = np.argsort(users, kind="stable")  # stable: chronological within each user
    starts = np.r_[0, np.flatnonzero(np.diff(users[by_user])) + 1]
    counts = np.diff(np.r_[starts, len(users)])
    position = np.arange(len(users)) - np.repeat(starts, counts)
    return order[by_user], position, np.repeat(counts, counts)


def random_split(ratings: pd.DataFrame, test_size: float = 0.2, seed: int = 0) -> Split:
    """A seeded uniform random ``round(test_size * n)`` ratings are test.

    When it fits: comparing with papers that use random cross-validation. It trains
    on the future, so its errors are optimistic for a deployed system.
    """
    check_fraction(test_size)
    n_test = int(round(test_size * len(ratings)))
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(ratings), dtype=bool)
    is_test[rng.choice(len(ratings), size=n_test, replace=False)] = True
    return _take(ratings, is_test)


#: The multiplier of :func:`pair_hash`'s mixing step (an odd constant below 2**27, so that a 32-bit value
#: times it fits a signed 64-bit integer: Spark computes the same hash with long arithmetic, no overflow).
HASH_MULTIPLIER = 0x45D9F3B
HASH_MASK = 0xFFFFFFFF


def mix32(x: np.ndarray) -> np.ndarray:
    """One 32-bit mixing step on uint64 values below 2**32:
    :math:`x \\leftarrow ((x \\oplus (x \\gg 16)) \\cdot m) \\bmod 2^{32}` twice, then :math:`x \\oplus (x \\gg 16)`."""
    for _ in range(2):
        x = ((x ^ (x >> np.uint64(16))) * np.uint64(HASH_MULTIPLIER)) & np.uint64(HASH_MASK)
    return x ^ (x >> np.uint64(16))


def pair_hash(users, movies, seed: int = 0) -> np.ndarray:
    """A seeded 32-bit hash of each ``(user_id, movie_id)``: ``mix32(mix32(mix32(seed) ^ user) ^ movie)``.

    It depends on the pair and the seed only, not on the row's position, so any engine, any
    partitioning and any file order give the same value (``cfutils.distributed`` computes it in Spark).
    """
    start = mix32(np.array([seed & HASH_MASK], dtype=np.uint64))
    users = np.asarray(users).astype(np.uint64) & np.uint64(HASH_MASK)
    movies = np.asarray(movies).astype(np.uint64) & np.uint64(HASH_MASK)
    return mix32(mix32(start ^ users) ^ movies)


def hashed_split(ratings: pd.DataFrame, test_size: float = 0.2, seed: int = 0) -> Split:
    """A seeded random split with no draw: a rating is test when
    :math:`\\mathrm{pair\\_hash}(u, i, \\text{seed}) < \\mathrm{round}(\\text{test\\_size} \\cdot 2^{32})`.

    Each rating is decided on its own, so a cluster splits without a shuffle and without the driver
    drawing positions (:func:`random_split`'s numpy draw needs every row in one place). The test
    share is ``test_size`` in expectation, not exactly; ratings of the same pair go to the same side.
    The same rows as ``cfutils.distributed``'s ``random`` split, row for row.
    """
    check_fraction(test_size)
    cut = np.uint64(round(test_size * 2**32))
    return _take(ratings, pair_hash(ratings["user_id"].to_numpy(), ratings["movie_id"].to_numpy(), seed) < cut)


def probe_split(ratings: pd.DataFrame, probe: pd.DataFrame) -> Split:
    """Test holds exactly the ratings of the ``probe`` pairs (``user_id``, ``movie_id``); train the rest.

    The Prize's own split: the probe set is each user's latest ratings, up to 9, a third
    of them (:func:`cfutils.data.io.prize.prize_holdout`), so it is a per-user time split. Every
    probe pair must have a rating: else :class:`cfutils.data.io.DataFormatError` names the
    probe file and the line (after sampling ratings, restrict the probe with
    :func:`cfutils.data.io.prize.pairs_within` first).
    """
    return _take(ratings, find_pairs(ratings, probe))


@dataclass(frozen=True)
class SplitMethod:
    """A named train/test split of the package: ``cut(ratings, test_size, seed, probe) -> Split``.

    ``slices(ratings, n_folds)`` numbers the rows ``0 .. n_folds-1`` in time by the split's own rule
    (forward chaining: slice f is later than every slice before it), or is ``None`` for a split
    that does not cut by time (``random``, ``probe``). Compare and pass the objects
    (:data:`GLOBAL_TIME` ...); ``name`` is for people (records, plots, the command line).
    """

    name: str
    cut: Callable[..., Split]
    slices: Callable[[pd.DataFrame, int], np.ndarray] | None = None

    def __str__(self) -> str:
        return self.name


def _cut_global_time(ratings, test_size, seed, probe) -> Split:
    return temporal_split(ratings, test_size)


def _cut_per_user_time(ratings, test_size, seed, probe) -> Split:
    return per_user_temporal_split(ratings, test_size)


def _cut_random(ratings, test_size, seed, probe) -> Split:
    return random_split(ratings, test_size, seed)


def _cut_probe(ratings, test_size, seed, probe) -> Split:
    if probe is None:
        raise ValueError("SPLIT='probe' needs the Netflix Prize file probe.txt next to the ratings; this data has none")
    return probe_split(ratings, probe)


def _cut_given(ratings, test_size, seed, probe) -> Split:
    if probe is None:
        raise ValueError(
            "SPLIT='given' needs DATA to name a MovieLens 100K .base file (u1.base ... u5.base, ua.base, ub.base) "
            "with its .test file beside it"
        )
    return probe_split(ratings, probe)


def _global_time_slices(ratings: pd.DataFrame, n_folds: int) -> np.ndarray:
    """Rows in ``(date, user_id, movie_id)`` order cut into ``n_folds`` near-equal consecutive slices
    (position p of n gets ``floor(p · F / n)``)."""
    folds = np.empty(len(ratings), dtype=np.int64)
    folds[_chronological_order(ratings)] = (np.arange(len(ratings)) * n_folds) // max(len(ratings), 1)
    return folds


def _per_user_time_slices(ratings: pd.DataFrame, n_folds: int) -> np.ndarray:
    """Each user's ratings in ``(date, movie_id)`` order cut the same way: position p of n_u gets
    ``floor(p · F / n_u)``, so slice f holds every user's f-th part."""
    folds = np.empty(len(ratings), dtype=np.int64)
    rows, position, count = _positions_in_user(ratings)
    folds[rows] = (position * n_folds) // count
    return folds


GLOBAL_TIME = SplitMethod("global_time", _cut_global_time, _global_time_slices)  #: :func:`temporal_split`
PER_USER_TIME = SplitMethod("per_user_time", _cut_per_user_time, _per_user_time_slices)  #: per-user time
RANDOM = SplitMethod("random", _cut_random)  #: :func:`random_split`
PROBE = SplitMethod("probe", _cut_probe)  #: :func:`probe_split`
GIVEN = SplitMethod("given", _cut_given)  #: the ``.test`` pairs shipped beside a MovieLens 100K ``.base`` file
SPLITS = {method.name: method for method in (GLOBAL_TIME, PER_USER_TIME, RANDOM, PROBE, GIVEN)}
SPLIT_METHODS = tuple(SPLITS)  # the names, for the notebooks' SPLIT and the pipeline's --split
#: The splits whose test set comes with the data (the probe pairs, a ``.test`` file), not from a rule.
HELD_OUT_SPLITS = (PROBE.name, GIVEN.name)


def split_method(method: str | SplitMethod) -> SplitMethod:
    """The split named ``method`` (one of :data:`SPLIT_METHODS`): the one place where the notebooks'
    ``SPLIT`` string becomes a :class:`SplitMethod`. A ``SplitMethod`` is returned as it is;
    ``ValueError`` names the choices for any other name."""
    if isinstance(method, SplitMethod):
        return method
    if method not in SPLITS:
        raise ValueError(f"unknown split {method!r}; choose one of {', '.join(SPLIT_METHODS)}")
    return SPLITS[method]


def make_split(
    ratings: pd.DataFrame,
    method: str | SplitMethod = GLOBAL_TIME,
    test_size: float = 0.2,
    seed: int = 0,
    probe: pd.DataFrame | None = None,
) -> Split:
    """The split ``method`` of ``ratings``: a :class:`SplitMethod` or its name (the notebooks' ``SPLIT``,
    one of :data:`SPLIT_METHODS`, :func:`split_method`).

    ``probe`` (the data set's probe pairs, or ``None``) is used by ``"probe"`` only, which
    raises ``ValueError`` without it; ``test_size`` and ``seed`` are not used by ``"probe"``.
    ``"given"`` takes the test pairs in the same argument: the pairs of the ``.test`` file that
    :func:`cfutils.data.dataset.load_dataset` reads beside a MovieLens 100K ``.base`` file.
    """
    return split_method(method).cut(ratings, test_size, seed, probe)


def validation_split_for(method: str | SplitMethod, *, lists: bool = False) -> SplitMethod:
    """The split that cuts a validation set (or stacking folds) from train, for test split ``method``.

    The one rule of the package for every choice made on train (a model's grid, the
    popularity weight λ, a stack's folds, the best recommender, a re-ranker's training):

    ============================  =====================  =========================
    test split ``method``         rating predictors      top-N lists (``lists``)
    ============================  =====================  =========================
    ``per_user_time``             ``per_user_time``      ``per_user_time``
    ``global_time``               ``global_time``        ``global_time``
    ``random``                    ``global_time``        ``random``
    ``probe``                     ``global_time``        ``ValueError``
    ``given``                     ``global_time``        ``random``
    ============================  =====================  =========================

    Why a time cut for rating predictors, even under a random test split: a random
    validation set lets a model learn from the future of the very ratings it is judged
    on, so it rewards parameters that only work with that leak (notebook 05's stack
    measured it). ``per_user_time`` keeps its rule so that every validation user is
    known, as every test user is.

    Why the test's own rule for lists: a list is judged by *which* movies a user holds
    out, and the re-ranker learns from exactly those labels, so validation must hold out
    the same kind of movies as test: the next ones in time under a time split, a random
    share under ``random``. Measured on movielens-small under ``random`` (NDCG@10 on
    test; README): with a ``global_time`` cut only 26 of 114 validation users were known
    and the choice fell on "MF + popularity" (0.172, EASE 0.308); a ``per_user_time``
    cut taught the re-ranker recency that a random test does not have (0.158); the
    random cut chose the re-ranker (0.303) and ranked the models as test does.
    ``probe`` is a rating protocol with no list counterpart. ``given`` (MovieLens 100K's fixed
    folds, drawn at random) is a random test set, so it follows ``random``. ``ValueError`` for a
    method outside :data:`SPLIT_METHODS`.
    """
    method = split_method(method)
    if lists:
        if method == PROBE:
            raise ValueError("split 'probe' is for rating predictors; top-N lists need a time or random split")
        return RANDOM if method == GIVEN else method
    return PER_USER_TIME if method == PER_USER_TIME else GLOBAL_TIME


def validation_cut(
    train: pd.DataFrame, method: str | SplitMethod, test_size: float = 0.2, *, lists: bool = False, seed: int = 0
) -> Split:
    """(fit part, validation part) of ``train`` for test split ``method``: ``test_size`` of train cut
    by the split :func:`validation_split_for` gives (``seed`` is used by a random cut only)."""
    return make_split(train, validation_split_for(method, lists=lists), test_size=test_size, seed=seed)


def validation_folds(
    train: pd.DataFrame,
    method: str | SplitMethod,
    test_size: float = 0.2,
    n_folds: int = 2,
    *,
    lists: bool = False,
    seed: int = 0,
) -> list[Split]:
    """Rolling-origin validation: ``n_folds`` (fit part, validation part) pairs of ``train``.

    Fold 0 is :func:`validation_cut`; fold k cuts the same rule again from the fit part of fold
    k - 1, with share ``test_size / (1 - k · test_size)`` of it, so every validation part is about
    ``test_size`` of train (per user, rounding can make a later fold a rating larger) and fold k's
    lies just before fold k - 1's under a time split. Under a random split the parts are disjoint
    random shares; fold 0 is drawn with ``seed``, fold k with a seed derived from ``(seed, k)``
    (``numpy.random.SeedSequence``), so the folds of two seeds never share a draw. One validation
    part is one draw of which movies a user goes on to watch; the mean over the folds varies less
    for the users validated in more than one of them, so a choice between models rests on more
    than one window. ``ValueError`` unless ``n_folds >= 1`` and ``n_folds · test_size < 1``.
    """
    if n_folds < 1 or n_folds * test_size >= 1.0:
        raise ValueError(f"need n_folds >= 1 and n_folds * test_size < 1, got {n_folds} and {test_size}")
    folds, rest = [], train
    for k in range(n_folds):
        fold_seed = seed if k == 0 else int(np.random.SeedSequence([seed, k]).generate_state(1)[0])
        fold = validation_cut(rest, method, test_size / (1.0 - k * test_size), lists=lists, seed=fold_seed)
        folds.append(fold)
        rest = fold.train
    return folds


def chronological_folds(ratings: pd.DataFrame, n_folds: int, method: SplitMethod = GLOBAL_TIME) -> np.ndarray:
    """A time slice ``0..n_folds-1`` for each row, by the rule of split ``method`` (its ``slices``).

    :data:`GLOBAL_TIME`: rows in ``(date, user_id, movie_id)`` order, cut into ``n_folds``
    near-equal consecutive slices (row at position p gets ``floor(p · F / n)``).
    :data:`PER_USER_TIME`: each user's ratings in that order are cut the same way, position
    p of n_u getting ``floor(p · F / n_u)``, so slice f holds every user's f-th part.
    Slice f is later than every slice before it, by the rule, which is what forward
    chaining needs: fit on slices ``< f``, predict slice f. ``ValueError`` for a split that does
    not cut by time, or ``n_folds < 2``.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    if method.slices is None:
        raise ValueError(f"chronological folds follow global_time or per_user_time, not {method.name!r}")
    return method.slices(ratings, n_folds)


def file_order_split(ratings: pd.DataFrame, test_size: float = 0.2) -> Split:
    """The original tutorial's split, kept only to show its effect: the first rows are train.

    On Netflix files, rows are grouped by movie, so this is a split *by movie*.
    """
    check_fraction(test_size)
    n_train = len(ratings) - int(round(test_size * len(ratings)))
    is_test = np.arange(len(ratings)) >= n_train
    return _take(ratings, is_test)


def sample_ratings(
    ratings: pd.DataFrame, n_users: int | None = None, n_movies: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """Keep the ratings of ``n_users`` random users on ``n_movies`` random movies (``None`` = all).

    Sample first, then split within the sample. The AppliedAI case study drew its
    test users apart from its train users, so most test rows were cold start and
    every model landed near RMSE 1.07. Users and movies are drawn uniformly without
    replacement with ``numpy.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    keep = np.ones(len(ratings), dtype=bool)
    for column, size in (("user_id", n_users), ("movie_id", n_movies)):
        ids = np.unique(ratings[column].to_numpy())
        if size is not None and size < len(ids):
            chosen = rng.choice(ids, size=size, replace=False)
            keep &= np.isin(ratings[column].to_numpy(), chosen)
    return ratings[keep]


def sample_ids(ids: np.ndarray, size: int | None, seed: int = 0) -> np.ndarray:
    """At most ``size`` of ``ids``, drawn uniformly without replacement and sorted.

    The draw is ``numpy.random.default_rng(seed).choice(ids, size, replace=False)``. ``ids`` comes
    back unchanged when ``size`` is ``None`` or ``ids`` has no more than ``size`` elements. Used to
    cap how many users an evaluation scores.
    """
    ids = np.asarray(ids)
    if size is None or ids.size <= size:
        return ids
    return np.sort(np.random.default_rng(seed).choice(ids, size, replace=False))


def sample_rows(n_rows: int, size: int | None, seed: int = 0) -> np.ndarray | None:
    """``size`` random row indices out of ``n_rows`` (:func:`sample_ids` of ``0 .. n_rows - 1``),
    or ``None``, meaning every row, when ``size`` is ``None`` or at least ``n_rows``: the ``rows``
    argument of :func:`cfutils.core.similarity.engine.cosine_top_k`."""
    if size is None or size >= n_rows:
        return None
    return sample_ids(np.arange(n_rows), size, seed)
