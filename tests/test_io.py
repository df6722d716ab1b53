"""Tests of cfutils.data.io: every format and quirk on hand-made fixtures, every fault with its
file, line number and line text, a slow line-by-line reference reader that the fast reader
must agree with (hypothesis), and the parquet cache."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfutils.data import io
from cfutils.data.io import DataFormatError, read_ratings, read_titles
from cfutils.data.io import cache as io_cache
from cfutils.data.io import ratings as io_ratings
from cfutils.data.io import titles as io_titles
from cfutils.data.synth import MAX_CUSTOMER_ID, NETFLIX

FIXTURES = Path(__file__).parent / "fixtures" / "io"
BAD = FIXTURES / "bad"


def frame(rows, date_unit="D") -> pd.DataFrame:
    """Contract frame from (user, movie, rating, date-or-unix-seconds) tuples."""
    users, movies, ratings, dates = zip(*rows) if rows else ([], [], [], [])
    if date_unit == "D":
        date = np.array(dates, dtype="datetime64[D]").astype("datetime64[s]")
    else:
        date = np.array(dates, dtype=np.int64).view("datetime64[s]")
    return pd.DataFrame(
        {
            "user_id": np.array(users, np.int32),
            "movie_id": np.array(movies, np.int32),
            "rating": np.array(ratings, np.float32),
            "date": date,
        }
    )


def read(path, piece_bytes: int | None = None) -> pd.DataFrame:
    """read_ratings without cache; ``piece_bytes`` shrinks the pieces parsed at once."""
    with pytest.MonkeyPatch.context() as patch:
        if piece_bytes is not None:
            patch.setattr(io_ratings, "PIECE_BYTES", piece_bytes)
        return read_ratings(path, cache=False, progress=False)


# --- slow, obviously right reference readers -------------------------------------------


def reference_netflix(paths: list[Path]) -> pd.DataFrame:
    """Line by line, like the tutorial; keeps the latest rating of each (user, movie)."""
    rows = []
    for path in paths:
        text = (gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()).decode()
        movie = None
        for number, line in enumerate(text.rstrip("\r\n").splitlines(), start=1):
            if line.endswith(":"):
                movie = int(line[:-1])
            else:
                if movie is None:
                    raise DataFormatError(path, "row before header", number, line)
                user, rating, day = line.split(",")
                if not 1 <= int(rating) <= 5:
                    raise DataFormatError(path, "rating", number, line)
                rows.append((int(user), movie, float(rating), dt.date.fromisoformat(day)))
    return keep_latest(frame(rows))


def reference_movielens(path: Path, separator: str, header: bool) -> pd.DataFrame:
    lines = path.read_text().rstrip("\r\n").splitlines()[int(header) :]
    rows = [(int(u), int(m), float(r), int(t)) for u, m, r, t in (line.split(separator) for line in lines)]
    return keep_latest(frame(rows, date_unit="s"))


def keep_latest(ratings: pd.DataFrame) -> pd.DataFrame:
    """Reference duplicate rule with pandas: the latest date wins, then the later row."""
    order = ratings.reset_index().sort_values(["date", "index"], kind="stable")
    kept = order.drop_duplicates(["user_id", "movie_id"], keep="last").sort_values("index")
    return kept.drop(columns="index").reset_index(drop=True)


def assert_ratings_equal(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.columns) == ["user_id", "movie_id", "rating", "date"]
    assert actual.dtypes.to_dict() == expected.dtypes.to_dict() == io.RATINGS_DTYPES
    pd.testing.assert_frame_equal(actual.reset_index(drop=True), expected.reset_index(drop=True))


# --- every format, on fixtures -----------------------------------------------------------

KAGGLE_ROWS = [
    (1488844, 1, 3, "2005-09-06"),
    (822109, 1, 5, "2005-05-13"),
    (2059652, 2, 4, "2005-09-05"),
    (1488844, 2, 1, "2004-01-01"),
]


@pytest.mark.parametrize(
    "path, expected",
    [
        # CRLF, no final newline
        ("kaggle/combined_data_1.txt", frame(KAGGLE_ROWS)),
        ("kaggle/combined_data_2.txt.gz", frame([(30878, 3, 4, "2005-12-26")])),
        # folder: combined_data_1.txt then combined_data_2.txt.gz, by name
        ("kaggle", frame(KAGGLE_ROWS + [(30878, 3, 4, "2005-12-26")])),
        ("netflix_original/training_set/mv_0000002.txt", frame(KAGGLE_ROWS[2:])),
        ("netflix_original/training_set", frame(KAGGLE_ROWS)),
        ("netflix_original", frame(KAGGLE_ROWS)),
        (
            "ml-100k/u.data",
            frame([(196, 242, 3, 881250949), (186, 302, 3, 891717742), (22, 377, 1, 878887116)], "s"),
        ),
        ("ml-100k", frame([(196, 242, 3, 881250949), (186, 302, 3, 891717742), (22, 377, 1, 878887116)], "s")),
        (
            "ml-latest-small/ratings.csv",  # CRLF, half stars
            frame([(1, 1, 4.0, 964982703), (1, 3, 4.5, 964981247), (2, 6, 0.5, 964982224)], "s"),
        ),
        (
            "ml-1m/ratings.dat",  # no final newline
            frame([(1, 1193, 5, 978300760), (1, 661, 3, 978302109), (2, 1357, 5, 978298709)], "s"),
        ),
    ],
)
def test_reads_every_format(path, expected):
    actual = read(FIXTURES / path)
    assert_ratings_equal(actual, expected)
    assert actual.attrs["read_report"]["duplicates_dropped"] == 0
    assert actual.attrs["read_report"]["rows_read"] == len(expected)


def test_report_lists_the_files_read_in_order():
    report = read(FIXTURES / "kaggle").attrs["read_report"]
    assert [Path(f).name for f in report["files"]] == ["combined_data_1.txt", "combined_data_2.txt.gz"]


def test_gzip_variant_of_every_movielens_format(tmp_path):
    for name in ["ml-100k/u.data", "ml-latest-small/ratings.csv", "ml-1m/ratings.dat"]:
        plain = FIXTURES / name
        packed = tmp_path / (plain.name + ".gz")
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        assert_ratings_equal(read(packed), read(plain))


def test_unknown_name_is_recognised_by_its_first_line(tmp_path):
    renamed = tmp_path / "my_ratings.txt"
    shutil.copy(FIXTURES / "kaggle" / "combined_data_1.txt", renamed)
    assert_ratings_equal(read(renamed), frame(KAGGLE_ROWS))


def test_duplicates_keep_the_latest_date_then_the_later_row(caplog):
    with caplog.at_level(logging.WARNING, logger="cfutils.data.io"):
        actual = read(FIXTURES / "duplicates")
    # movie 7: user 100 rated on 01-01, 03-01 (latest, kept), 02-01; movie 8: a tie, the later row wins
    expected = frame([(101, 7, 4, "2005-01-01"), (100, 7, 5, "2005-03-01"), (100, 8, 2, "2004-01-01")])
    assert_ratings_equal(actual, expected)
    assert actual.attrs["read_report"]["rows_read"] == 6
    assert actual.attrs["read_report"]["duplicates_dropped"] == 3
    assert "dropped 3 duplicate" in caplog.text


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, line_number, line, reason",
    [
        ("combined_data_row_before_header.txt", 1, "1488844,3,2005-09-06", "before any 'MovieID:' header"),
        ("combined_data_non_integer_id.txt", 3, "14x8844,3,2005-09-06", "CustomerID is not"),
        ("combined_data_non_integer_movie_id.txt", 3, "abc:", "MovieID header"),
        ("combined_data_rating_out_of_range.txt", 3, "1488845,6,2005-09-06", "rating"),
        ("combined_data_bad_date.txt", 4, "1488845,4,2005-13-06", "date"),
        ("combined_data_wrong_fields.txt", 3, "1488845,4", "expected 3 fields"),
        ("combined_data_empty.txt", 1, "", "empty file"),
        ("unrecognised.txt", 1, "user;movie;rating", "unrecognised"),
        ("ml_rating_out_of_range.csv", 3, "1,3,5.5,964981247", "0.5 to 5"),
        ("ml_not_half_star.csv", 3, "1,3,4.25,964981247", "half stars"),
        ("ml_non_integer_id.dat", 2, "1::x661::3::978302109", "id"),
        ("ml_wrong_fields.data", 2, "186\t302\t3", "expected 4 fields"),
    ],
)
def test_bad_input_names_file_line_and_text(name, line_number, line, reason):
    with pytest.raises(DataFormatError) as caught:
        read(BAD / name)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.path, error.line_number, error.line) == (str(BAD / name), line_number, line)
    message = str(error)
    assert str(BAD / name) in message and f"line {line_number}" in message and repr(line) in message
    assert reason in message


def test_each_file_of_a_folder_must_open_with_a_header(tmp_path):
    (tmp_path / "mv_0000001.txt").write_text("1:\n10,3,2005-01-02\n")
    (tmp_path / "mv_0000002.txt").write_text("11,4,2005-01-03\n")
    with pytest.raises(DataFormatError, match=r"mv_0000002.txt, line 1: a rating row before"):
        read(tmp_path)


def test_missing_path_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read(tmp_path / "nowhere.txt")
    with pytest.raises(FileNotFoundError):
        read_titles(tmp_path / "movie_titles.csv")


def test_folder_without_ratings_is_a_format_error(tmp_path):
    with pytest.raises(DataFormatError, match="no ratings files found"):
        read(tmp_path)


def test_blank_line_inside_data_is_an_error_but_trailing_blank_lines_are_not(tmp_path):
    path = tmp_path / "combined_data_1.txt"
    path.write_text("1:\n10,3,2005-01-02\n\n\n")
    assert len(read(path)) == 1
    path.write_text("1:\n10,3,2005-01-02\n\n11,3,2005-01-02\n")
    with pytest.raises(DataFormatError, match="line 3: expected 3 fields"):
        read(path)


# --- pieces: blocks, files and errors across piece boundaries -----------------------------


@pytest.fixture
def tiny_pieces(monkeypatch):
    """Pieces of 64 bytes: movie blocks and files straddle many piece boundaries."""
    monkeypatch.setattr(io_ratings, "PIECE_BYTES", 64)


def test_small_pieces_give_the_same_frame(tiny_pieces):
    for path in ["kaggle", "netflix_original", "ml-latest-small/ratings.csv", "duplicates"]:
        monkeypatched = read(FIXTURES / path)
        files = [Path(f) for f in monkeypatched.attrs["read_report"]["files"]]
        if path == "ml-latest-small/ratings.csv":
            expected = reference_movielens(files[0], ",", header=True)
        else:
            expected = reference_netflix(files)
        assert_ratings_equal(monkeypatched, expected)


def test_error_line_number_counts_lines_of_earlier_pieces(tiny_pieces, tmp_path):
    lines = ["1:"] + [f"{user},3,2005-01-02" for user in range(40)] + ["2:", "7,9,2005-01-02", "8,3,2005-01-02"]
    path = tmp_path / "combined_data_1.txt"
    path.write_text("\r\n".join(lines))
    with pytest.raises(DataFormatError) as caught:
        read(path)
    assert (caught.value.line_number, caught.value.line) == (43, "7,9,2005-01-02")


# --- property tests: random data in every layout read back equal ---------------------------

ratings_rows = st.lists(
    st.tuples(
        st.integers(1, MAX_CUSTOMER_ID),
        st.integers(1, NETFLIX.n_movies),
        st.integers(1, 5),
        st.dates(dt.date(1999, 11, 11), dt.date(2005, 12, 31)),
    ),
    max_size=60,
)
line_end = st.sampled_from(["\n", "\r\n"])


def netflix_text(rows, newline: str, final_newline: bool) -> str:
    """Kaggle text, one block per movie in order of first appearance."""
    lines = []
    for movie in dict.fromkeys(movie for _, movie, _, _ in rows):
        lines.append(f"{movie}:")
        lines += [f"{u},{r},{d.isoformat()}" for u, m, r, d in rows if m == movie]
    return newline.join(lines) + (newline if final_newline else "")


def expected_netflix(rows) -> pd.DataFrame:
    by_movie = sorted(range(len(rows)), key=lambda i: list(dict.fromkeys(m for _, m, _, _ in rows)).index(rows[i][1]))
    return keep_latest(frame([(rows[i][0], rows[i][1], rows[i][2], rows[i][3]) for i in by_movie]))


@settings(max_examples=40, deadline=None)
@given(
    rows=ratings_rows,
    n_files=st.integers(1, 3),
    newline=line_end,
    final=st.booleans(),
    gz=st.booleans(),
    piece=st.sampled_from([32, 256, io.PIECE_BYTES]),
)
def test_kaggle_layout_round_trip(tmp_path_factory, rows, n_files, newline, final, gz, piece):
    folder = tmp_path_factory.mktemp("kaggle")
    movies = list(dict.fromkeys(m for _, m, _, _ in rows))
    for k in range(n_files):
        part = [row for row in rows if movies.index(row[1]) % n_files == k]
        text = netflix_text(part, newline, final).encode()
        if not part:
            continue
        path = folder / f"combined_data_{k + 1}.txt"
        if gz:
            Path(f"{path}.gz").write_bytes(gzip.compress(text))
        else:
            path.write_bytes(text)
    if not rows:
        with pytest.raises(DataFormatError):
            read(folder, piece)
        return
    ordered = [row for k in range(n_files) for row in rows if movies.index(row[1]) % n_files == k]
    actual = read(folder, piece)
    assert_ratings_equal(actual, expected_netflix(ordered))
    assert actual.attrs["read_report"]["rows_read"] == len(rows)


@settings(max_examples=30, deadline=None)
@given(rows=ratings_rows.filter(bool), newline=line_end, final=st.booleans(), piece=st.sampled_from([32, 4096]))
def test_training_set_layout_round_trip(tmp_path_factory, rows, newline, final, piece):
    training_set = tmp_path_factory.mktemp("netflix") / "training_set"
    training_set.mkdir()
    for movie in dict.fromkeys(m for _, m, _, _ in rows):
        text = netflix_text([row for row in rows if row[1] == movie], newline, final)
        (training_set / f"mv_{movie:07d}.txt").write_text(text, newline="")
    by_file = sorted(rows, key=lambda row: row[1])  # files are read in id order; rows keep their order
    assert_ratings_equal(read(training_set.parent, piece), keep_latest(frame(by_file)))


def unix_seconds(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


#: Every second a rating may be dated at (io.FIRST_DATE to io.LAST_DATE, inclusive).
VALID_SECONDS = st.integers(unix_seconds(io.FIRST_DATE), unix_seconds(io.LAST_DATE) + 86_399)

movielens_rows = st.lists(
    st.tuples(
        st.integers(0, 2**31 - 1),
        st.integers(0, 2**31 - 1),
        st.sampled_from([x / 2 for x in range(1, 11)]),
        VALID_SECONDS,
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(
    rows=movielens_rows,
    layout=st.sampled_from(["u.data", "ratings.csv", "ratings.dat"]),
    newline=line_end,
    final=st.booleans(),
    piece=st.sampled_from([32, io.PIECE_BYTES]),
)
def test_movielens_round_trip(tmp_path_factory, rows, layout, newline, final, piece):
    separator = {"u.data": "\t", "ratings.csv": ",", "ratings.dat": "::"}[layout]
    if layout == "u.data":  # whole stars only in u.data
        rows = [(user, movie, float(math.ceil(rating)), second) for user, movie, rating, second in rows]
    lines = [separator.join(map(str, row)) for row in rows]
    if layout == "ratings.csv":
        lines.insert(0, "userId,movieId,rating,timestamp")
    path = tmp_path_factory.mktemp("ml") / layout
    path.write_text(newline.join(lines) + (newline if final else ""), newline="")
    assert_ratings_equal(read(path, piece), keep_latest(frame(rows, date_unit="s")))


netflix_line_faults = st.sampled_from(
    [
        "",
        "x",
        "1,2",
        "1,2,3,4",
        "-1,3,2005-01-01",
        "1,0,2005-01-01",
        "1,3.0,2005-01-01",
        "1,3,2005-02-30",
        "1,3,05-01-01",
        "1,3,2005-1-1",
        "99999999999,3,2005-01-01",
        "1:2",
        "a:",
        "1,3,2005-01-01:",
        " ,3,2005-01-01",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    rows=ratings_rows.filter(bool),
    fault=netflix_line_faults,
    where=st.integers(0, 200),
    piece=st.sampled_from([48, io.PIECE_BYTES]),
)
def test_any_bad_line_is_found_with_its_number(tmp_path_factory, rows, fault, where, piece):
    """A bad line anywhere: the error names it, exactly where the reference reader stops."""
    lines = netflix_text(rows, "\n", True).splitlines()
    position = 1 + where % (len(lines) - 1)  # after the first header, before the last line
    lines.insert(position, fault)
    path = tmp_path_factory.mktemp("bad") / "combined_data_1.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as caught:
        read(path, piece)
    assert (caught.value.line_number, caught.value.line) == (position + 1, fault)


# --- titles ---------------------------------------------------------------------------------


def titles(rows) -> pd.DataFrame:
    ids, years, names = zip(*rows)
    return pd.DataFrame(
        {"year": pd.array(years, dtype="Int16"), "title": pd.array(names, dtype=str)},
        index=pd.Index(np.array(ids, np.int32), name="movie_id"),
    )


@pytest.mark.parametrize(
    "path, expected",
    [
        (
            "kaggle/movie_titles.csv",  # latin-1, CRLF, NULL year, commas in titles
            titles(
                [
                    (1, 2003, "Dinosaur Planet"),
                    (2, 2004, "Isle of Man TT 2004 Review"),
                    (3, None, "Character"),
                    (4, 1994, "Paula Abdul's Get Up & Dance"),
                    (5, 2004, "The Rise and Fall of ECW, Part 1, Extended"),
                    (6, 1997, "Sické"),
                ]
            ),
        ),
        (
            "netflix_original/movie_titles.txt",
            titles([(1, 2003, "Dinosaur Planet"), (2, None, "Isle of Man, TT 2004 Review")]),
        ),
        (
            "ml-100k/u.item",  # no release date: no year
            titles([(1, 1995, "Toy Story"), (267, None, "unknown"), (1300, 1998, "Jeanne et le garçon formidable")]),
        ),
        (
            "ml-latest-small/movies.csv",
            titles(
                [
                    (1, 1995, "Toy Story"),
                    (11, 1995, "American President, The"),
                    (30, 1995, "Shanghai Triad (Yao a yao yao dao waipo qiao)"),
                    (40, None, "Cry, the Beloved Country"),
                ]
            ),
        ),
        (
            "ml-1m/movies.dat",  # latin-1
            titles(
                [
                    (1, 1995, "Toy Story"),
                    (1193, 1975, "One Flew Over the Cuckoo's Nest"),
                    (1357, 1996, "Shine"),
                    (3575, 2002, "Défense d'aimer"),
                ]
            ),
        ),
    ],
)
def test_reads_every_titles_format(path, expected):
    pd.testing.assert_frame_equal(read_titles(FIXTURES / path), expected)


def test_titles_gzip_variant(tmp_path):
    packed = tmp_path / "movie_titles.csv.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "kaggle" / "movie_titles.csv").read_bytes()))
    pd.testing.assert_frame_equal(read_titles(packed), read_titles(FIXTURES / "kaggle" / "movie_titles.csv"))


@pytest.mark.parametrize(
    "name, text, line_number, line",
    [
        ("movie_titles.csv", b"1,2003,Dinosaur Planet\nx,2004,Isle of Man\n", 2, "x,2004,Isle of Man"),
        ("movie_titles.csv", b"1,2003,Dinosaur Planet\n2,20x4,Isle of Man\n", 2, "2,20x4,Isle of Man"),
        ("movie_titles.csv", b"1,2003,Dinosaur Planet\n2\n", 2, "2"),
        ("movie_titles.csv", b"1,2003,A\r\n1,2004,B\r\n", 2, "1,2004,B"),
        ("movies.csv", b"movieId,title,genres\n1,Toy Story (1995),Animation\n2,Jumanji\n", 3, "2,Jumanji"),
        ("movies.csv", b"id,name\n", 1, "id,name"),
        ("movies.dat", b"1::Toy Story (1995)::Animation\n2::Jumanji (1995)\n", 2, "2::Jumanji (1995)"),
        (
            "u.item",
            b"1|Toy Story (1995)|01-Jan-1995||x|0\n2|GoldenEye (1995)|01-Jan-95||x|0\n",
            2,
            "2|GoldenEye (1995)|01-Jan-95||x|0",
        ),
        ("movies.dat", b"", 1, ""),
    ],
)
def test_bad_titles_name_file_line_and_text(tmp_path, name, text, line_number, line):
    path = tmp_path / name
    path.write_bytes(text)
    with pytest.raises(DataFormatError) as caught:
        read_titles(path)
    assert (caught.value.path, caught.value.line_number, caught.value.line) == (str(path), line_number, line)
    assert str(path) in str(caught.value) and f"line {line_number}" in str(caught.value)


def test_unrecognised_titles_file(tmp_path):
    path = tmp_path / "titles.json"
    path.write_text("{}")
    with pytest.raises(DataFormatError, match="unrecognised titles file"):
        read_titles(path)


def test_empty_titles_has_the_contract_dtypes():
    empty = io.empty_titles()
    assert len(empty) == 0 and empty.index.name == "movie_id" and empty.index.dtype == np.int32
    assert empty.dtypes.to_dict() == read_titles(FIXTURES / "kaggle" / "movie_titles.csv").dtypes.to_dict()


# --- parquet cache --------------------------------------------------------------------------


@pytest.fixture
def source(tmp_path) -> Path:
    folder = tmp_path / "netflix"
    shutil.copytree(FIXTURES / "duplicates", folder)
    return folder / "combined_data_1.txt"


def cached(path, cache_dir) -> pd.DataFrame:
    return read_ratings(path, cache=True, cache_dir=cache_dir, progress=False)


def forbid_parsing(monkeypatch):
    def fail(*args):
        raise AssertionError("parsed although the cache is valid")

    monkeypatch.setattr(io_ratings, "_parse_ratings", fail)


def test_cache_hit_returns_the_same_frame_dtypes_and_report(source, tmp_path, monkeypatch):
    first = cached(source, tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("ratings-*.parquet"))) == 1
    forbid_parsing(monkeypatch)
    again = cached(source, tmp_path / "cache")
    assert_ratings_equal(again, first)
    assert again.attrs["read_report"] == first.attrs["read_report"]
    assert again.attrs["read_report"]["duplicates_dropped"] == 3


def test_cache_write_and_read_hand_arrows_freed_pages_back(source, tmp_path, monkeypatch):
    # Arrow's pool keeps freed pages: about 3 GB at full size after a read, unless released.
    pool, released = io_cache.pa.default_memory_pool(), []

    class Recording:
        def release_unused(self):
            released.append(True)
            pool.release_unused()

    monkeypatch.setattr(io_cache.pa, "default_memory_pool", Recording)
    cached(source, tmp_path / "cache")
    assert released == [True]  # after writing the cache
    forbid_parsing(monkeypatch)
    cached(source, tmp_path / "cache")
    assert released == [True, True]  # after reading it back


def test_a_frame_read_from_the_cache_holds_no_arrow_memory(tmp_path, monkeypatch):
    # Arrow-backed columns would go back to Arrow's pool when the frame is freed, and stay there.
    source = tmp_path / "combined_data_1.txt"
    source.write_text(
        "".join(f"{m}:\n" + "".join(f"{u},{1 + u % 5},2005-01-0{1 + m}\n" for u in range(1, 4001)) for m in range(1, 6))
    )
    cached(source, tmp_path / "cache")
    forbid_parsing(monkeypatch)
    before = io_cache.pa.total_allocated_bytes()
    frame = cached(source, tmp_path / "cache")
    assert len(frame) == 20_000
    assert io_cache.pa.total_allocated_bytes() - before < 0.1 * frame.memory_usage(index=False).sum()


@pytest.mark.parametrize("change", ["mtime", "size"])
def test_cache_is_invalidated_when_the_source_changes(source, tmp_path, change):
    before = cached(source, tmp_path / "cache")
    if change == "mtime":
        stat = source.stat()
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    else:
        with source.open("a") as stream:
            stream.write("9:\n5,1,2005-01-01\n")
    after = cached(source, tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("ratings-*.parquet"))) == 2
    assert len(after) == len(before) + (change == "size")


def test_cache_false_neither_reads_nor_writes(source, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    cached(source, cache_dir)
    stale = next(cache_dir.glob("*.parquet"))
    pd.DataFrame({"x": [1]}).to_parquet(stale)  # a cache that must not be used
    fresh = read_ratings(source, cache=False, cache_dir=cache_dir, progress=False)
    assert_ratings_equal(fresh, reference_netflix([source]))
    assert list(cache_dir.iterdir()) == [stale]


def test_default_cache_dir_is_data_processed_in_the_repo(monkeypatch):
    monkeypatch.delenv(io.CACHE_DIR_ENV, raising=False)
    assert io.default_cache_dir() == Path(__file__).resolve().parents[1] / "data" / "processed"


def test_cache_dir_defaults_to_the_environment_variable(source, tmp_path, monkeypatch):
    monkeypatch.setenv(io.CACHE_DIR_ENV, str(tmp_path / "from_env"))
    read_ratings(source, cache=True, progress=False)
    assert len(list((tmp_path / "from_env").glob("ratings-*.parquet"))) == 1


def test_every_titles_file_name_has_a_reader_and_no_reader_is_unlisted():
    assert set(io_titles._READERS) == set(io.TITLES_FILE_NAMES)
    assert len(io.TITLES_FILE_NAMES) == len(set(io.TITLES_FILE_NAMES))
