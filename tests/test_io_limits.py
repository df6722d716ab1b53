"""A hostile or unlucky data file gets a format error naming file, line and text (issue 31, item 4)."""

from __future__ import annotations

import os
import threading

import pytest

from cfutils.data.io import DataFormatError, read_probe, read_ratings, read_titles
from cfutils.data.io import cache as io_cache
from cfutils.data.io.schema import MAX_LINE_BYTES

HUGE = "9" * 5000  # more digits than Python's int() accepts (4,300)


def read(path):
    return read_ratings(path, cache=False, progress=False)


def test_a_huge_numeric_field_in_a_netflix_file_names_file_line_and_text(tmp_path):
    path = tmp_path / "combined_data_1.txt"
    path.write_text(f"1:\n5,3,2005-01-01\n{HUGE},3,2005-01-01\n")
    with pytest.raises(DataFormatError) as raised:
        read(path)
    assert raised.value.path == str(path) and raised.value.line_number == 3 and raised.value.line.startswith("999")


def test_a_huge_movie_header_is_a_format_error(tmp_path):
    path = tmp_path / "combined_data_1.txt"
    path.write_text(f"{HUGE}:\n5,3,2005-01-01\n")
    with pytest.raises(DataFormatError) as raised:
        read(path)
    assert raised.value.line_number == 1


@pytest.mark.parametrize("field", [0, 2, 3])
def test_a_huge_numeric_field_in_a_movielens_file_names_file_line_and_text(tmp_path, field):
    row = ["1", "2", "3", "978300760"]
    row[field] = HUGE
    path = tmp_path / "u.data"
    path.write_text("1\t1\t4\t978300760\n" + "\t".join(row) + "\n")
    with pytest.raises(DataFormatError) as raised:
        read(path)
    assert raised.value.line_number == 2 and HUGE[:20] in raised.value.line


def test_a_huge_customer_id_in_the_probe_file_names_file_line_and_text(tmp_path):
    path = tmp_path / "probe.txt"
    path.write_text(f"1:\n5\n{HUGE}\n")
    with pytest.raises(DataFormatError) as raised:
        read_probe(path)
    assert raised.value.path == str(path) and raised.value.line_number == 3


def test_a_line_longer_than_the_limit_is_refused_with_its_number(tmp_path):
    path = tmp_path / "combined_data_1.txt"
    path.write_text("1:\n5,3,2005-01-01\n" + "7" * (MAX_LINE_BYTES + 10))  # no newline: would be read whole
    with pytest.raises(DataFormatError, match="line longer than") as raised:
        read(path)
    assert raised.value.line_number == 3 and raised.value.line == "7" * 80


def test_a_fifo_is_refused_at_once_instead_of_hanging(tmp_path):
    path = tmp_path / "u.data"
    os.mkfifo(path)
    result = {}

    def attempt():
        try:
            read(path)
        except DataFormatError as error:
            result["error"] = error

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the reader hangs on a FIFO"
    assert "not a regular file" in str(result.get("error"))


def test_dev_zero_is_refused_as_a_titles_file(tmp_path):
    link = tmp_path / "movie_titles.csv"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataFormatError, match="not a regular file"):
        read_titles(link)


@pytest.mark.parametrize("movie_id", ["1e3", "7.0", "0x10", "+5"])
def test_title_ids_are_strict_integers(tmp_path, movie_id):
    path = tmp_path / "movie_titles.csv"
    path.write_text(f"1,2001,Fine\n{movie_id},2002,Not an id\n")
    with pytest.raises(DataFormatError, match="integer movie id") as raised:
        read_titles(path)
    assert raised.value.line_number == 2 and raised.value.line.startswith(movie_id)


def test_u_data_takes_whole_stars_only_and_ratings_csv_half_stars(tmp_path):
    udata = tmp_path / "ml" / "u.data"
    udata.parent.mkdir()
    udata.write_text("1\t1\t4\t978300760\n2\t1\t3.5\t978300760\n")
    with pytest.raises(DataFormatError, match="whole star") as raised:
        read(udata)
    assert raised.value.line_number == 2
    csv = tmp_path / "ratings.csv"
    csv.write_text("userId,movieId,rating,timestamp\n2,1,3.5,978300760\n")
    assert read(csv)["rating"].tolist() == [3.5]


def test_a_link_planted_at_a_guessable_cache_temporary_name_is_not_followed(tmp_path):
    source = tmp_path / "combined_data_1.txt"
    source.write_text("1:\n5,3,2005-01-01\n")
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    cache_path = io_cache.ratings_cache_path(source, cache_dir)
    (cache_dir / f".{cache_path.name}.{os.getpid()}.tmp").symlink_to(victim)  # the old, predictable name
    read_ratings(source, cache=True, cache_dir=cache_dir, progress=False)
    assert victim.read_text() == "precious"
    assert cache_path.is_file() and not cache_path.is_symlink()
