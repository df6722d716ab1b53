"""The data-adequacy judge: each check fails exactly below its threshold, and only for its notebooks."""

from __future__ import annotations

import pandas as pd

from cfutils.eval import adequacy, adequacy_banner


def frame(users, movies):
    return pd.DataFrame({"user_id": users, "movie_id": movies, "rating": 4.0})


def test_plenty_of_data_passes_every_notebook():
    users = [u for u in range(200) for _ in range(10)]
    train = frame(users, [(u * 7 + j) % 100 for u in range(200) for j in range(10)])
    test = frame(list(range(200)) * 6, [m % 100 for m in range(1200)])
    for notebook in ("01", "02", "03", "04", "05", "06"):
        assert adequacy(train, test, notebook) == {"ok": True, "warnings": []}


def test_eleven_movies_one_rating_each_and_new_users():
    train = frame(range(900), [u % 11 for u in range(900)])
    test = frame(range(850, 1000), [u % 11 for u in range(150)])
    got = {notebook: adequacy(train, test, notebook)["warnings"] for notebook in ("01", "02", "03", "04", "05", "06")}
    assert got["01"] == []
    assert any("lists of 10 from only 11 movies" in w for w in got["03"]) and any(
        "only 11 movies" in w for w in got["05"]
    )
    assert any("median user has 1 train rating" in w for w in got["02"])
    assert any("only 150 test rows" in w for w in got["04"])
    assert any("only 50 test users are known" in w for w in got["06"])
    assert any("100 of 150 test users are new" in w for w in got["06"])
    assert not any("median user" in w for w in got["06"])


def test_banner_names_every_warning():
    assert "every check" in adequacy_banner({"ok": True, "warnings": []})
    banner = adequacy_banner({"ok": False, "warnings": ["a", "b"]})
    assert banner.startswith("**Not meaningful on this data**") and "\n- a\n- b" in banner
