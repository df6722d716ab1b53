"""cfutils.data.io.prize: the Prize files' readers against a line-by-line reference, bad lines, the
submission round trip, the hold-out against a per-user reference, and the probe split."""

from __future__ import annotations

import datetime as dt
import gzip
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ratings_factory import ratings_frame, ratings_frames

from cfutils.data import synth
from cfutils.data.dataset import load_dataset
from cfutils.data.io import DataFormatError, prize, read_probe, read_qualifying, read_ratings
from cfutils.data.io.prize import (
    PRIZE_REFERENCES,
    find_pairs,
    pairs_within,
    prize_holdout,
    prize_scores,
    prize_story,
    read_qualifying_predictions,
    write_probe,
    write_qualifying,
    write_qualifying_predictions,
)
from cfutils.data.split import make_split, probe_split
from cfutils.data.synth import writer as synth_writer

FIXTURES = Path(__file__).parent / "fixtures" / "prize"


def reference_read(path: Path) -> pd.DataFrame:
    """Slow, obviously right: one line at a time, ``MovieID:`` opens a block."""
    rows, movie = [], None
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="ascii") as lines:
        for line in lines:
            line = line.strip()
            if line.endswith(":"):
                movie = int(line[:-1])
                continue
            fields = line.split(",")
            row = {"user_id": int(fields[0]), "movie_id": movie}
            if len(fields) == 2:
                row["date"] = np.datetime64(dt.date.fromisoformat(fields[1]), "s")
            rows.append(row)
    frame = pd.DataFrame(rows).astype({"user_id": np.int32, "movie_id": np.int32})
    return frame.astype({"date": "datetime64[s]"}) if "date" in frame else frame


@pytest.mark.parametrize("name", ["probe.txt", "probe.txt.gz"])
def test_read_probe_matches_reference(name):
    probe = read_probe(FIXTURES / name)
    pd.testing.assert_frame_equal(probe, reference_read(FIXTURES / name))
    assert probe["movie_id"].tolist() == [1, 1, 10, 10, 12]
    assert probe.attrs["source"] == str(FIXTURES / name)


@pytest.mark.parametrize("name", ["qualifying.txt", "qualifying.txt.gz"])
def test_read_qualifying_matches_reference(name):
    qualifying = read_qualifying(FIXTURES / name)
    pd.testing.assert_frame_equal(qualifying, reference_read(FIXTURES / name))
    assert qualifying["date"].dtype == np.dtype("datetime64[s]")
    assert qualifying["movie_id"].tolist() == [1, 1, 10, 2]  # file order, not sorted


def test_many_small_pieces_give_the_same_frame(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    pairs = pd.DataFrame(
        {
            "user_id": rng.choice(10**6, 3000, replace=False).astype(np.int32),
            "movie_id": np.sort(rng.integers(1, 60, 3000)).astype(np.int32),
            "date": (np.datetime64("2004-01-01") + rng.integers(0, 700, 3000)).astype("datetime64[s]"),
        }
    )
    write_qualifying(pairs, tmp_path / "qualifying.txt")
    write_probe(pairs, tmp_path / "probe.txt")
    monkeypatch.setattr(prize, "PIECE_BYTES", 100)  # a block of one movie spans many pieces
    pd.testing.assert_frame_equal(read_qualifying(tmp_path / "qualifying.txt"), pairs)
    pd.testing.assert_frame_equal(read_probe(tmp_path / "probe.txt"), pairs[["user_id", "movie_id"]])
    pd.testing.assert_frame_equal(
        read_qualifying(tmp_path / "qualifying.txt"), reference_read(tmp_path / "qualifying.txt")
    )


@pytest.mark.parametrize(
    "reader, text, line_number, line, reason",
    [
        (read_probe, "17\n1:\n5\n", 1, "17", "before any 'MovieID:' header"),
        (read_probe, "1:\n5\nx7\n", 3, "x7", "CustomerID"),
        (read_probe, "1:\n5\n-7\n", 3, "-7", "CustomerID"),
        (read_probe, "1:\n5\n\n6\n", 3, "", "CustomerID"),
        (read_probe, "1:\n5\n2a:\n6\n", 3, "2a:", "MovieID header"),
        (read_probe, "1:\n5,2005-01-01\n", 2, "5,2005-01-01", "CustomerID"),
        (read_probe, "1:\n5\n6\n2:\n5\n1:\n6\n", 7, "6", "listed twice"),
        (read_qualifying, "1:\n5,2005-01-01\n6\n", 3, "6", "expected 2 fields"),
        (read_qualifying, "1:\n5,2005-01-01\n6,2005-02-30\n", 3, "6,2005-02-30", "date"),
        (read_qualifying, "1:\n5,2005-01-01,3\n", 2, "5,2005-01-01,3", "expected 2 fields"),
        (read_qualifying, "1:\n5,2005-01-01\n5,2005-01-02\n", 3, "5,2005-01-02", "listed twice"),
    ],
)
def test_bad_line_names_file_line_and_text(tmp_path, reader, text, line_number, line, reason):
    path = tmp_path / "prize_file.txt"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=reason) as error:
        reader(path)
    assert (error.value.path, error.value.line_number, error.value.line) == (str(path), line_number, line)


