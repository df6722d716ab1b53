"""Fault injection: every way a new user's input, cache or output folder can go wrong gives either
the right result or a clear error, never a silently wrong one.

Each section reproduces one fault of the readers, the parquet cache or the pipeline as a user
would meet it (a flipped byte, a mixed folder, a full disk, an empty file, a broken gzip file, ...)
and asserts the behaviour that replaces it. No notebook kernel is started: a failed run is one
whose kernel does not exist.
"""

from __future__ import annotations

import errno
import gzip
import logging
import os
import random
import re
import shutil
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook

from cfutils.data import io
from cfutils.data.dataset import load_dataset
from cfutils.data.io import DataFormatError, read_ratings, read_titles
from cfutils.data.io import cache as io_cache
from cfutils.data.io import ratings as io_ratings
from cfutils.present import pipeline

FIXTURES = Path(__file__).parent / "fixtures" / "io"


def parse(path) -> pd.DataFrame:
    return read_ratings(path, cache=False, progress=False)


def cached(path, cache_dir) -> pd.DataFrame:
    return read_ratings(path, cache=True, cache_dir=cache_dir, progress=False)


def assert_same_frame(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(actual, expected)
    assert actual.attrs == expected.attrs


def cache_warnings(caplog) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name.startswith("cfutils.data.io") and r.levelno == logging.WARNING
    ]


def forbid_parsing(monkeypatch):
    def fail(*args):
        raise AssertionError("parsed although a valid cache exists")

    monkeypatch.setattr(io_ratings, "_parse_ratings", fail)


def write_netflix(folder: Path, n_movies: int = 6, n_users: int = 40) -> Path:
    """A Kaggle file of ``n_movies`` blocks of ``n_users`` ratings (varied ids, stars and dates)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for movie in range(1, n_movies + 1):
        lines.append(f"{movie}:")
        lines += [
            f"{1000 + 37 * u + movie},{1 + (u * movie) % 5},2005-{1 + u % 12:02d}-{1 + movie:02d}"
            for u in range(n_users)
        ]
    path = folder / "combined_data_1.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- 1. a corrupted parquet cache is never served -------------------------------------------


@pytest.fixture
def netflix_cache(tmp_path):
    """(source, cache folder, cache file, its good bytes, the fresh parse)."""
    source = write_netflix(tmp_path / "netflix")
    cache_dir = tmp_path / "cache"
    fresh = parse(source)
    cached(source, cache_dir)
    (cache_file,) = cache_dir.glob("ratings-*.parquet")
    return source, cache_dir, cache_file, cache_file.read_bytes(), fresh


@pytest.mark.parametrize("trial", range(12))
def test_cache_with_eight_flipped_bytes_is_deleted_and_parsed_again(netflix_cache, trial, caplog, monkeypatch):
    source, cache_dir, cache_file, good, fresh = netflix_cache
    data = bytearray(good)
    rng = random.Random(trial)
    for offset in rng.sample(range(4, len(data) - 8), 8):  # inside the file, not its magic bytes
        data[offset] ^= 1 << rng.randrange(8)
    cache_file.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="cfutils.data.io"):
        assert_same_frame(cached(source, cache_dir), fresh)
    assert len(cache_warnings(caplog)) == 1 and "unusable parquet cache" in caplog.text
    forbid_parsing(monkeypatch)
    assert_same_frame(cached(source, cache_dir), fresh)  # the cache was written anew


def test_truncated_cache_is_deleted_and_parsed_again_then_cached(netflix_cache, caplog, monkeypatch):
    source, cache_dir, cache_file, good, fresh = netflix_cache
    cache_file.write_bytes(good[: len(good) // 2])
    with caplog.at_level(logging.WARNING, logger="cfutils.data.io"):
        assert_same_frame(cached(source, cache_dir), fresh)
        forbid_parsing(monkeypatch)
        assert_same_frame(cached(source, cache_dir), fresh)  # no error on the run after
    assert len(cache_warnings(caplog)) == 1 and str(cache_file) in caplog.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), min_size=1, max_size=16),
    keep=st.one_of(st.none(), st.floats(0, 1, exclude_max=True)),
)
def test_random_byte_corruption_never_yields_another_frame(netflix_cache, changes, keep):
    """Overwrite bytes anywhere (and maybe truncate): the result is always the fresh parse."""
    source, cache_dir, cache_file, good, fresh = netflix_cache
    data = bytearray(good)
    for where, value in changes:
        data[int(where * len(data))] = value
    if keep is not None:
        data = data[: int(keep * len(data))]
    cache_file.write_bytes(bytes(data))
    assert_same_frame(cached(source, cache_dir), fresh)


# --- 2. a folder that mixes formats ---------------------------------------------------------


@pytest.mark.parametrize(
    ("sources", "found"),
    [
        (["kaggle/combined_data_1.txt", "ml-100k/u.data"], "MovieLens: u.data; Netflix: combined_data_*.txt"),
        (["kaggle/combined_data_1.txt", "ml-100k/u.item"], "MovieLens: u.item; Netflix: combined_data_*.txt"),
        (
            ["kaggle/combined_data_1.txt", "kaggle/combined_data_2.txt.gz", "netflix_original/training_set"],
            "Netflix: combined_data_*.txt (2 files), training_set/",
        ),
        (["ml-100k/u.data", "ml-latest-small/ratings.csv"], "MovieLens: ratings.csv, u.data"),
    ],
)
def test_folder_mixing_data_sets_is_an_error_naming_what_it_holds(tmp_path, sources, found):
    for source in sources:
        if (FIXTURES / source).is_dir():
            shutil.copytree(FIXTURES / source, tmp_path / Path(source).name)
        else:
            shutil.copy(FIXTURES / source, tmp_path)
    with pytest.raises(DataFormatError, match=re.escape(f"{tmp_path}: mixes data sets ({found});")):
        load_dataset(tmp_path, cache=False)


def test_titles_of_the_other_family_are_never_attached(tmp_path):
    """Pointing at one ratings file in a mixed folder: its own family's titles only."""
    source = write_netflix(tmp_path)
    shutil.copy(FIXTURES / "ml-100k" / "u.item", tmp_path)
    assert load_dataset(source, cache=False).titles.empty
    shutil.copy(FIXTURES / "kaggle" / "movie_titles.csv", tmp_path)
    assert len(load_dataset(source, cache=False).titles) == 6


