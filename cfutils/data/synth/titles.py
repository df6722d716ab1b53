"""Generated movie titles in the quirks of Netflix's ``movie_titles.csv``: commas, latin-1 letters, ``NULL`` years."""

from __future__ import annotations

import numpy as np

from cfutils.data.synth.model import FIRST_DAY

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


def titles_csv(rng: np.random.Generator, movie_start: np.ndarray) -> bytes:
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