def test_crlf_line_endings_read_the_same(tmp_path):
    for name in ("probe.txt", "qualifying.txt"):
        (tmp_path / name).write_bytes((FIXTURES / name).read_bytes().replace(b"\n", b"\r\n"))
    pd.testing.assert_frame_equal(
        read_probe(tmp_path / "probe.txt"), read_probe(FIXTURES / "probe.txt"), check_flags=False
    )
    assert read_qualifying(tmp_path / "qualifying.txt")[["user_id", "date"]].equals(
        read_qualifying(FIXTURES / "qualifying.txt")[["user_id", "date"]]
    )


def test_empty_file_is_an_error(tmp_path):
    (tmp_path / "probe.txt").write_text("")
    with pytest.raises(DataFormatError, match="empty file"):
        read_probe(tmp_path / "probe.txt")


# --------------------------------------------------------------------------- submissions


def test_submission_round_trip_and_exact_format(tmp_path):
    qualifying = read_qualifying(FIXTURES / "qualifying.txt")
    predictions = np.array([3.14159, 1.0, 4.99951, 2.5])
    path = tmp_path / "submission.txt"
    write_qualifying_predictions(qualifying, predictions, path)
    assert path.read_text() == "1:\n3.142\n1.000\n10:\n5.000\n2:\n2.500\n"
    read_back = read_qualifying_predictions(path, qualifying)
    assert read_back.index.equals(qualifying.index)
    np.testing.assert_allclose(read_back.to_numpy(), predictions, atol=5e-4)
    write_qualifying_predictions(qualifying, predictions, tmp_path / "two.txt", decimals=1)
    assert (tmp_path / "two.txt").read_text().splitlines()[1:3] == ["3.1", "1.0"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1, 5), min_size=4, max_size=4), st.integers(0, 6))
def test_submission_round_trip_keeps_every_value_to_its_decimals(tmp_path_factory, values, decimals):
    qualifying = read_qualifying(FIXTURES / "qualifying.txt")
    path = tmp_path_factory.mktemp("submission") / "submission.txt.gz"
    write_qualifying_predictions(qualifying, values, path, decimals=decimals)
    read_back = read_qualifying_predictions(path, qualifying).to_numpy()
    np.testing.assert_allclose(read_back, values, atol=0.5 * 10.0**-decimals + 1e-12)


@pytest.mark.parametrize(
    "values, message",
    [
        ([3.0, 3.0, 3.0], "3 predictions for 4"),
        ([3.0, 3.0, np.nan, 3.0], "finite"),
        ([3.0, np.inf, 3.0, 3.0], "finite"),
    ],
)
def test_submission_writer_rejects_bad_predictions(tmp_path, values, message):
    qualifying = read_qualifying(FIXTURES / "qualifying.txt")
    with pytest.raises(ValueError, match=message):
        write_qualifying_predictions(qualifying, np.array(values), tmp_path / "s.txt")
    assert not (tmp_path / "s.txt").exists()


def test_submission_writer_clips_into_the_stars_range(tmp_path):
    qualifying = read_qualifying(FIXTURES / "qualifying.txt")
    write_qualifying_predictions(qualifying, np.array([0.4, 5.7, 3.0, -2.0]), tmp_path / "s.txt", decimals=1)
    assert (tmp_path / "s.txt").read_text() == "1:\n1.0\n5.0\n10:\n3.0\n2:\n1.0\n"