def test_prize_files_beside_netflix_ratings_are_part_of_the_data_set(tmp_path):
    source = write_netflix(tmp_path)
    shutil.copy(FIXTURES / "kaggle" / "movie_titles.csv", tmp_path)
    for name, text in [
        ("probe.txt", "1:\n30878\n"),
        ("qualifying_answers.txt", "1:\n3.5\n"),
        ("README", "1:\n30878\n"),
        ("notes.md", "1:\n30878\n"),
    ]:
        (tmp_path / name).write_text(text)
    with gzip.open(tmp_path / "qualifying.txt.gz", "wt") as qualifying:
        qualifying.write("1:\n30878,2005-09-06\n")
    data = load_dataset(tmp_path, cache=False)
    pd.testing.assert_frame_equal(data.ratings, parse(source))
    assert len(data.titles) == 6
    assert len(data.probe) == 1 and len(data.qualifying) == 1 and len(data.qualifying_answers) == 1


# --- 3. a cache that cannot be written --------------------------------------------------------


def test_cache_folder_under_a_file_only_warns(tmp_path, caplog):
    source = write_netflix(tmp_path / "netflix")
    (tmp_path / "a_file").write_text("")
    with caplog.at_level(logging.WARNING, logger="cfutils.data.io"):
        assert_same_frame(cached(source, tmp_path / "a_file" / "cache"), parse(source))
    assert len(cache_warnings(caplog)) == 1 and "parquet cache not written" in caplog.text


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_cache_write_failure_only_warns_and_leaves_no_temporary_file(tmp_path, caplog, monkeypatch, code):
    """A read-only folder or file system, or a full disk, failing after part of the file was written
    (the OS's answer is simulated: the tests may run as root, on a roomy disk)."""
    source = write_netflix(tmp_path / "netflix")
    cache_dir = tmp_path / "cache"

    def write_part_then_fail(table, where, **options):
        Path(where).write_bytes(b"PAR1 and a part")
        raise OSError(code, os.strerror(code), str(where))

    monkeypatch.setattr(io_cache.pq, "write_table", write_part_then_fail)
    with caplog.at_level(logging.WARNING, logger="cfutils.data.io"):
        assert_same_frame(cached(source, cache_dir), parse(source))
    assert len(cache_warnings(caplog)) == 1 and os.strerror(code) in caplog.text
    assert list(cache_dir.iterdir()) == []


