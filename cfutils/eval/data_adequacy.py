"""Can this data carry a notebook's lessons? One judge for every notebook.

:func:`adequacy` checks the train and test sets against the thresholds of :data:`CHECKS`, each of
which applies to the notebooks whose lessons it concerns:

=====================  ==========================================  ===================================
check                  not meaningful when                         notebooks
=====================  ==========================================  ===================================
``movies_vs_list``     movies < 5 × the list length N              03, 06 (lists, coverage)
``movies``             movies < 50                                 03, 04, 05 (movie neighbours, factors)
``ratings_per_user``   median train ratings per user < 5           02, 03, 04, 05 (user neighbours)
``test_rows``          test rows < 1,000                           04, 05 (RMSE gaps)
``known_test_users``   test users known to train < 100             05, 06 (known-user comparisons)
``new_test_users``     more than half of the test users are new    06 (all-user averages)
=====================  ==========================================  ===================================

The result, recorded as ``adequacy``, is ``{"ok": bool, "warnings": [...]}``: ``ok`` is True when no
check of the notebook fails; each warning names what is not meaningful and why, with the run's numbers.
"""

from __future__ import annotations

import pandas as pd

#: (name, notebooks it applies to) of every check, in the order warnings are listed.
CHECKS = {
    "movies_vs_list": ("03", "06"),
    "movies": ("03", "04", "05"),
    "ratings_per_user": ("02", "03", "04", "05"),
    "test_rows": ("04", "05"),
    "known_test_users": ("05", "06"),
    "new_test_users": ("06",),
}
MIN_MOVIES_PER_LIST_SLOT = 5
MIN_MOVIES = 50
MIN_MEDIAN_RATINGS_PER_USER = 5
MIN_TEST_ROWS = 1_000
MIN_KNOWN_TEST_USERS = 100


def adequacy(train: pd.DataFrame, test: pd.DataFrame, notebook: str, list_length: int = 10) -> dict:
    """``{"ok", "warnings"}`` for ``notebook`` (``"03"`` or a stem ``"03_similarity"``) on this split.

    ``train`` and ``test`` are rating frames (``user_id``, ``movie_id``, ...); ``list_length`` is the N of
    the notebook's top-N lists. See the module docstring for the checks.
    """
    n_movies = train["movie_id"].nunique()
    median_ratings = float(train["user_id"].value_counts().median()) if len(train) else 0.0
    test_users = pd.Index(test["user_id"].unique())
    known = int(test_users.isin(train["user_id"].unique()).sum())
    failing = {
        "movies_vs_list": n_movies < MIN_MOVIES_PER_LIST_SLOT * list_length
        and f"lists of {list_length} from only {n_movies} movies: every list holds a large share of the catalogue, "
        "so precision, recall and coverage barely tell recommenders apart",
        "movies": n_movies < MIN_MOVIES
        and f"only {n_movies} movies: movie neighbours and features rest on a handful of movies, and a factor "
        f"model of rank {n_movies} or more reproduces the matrix exactly",
        "ratings_per_user": median_ratings < MIN_MEDIAN_RATINGS_PER_USER
        and f"the median user has {median_ratings:g} train rating{'' if median_ratings == 1 else 's'}: "
        "user similarities compare one or two movies "
        "(a cosine of 1.0 is then common) and user averages are noise",
        "test_rows": len(test) < MIN_TEST_ROWS
        and f"only {len(test):,} test rows: RMSE gaps of a few thousandths between models are noise",
        "known_test_users": known < MIN_KNOWN_TEST_USERS
        and f"only {known:,} test users are known to train: comparisons on known users rest on too few users",
        "new_test_users": known < len(test_users) / 2
        and f"{len(test_users) - known:,} of {len(test_users):,} test users are new and all get the same fallback "
        "list: averages over all users mostly measure that list",
    }
    key = notebook[:2]
    warnings = [message for name, message in failing.items() if message and key in CHECKS[name]]
    return {"ok": not warnings, "warnings": warnings}


def adequacy_banner(result: dict) -> str:
    """Markdown for the top of a notebook: what is not meaningful on this data, or that every check passed."""
    if result["ok"]:
        return "**Data adequacy:** every check of this notebook passes on this data."
    items = "\n".join(f"- {warning}" for warning in result["warnings"])
    return f"**Not meaningful on this data** (read the lessons below as conditions, not findings):\n\n{items}"
