r""" "Because you rated X (5★), Y (4★)": explanations and titled lists from a recommender's output.

An item-based recommender's score is a sum over the user's rated movies j of a weight
:math:`w_{ji}`: :math:`\mathrm{score}(u, i) = \sum_{j \in I_u} w_{ji}`. Such a recommender has a
public ``item_weights(user_idx, rated_idx, movie_idx)`` giving :math:`w_{ji}` (EASE:
:math:`x_{uj} B_{ji}`; item-kNN: the cosine :math:`s_{ji}`; formulas in each class).

The explanation of a recommended movie i cites the ``top`` movies j the user rated **at or above
``threshold``** (4★ by default, the relevance threshold of the metrics) with the largest positive
:math:`w_{ji}`; ties go to the smaller movie index. A movie rated below the threshold is never
cited, even when it weighs most: "because you rated it 1★" explains nothing a person would accept.

Edge cases: a user unknown to train, a row filled from the fallback, a recommender without
``item_weights`` and a movie no well-rated movie weighs for cite nothing; the titled list then says
:data:`FALLBACK_REASON` (fallback rows) or the recommender's ``reason``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from cfutils.present.titles import TitleTable, as_title_table

FALLBACK_REASON = "popular recently"
LIST_COLUMNS = ["movie_id", "title", "year", "score", "because"]


def strongest(weights: np.ndarray, top: int) -> list[list[int]]:
    """Per row of ``weights`` (recommendations x rated movies), the columns of the ``top`` largest
    positive weights, largest first (ties: the smaller column)."""
    return [[j for j in np.lexsort((np.arange(row.size), -row))[:top] if row[j] > 0] for row in weights]


def cited(
    recommender, user_id: int, movie_ids: Iterable[int], threshold: float = 4.0, top: int = 2
) -> list[list[tuple[int, float]]]:
    """Per movie id, the ``(movie_id, stars)`` of the rated movies that explain it (module docstring).

    ``recommender`` is fitted (``matrix_`` holds the user's train ratings); it explains only if it
    has ``item_weights``. Movie ids unknown to its matrix cite nothing.
    """
    movie_ids = np.asarray(list(movie_ids), dtype=np.int64)
    matrix = recommender.matrix_
    user_idx = int(matrix.user_index([user_id])[0])
    if user_idx < 0 or not hasattr(recommender, "item_weights") or movie_ids.size == 0:
        return [[] for _ in movie_ids]
    row = matrix.csr[user_idx]
    liked = row.data >= threshold
    rated, stars = row.indices[liked], row.data[liked]
    movie_idx = matrix.movie_index(movie_ids)
    weights = np.zeros((movie_ids.size, rated.size))
    known = movie_idx >= 0
    if rated.size and known.any():
        weights[known] = recommender.item_weights(user_idx, rated, movie_idx[known])
    return [[(int(matrix.movie_ids[rated[j]]), float(stars[j])) for j in pick] for pick in strongest(weights, top)]


def because_text(cites: list[tuple[int, float]], titles: TitleTable) -> str:
    """ "because you rated Alien (5★), Heat (4★)" for cited ``(movie_id, stars)``."""
    names = titles.titles_of(np.array([movie for movie, _ in cites], dtype=np.int64))
    return "because you rated " + ", ".join(f"{name} ({stars:g}★)" for name, (_, stars) in zip(names, cites))


def explained_list(
    recommender, user_id: int, n: int = 10, titles=None, threshold: float = 4.0, top: int = 2
) -> pd.DataFrame:
    """One user's list with titles and reasons: ``[movie_id, title, year, score, because]``, best first.

    The list is ``recommender.top_n(user_id, n)``; ``titles`` a frame indexed by ``movie_id`` or a
    :class:`~cfutils.present.titles.TitleTable` (None: "movie <id>"); ``because`` as in the module
    docstring.
    """
    titles = as_title_table(titles)
    listed = recommender.top_n(user_id, n)
    reasons = []
    for cites, fallback in zip(cited(recommender, user_id, listed["movie_id"], threshold, top), listed["fallback"]):
        if fallback:
            reasons.append(FALLBACK_REASON)
        else:
            reasons.append(because_text(cites, titles) if cites else recommender.reason)
    frame = pd.concat([listed[["movie_id"]], titles.frame(listed["movie_id"].to_numpy())], axis=1)
    frame["score"] = listed["score"].to_numpy()
    frame["because"] = reasons
    return frame[LIST_COLUMNS]


def explanations(
    recommender, user_ids: Iterable[int], n: int = 10, titles=None, threshold: float = 4.0, top: int = 2
) -> list[dict]:
    """The record of what explains each listed movie: ``[{"user_id", "movie_id", "because": [{"movie_id",
    "title", "rating"}]}]``, one entry per movie of each user's top-``n`` list, in list order
    (``because`` empty for fallback rows and movies nothing cites)."""
    titles = as_title_table(titles)
    out = []
    for user_id in user_ids:
        listed = recommender.top_n(int(user_id), n)
        for movie_id, fallback, cites in zip(
            listed["movie_id"], listed["fallback"], cited(recommender, int(user_id), listed["movie_id"], threshold, top)
        ):
            because = [] if fallback else cites
            names = titles.titles_of(np.array([movie for movie, _ in because], dtype=np.int64))
            out.append(
                {
                    "user_id": int(user_id),
                    "movie_id": int(movie_id),
                    "because": [
                        {"movie_id": movie, "title": str(name), "rating": stars}
                        for name, (movie, stars) in zip(names, because)
                    ],
                }
            )
    return out