def test_default_cache_outside_a_checkout_is_the_users_cache_folder(tmp_path, monkeypatch):
    """An installed package (no ``<repo>/data/processed``) caches under XDG_CACHE_HOME or ~/.cache."""
    monkeypatch.delenv(io.CACHE_DIR_ENV, raising=False)
    monkeypatch.setattr(io_cache, "CHECKOUT_CACHE_DIR", tmp_path / "site-packages" / "data" / "processed")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    source = write_netflix(tmp_path / "netflix")
    read_ratings(source, progress=False)
    assert len(list((tmp_path / "xdg" / "cfutils").glob("ratings-*.parquet"))) == 1
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert io.default_cache_dir() == tmp_path / "home" / ".cache" / "cfutils"
    monkeypatch.setenv(io.CACHE_DIR_ENV, str(tmp_path / "chosen"))
    assert io.default_cache_dir() == tmp_path / "chosen", "CFUTILS_CACHE_DIR still wins"


# --- 4. no ratings at all ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [("ratings.csv", "userId,movieId,rating,timestamp\n"), ("combined_data_1.txt", "1:\n2:\n")],
)
def test_input_without_ratings_is_an_error(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    for path in (tmp_path / name, tmp_path):
        with pytest.raises(DataFormatError, match=rf"{name}: no ratings"):
            parse(path)


# --- 5. broken gzip files ---------------------------------------------------------------------


def broken_gzip(fault: str, text: bytes) -> bytes:
    packed = gzip.compress(text)
    if fault == "truncated":
        return packed[: len(packed) // 2]
    if fault == "corrupt":
        return packed[:12] + bytes(b ^ 0x55 for b in packed[12:40]) + packed[40:]
    return text  # not gzip at all


@pytest.mark.parametrize("fault", ["truncated", "corrupt", "not gzip"])
@pytest.mark.parametrize("name", ["combined_data_1.txt", "u.data", "movie_titles.csv"])
def test_broken_gzip_is_a_format_error_naming_the_file(tmp_path, fault, name):
    source = FIXTURES / ("ml-100k" if name == "u.data" else "kaggle") / name
    path = tmp_path / f"{name}.gz"
    path.write_bytes(broken_gzip(fault, source.read_bytes() * 50))
    with pytest.raises(DataFormatError, match=rf"{path}: broken gzip file"):
        read_titles(path) if name == "movie_titles.csv" else parse(path)


# --- 6. a UTF-8 movie_titles.csv --------------------------------------------------------------


def test_utf8_netflix_titles_are_not_mojibake(tmp_path):
    path = tmp_path / "movie_titles.csv"
    path.write_text("1,2001,Amélie\n2,2003,Crouching Tiger, Hidden Dragon – Sequel\n", encoding="utf-8")
    assert list(read_titles(path)["title"]) == ["Amélie", "Crouching Tiger, Hidden Dragon – Sequel"]
    path.write_text("1,2001,Amélie\n", encoding="latin-1")
    assert list(read_titles(path)["title"]) == ["Amélie"], "the Prize's own ISO-8859-1 still reads"


# --- 7. --output-dir that cannot be a folder -----------------------------------------------


def one_notebook(folder: Path) -> Path:
    folder.mkdir()
    cells = [
        new_code_cell(
            'DATA = "sample"\nSEED = 0\nOUTPUT_DIR = "outputs"\nSPLIT = "global_time"',
            metadata={"tags": ["parameters"]},
        )
    ]
    nbformat.write(new_notebook(cells=cells), folder / "01_a.ipynb")
    return folder


@pytest.mark.parametrize("where", ["a file", "under a file", "the notebooks folder"])
def test_output_dir_that_cannot_hold_the_results_is_a_usage_error(tmp_path, capsys, where):
    notebooks = one_notebook(tmp_path / "notebooks")
    (tmp_path / "results.txt").write_text("keep me")
    output_dir = {
        "a file": tmp_path / "results.txt",
        "under a file": tmp_path / "results.txt" / "out",
        "the notebooks folder": notebooks,
    }[where]
    argv = ["--output-dir", str(output_dir), "--notebooks-dir", str(notebooks), "--kernel", "no_such_kernel"]
    assert pipeline.main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --output-dir {output_dir}: ") and "Traceback" not in error
    assert (tmp_path / "results.txt").read_text() == "keep me" and (notebooks / "01_a.ipynb").exists()


# --- 8. a failed run leaves no stale figures ------------------------------------------------


def test_failed_run_removes_its_earlier_artefacts_and_nothing_else(tmp_path):
    notebooks = one_notebook(tmp_path / "notebooks")
    out = tmp_path / "out"
    ours = [
        "figures/01_ratings.png",
        "figures/01_dates.png",
        "01_a.ipynb",
        "metrics.json",
        "timings.json",
        "report.html",
    ]
    theirs = ["figures/02_other_notebook.png", "figures/01_notes.txt", "figures/my_plot.png", "notes.md", "02_b.ipynb"]
    for name in ours + theirs:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("from an earlier run")
    with pytest.raises(pipeline.PipelineError, match="NoSuchKernel"):
        pipeline.run({notebooks / "01_a.ipynb": {}}, out, kernel_name="no_such_kernel", progress=False)
    stale = [name for name in ours if (out / name).exists() and (out / name).read_text() == "from an earlier run"]
    assert stale == [], "the failed run's own (partial) notebook may exist, never an earlier one"
    assert all((out / name).read_text() == "from an earlier run" for name in theirs)


# --- 9. minor faults, one rule each ---------------------------------------------------------


def test_ratings_dat_separator_is_two_colons_never_a_tab(tmp_path):
    path = tmp_path / "ratings.dat"
    path.write_text("1::1193::5::978300760\n1\t661\t3\t978302109\n")
    with pytest.raises(DataFormatError, match=r"line 2: a tab in a line whose fields are separated by '::'"):
        parse(path)
    path.write_text("1::1193::5::978300760\n1::661\t::3::978302109\n")
    with pytest.raises(DataFormatError, match="line 2: a tab"):
        parse(path)


@pytest.mark.parametrize("rating", ["5.0000001", "4.50000001", "0.49999999"])
def test_movielens_rating_is_checked_before_float32_rounding(tmp_path, rating):
    path = tmp_path / "ratings.csv"
    path.write_text(f"userId,movieId,rating,timestamp\n1,1,4.5,964982703\n1,2,{rating},964982703\n")
    with pytest.raises(DataFormatError, match="line 3: rating is not a number from 0.5 to 5 in half stars"):
        parse(path)


def unix_seconds(day: str) -> int:
    return int(pd.Timestamp(day).timestamp())


@pytest.mark.parametrize(
    ("name", "row", "accepted"),
    [
        ("u.data", f"1\t1\t3\t{unix_seconds('1990-01-01')}", True),
        ("u.data", f"1\t1\t3\t{unix_seconds('2031-01-01') - 1}", True),
        ("u.data", f"1\t1\t3\t{unix_seconds('1990-01-01') - 1}", False),
        ("u.data", f"1\t1\t3\t{unix_seconds('2031-01-01')}", False),
        ("u.data", "1\t1\t3\t0", False),
        ("u.data", "1\t1\t3\t964982703000", False),  # milliseconds
        ("u.data", "1\t1\t3\t99999999999999999999", False),  # beyond 64 bits (20 digits, the longest field read)
        ("combined_data_1.txt", "1,3,1990-01-01", True),
        ("combined_data_1.txt", "1,3,2030-12-31", True),
        ("combined_data_1.txt", "1,3,1989-12-31", False),
        ("combined_data_1.txt", "1,3,2031-01-01", False),
        ("combined_data_1.txt", "1,3,0001-01-01", False),
    ],
)
def test_ratings_are_dated_from_1990_to_2030(tmp_path, name, row, accepted):
    path = tmp_path / name
    lines = ["5:", "2,4,2005-01-01", row] if name.startswith("combined") else ["2\t5\t4\t964982703", row]
    path.write_text("\n".join(lines) + "\n")
    if accepted:
        assert len(parse(path)) == 2
    else:
        with pytest.raises(DataFormatError, match=rf"line {len(lines)}: .* 1990-01-01..2030-12-31"):
            parse(path)


def test_time_inside_a_netflix_date_is_reported_as_a_bad_date(tmp_path):
    path = tmp_path / "combined_data_1.txt"
    path.write_text("1:\n10,3,2005-09-06\n11,4,2005-09-06 12:30:00\n")
    with pytest.raises(DataFormatError, match=r"line 3: date is not a valid YYYY-MM-DD: '11,4,2005-09-06 12:30:00'"):
        parse(path)


@pytest.mark.parametrize("seed", ["-1", str(2**31)])
def test_seed_out_of_range_is_a_usage_error(tmp_path, capsys, seed):
    notebooks = one_notebook(tmp_path / "notebooks")
    argv = [
        "--seed",
        seed,
        "--output-dir",
        str(tmp_path / "out"),
        "--notebooks-dir",
        str(notebooks),
        "--kernel",
        "no_such_kernel",
    ]
    assert pipeline.main(argv) == 2
    assert capsys.readouterr().err.startswith(f"error: --seed {seed}: must be an integer from 0 to")
    assert not (tmp_path / "out").exists()


def test_orphaned_temporary_cache_files_are_removed(tmp_path):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    orphan = cache_dir / ".ratings-combined_data_1.txt-0123456789abcdef.parquet.4242.tmp"
    in_progress = cache_dir / ".ratings-combined_data_1.txt-fedcba9876543210.parquet.4243.tmp"
    for temporary in (orphan, in_progress):
        temporary.write_bytes(b"PAR1")
    an_hour_ago = time.time() - io.ORPHAN_SECONDS - 1
    os.utime(orphan, (an_hour_ago, an_hour_ago))
    cached(write_netflix(tmp_path / "netflix"), cache_dir)
    assert not orphan.exists()
    assert in_progress.exists(), "another process may still be writing it"


@pytest.mark.parametrize("name", ["combined_data_1.txt", "u.data", "movie_titles.csv"])
def test_file_beside_its_gzip_copy_is_an_error(tmp_path, name):
    shutil.copy(FIXTURES / ("ml-100k" if name == "u.data" else "kaggle") / name, tmp_path)
    (tmp_path / f"{name}.gz").write_bytes(gzip.compress((tmp_path / name).read_bytes()))
    with pytest.raises(DataFormatError, match=rf"both a file and its gzip copy \({name} and {name}.gz\)"):
        parse(tmp_path)


def test_same_size_edit_with_restored_mtime_is_parsed_again(tmp_path):
    """The cache key holds the inode change time, which no tool can set back."""
    source = write_netflix(tmp_path / "netflix")
    cache_dir = tmp_path / "cache"
    before = cached(source, cache_dir)
    time.sleep(0.05)  # file times tick with the kernel's coarse clock (a few ms); a user's edit comes later
    stat = source.stat()
    text = source.read_bytes()
    middle = text.index(b"\n", len(text) // 2) + 1  # a rating row in the middle of the file
    row_end = text.index(b"\n", middle)
    edited = text[:middle] + text[middle:row_end].replace(b"2005-", b"2004-") + text[row_end:]
    source.write_bytes(edited)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert source.stat().st_size == stat.st_size and source.stat().st_mtime_ns == stat.st_mtime_ns
    after = cached(source, cache_dir)
    assert_same_frame(after, parse(source))
    assert (after["date"] != before["date"]).sum() == 1