@pytest.mark.parametrize(
    "text, problem",
    [
        ("1:\n3\n3\n10:\n3\n3\n", "differ from the 4 qualifying rows"),
        ("1:\n3\n3\n10:\n3\n", "differ"),
        ("1:\n3\n3\n10:\n3\n20:\n3\n", "differ"),
        ("1:\n3\n3\n10:\n6\n2:\n3\n", "from 1 to 5"),
    ],
)
def test_submission_reader_checks_blocks_and_values(tmp_path, text, problem):
    (tmp_path / "s.txt").write_text(text)
    with pytest.raises(DataFormatError, match=problem):
        read_qualifying_predictions(tmp_path / "s.txt", read_qualifying(FIXTURES / "qualifying.txt"))


# --------------------------------------------------------------------------- the hold-out


def reference_holdout(ratings: pd.DataFrame, per_user: int) -> set:
    """Each user's ``min(per_user, n // 2)`` latest (date, movie) ratings, user by user."""
    held = set()
    for user, group in ratings.groupby("user_id"):
        rows = sorted(zip(group["date"], group["movie_id"]))
        keep = min(per_user, len(rows) // 2)
        held |= {(user, movie) for _, movie in rows[len(rows) - keep :]}
    return held


def _pairs(frame: pd.DataFrame) -> set:
    return set(zip(frame["user_id"], frame["movie_id"]))


@settings(max_examples=60, deadline=None)
@given(ratings_frames(), st.integers(1, 4))
def test_holdout_is_each_users_latest_up_to_half(ratings, per_user):
    holdout = prize_holdout(ratings, per_user=per_user, seed=1)
    assert not (holdout.is_probe & holdout.is_qualifying).any()
    held = ratings[holdout.is_probe | holdout.is_qualifying]
    assert _pairs(held) == reference_holdout(ratings, per_user)
    shuffled = ratings.sample(frac=1.0, random_state=2)
    again = prize_holdout(shuffled, per_user=per_user, seed=1)
    assert _pairs(shuffled[again.is_probe]) == _pairs(ratings[holdout.is_probe])  # row order does not matter


def test_holdout_probe_share_is_about_a_third():
    rng = np.random.default_rng(0)
    users, movies = np.divmod(rng.choice(2000 * 50, 60_000, replace=False), 50)
    ratings = ratings_frame(users, movies, rng.integers(1, 6, 60_000), rng.integers(0, 1000, 60_000))
    holdout = prize_holdout(ratings)
    held = holdout.is_probe.sum() + holdout.is_qualifying.sum()
    assert held == sum(min(9, n // 2) for n in np.bincount(users) if n)
    assert holdout.is_probe.sum() / held == pytest.approx(1 / 3, abs=0.02)


# --------------------------------------------------------------------------- the probe split


def test_probe_split_tests_exactly_the_probe_ratings(tmp_path):
    ratings = ratings_frame([1, 1, 2, 2, 3], [10, 20, 10, 30, 20], [1, 2, 3, 4, 5], days=[0, 1, 2, 3, 4])
    write_probe(pd.DataFrame({"user_id": [2, 1], "movie_id": [10, 20]}), tmp_path / "probe.txt")
    probe = read_probe(tmp_path / "probe.txt")
    train, test = make_split(ratings, "probe", probe=probe)
    assert _pairs(test) == {(2, 10), (1, 20)} and len(train) + len(test) == len(ratings)
    assert not _pairs(train) & _pairs(test)
    assert test.index.tolist() == [1, 2]  # input order kept


@settings(max_examples=40, deadline=None)
@given(ratings_frames(min_size=2), st.data())
def test_probe_split_matches_a_set_reference(ratings, data):
    chosen = data.draw(st.lists(st.integers(0, len(ratings) - 1), unique=True, max_size=len(ratings)))
    probe = ratings.iloc[chosen][["user_id", "movie_id"]].reset_index(drop=True)
    chunk_rows = data.draw(st.integers(1, 8))
    mask = find_pairs(ratings, probe, chunk_rows=chunk_rows)
    assert _pairs(ratings[mask]) == _pairs(probe) and mask.sum() == len(probe)


def test_missing_probe_pair_names_probe_file_and_line(tmp_path):
    ratings = ratings_frame([1, 1, 2], [10, 20, 10], [1, 2, 3])
    (tmp_path / "probe.txt").write_text("10:\n1\n2\n20:\n1\n30:\n2\n")
    with pytest.raises(DataFormatError, match=r"CustomerID 2, MovieID 30") as error:
        probe_split(ratings, read_probe(tmp_path / "probe.txt"))
    assert (error.value.path, error.value.line_number, error.value.line) == (str(tmp_path / "probe.txt"), 7, "2")
    with pytest.raises(DataFormatError, match="the pairs given"):
        probe_split(ratings, pd.DataFrame({"user_id": [3], "movie_id": [10]}))


def test_probe_split_without_probe_is_one_clear_error():
    ratings = ratings_frame([1, 2], [10, 10], [1, 2])
    with pytest.raises(ValueError, match="needs the Netflix Prize file probe.txt") as error:
        make_split(ratings, "probe")
    assert "\n" not in str(error.value)


def test_pairs_within_keeps_pairs_of_sampled_users_and_movies():
    ratings = ratings_frame([1, 2], [10, 20], [3, 3])
    probe = pd.DataFrame({"user_id": [1, 1, 3, 2], "movie_id": [20, 30, 10, 10]}, index=[5, 6, 7, 8])
    assert pairs_within(probe, ratings).index.tolist() == [5, 8]
    assert pairs_within(None, ratings) is None


# --------------------------------------------------------------------------- generated files and loading

TINY_PRIZE = {**asdict(synth.TINY), "prize_holdout": True}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The tiny preset written twice: with the Prize's hold-out, and whole."""
    held = synth.write_netflix(tmp_path_factory.mktemp("held"), **TINY_PRIZE)
    whole = synth.write_netflix(tmp_path_factory.mktemp("whole"), **asdict(synth.TINY))
    return held, whole


def test_generator_holds_out_the_prize_sets_from_the_same_ratings(generated):
    held_dir, whole_dir = generated
    whole = read_ratings(whole_dir, cache=False, progress=False)
    data = load_dataset(held_dir, cache=False)
    qualifying = data.qualifying.assign(rating=data.qualifying_answers.astype(np.float32))
    # Ratings files plus the qualifying answers give back every rating drawn, and nothing else.
    together = pd.concat([data.ratings, qualifying[list(whole.columns)]]).sort_values(["movie_id", "user_id"])
    pd.testing.assert_frame_equal(
        together.reset_index(drop=True), whole.sort_values(["movie_id", "user_id"]).reset_index(drop=True)
    )
    assert len(data.ratings) == synth.TINY.n_ratings - len(data.qualifying)
    # The held-out pairs are each user's latest, up to 9, at most half; the probe stays in the ratings.
    expected = reference_holdout(whole, 9)
    assert _pairs(data.probe) | _pairs(data.qualifying) == expected
    assert not _pairs(data.probe) & _pairs(data.qualifying)
    assert _pairs(data.probe) <= _pairs(data.ratings)
    assert len(data.probe) / len(expected) == pytest.approx(1 / 3, abs=0.05)
    assert set(data.qualifying["user_id"]) <= set(data.ratings["user_id"])


def test_generator_lists_the_prize_files_in_its_marker_and_refuses_foreign_ones(generated, tmp_path):
    held_dir, _ = generated
    marker = synth_writer._read_marker(held_dir)
    assert {"probe.txt", "qualifying.txt", "qualifying_answers.txt"} <= set(marker["files"])
    assert marker["prize_holdout"] is True
    (tmp_path / "probe.txt").write_text("1:\n5\n")
    with pytest.raises(FileExistsError, match="probe.txt"):
        synth.write_netflix(tmp_path, **TINY_PRIZE)
    with pytest.raises(ValueError, match="exclude each other"):
        synth.write_netflix(tmp_path / "x", **TINY_PRIZE, duplicate_fraction=0.1)


def test_prize_scores_list_models_then_references():
    probe = pd.Series({"svd": 0.8, "baseline": 0.9})
    scores = prize_scores(probe, pd.Series({"svd": 0.85, "baseline": 0.95}))
    assert scores.index.tolist() == ["svd", "baseline", *PRIZE_REFERENCES]
    assert scores.loc["svd"].tolist()[:2] == [0.8, 0.85] and np.isnan(scores.loc["svd", "test"])
    assert scores.loc["Cinematch (Netflix's system)", "probe"] == 0.9474
    assert prize_scores(probe, None)["quiz"].iloc[:2].isna().all()
    assert prize_scores(None, None).index.tolist() == list(PRIZE_REFERENCES)
    story = prize_story(scores, "probe", generated=True, submission="")
    assert "**svd**, 0.8000" in story and "for scale only" in story
    assert "not `probe`" in prize_story(prize_scores(None, None), "global_time", generated=False, submission="")


def test_load_dataset_without_prize_files_has_none():
    data = load_dataset("movielens-small", cache=False)
    assert data.probe is None and data.qualifying is None and data.qualifying_answers is None
