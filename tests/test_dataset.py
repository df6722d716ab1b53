"""Tests of cfutils.data.dataset: sources, titles found next to the ratings, the sample on first use."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cfutils.data import dataset, synth
from cfutils.data.dataset import find_titles, load_dataset
from cfutils.data.io import empty_titles, read_ratings, read_titles

FIXTURES = Path(__file__).parent / "fixtures" / "io"


@pytest.mark.parametrize(
    "source, titles",
    [
        ("kaggle", "kaggle/movie_titles.csv"),
        ("kaggle/combined_data_1.txt", "kaggle/movie_titles.csv"),
        ("netflix_original", "netflix_original/movie_titles.txt"),
        ("netflix_original/training_set", "netflix_original/movie_titles.txt"),
        ("netflix_original/training_set/mv_0000001.txt", "netflix_original/movie_titles.txt"),
        ("ml-100k", "ml-100k/u.item"),
        ("ml-latest-small/ratings.csv", "ml-latest-small/movies.csv"),
        ("ml-1m", "ml-1m/movies.dat"),
    ],
)
def test_loads_ratings_and_the_titles_next_to_them(source, titles):
    data = load_dataset(FIXTURES / source, cache=False)
    pd.testing.assert_frame_equal(data.ratings, read_ratings(FIXTURES / source, cache=False, progress=False))
    pd.testing.assert_frame_equal(data.titles, read_titles(FIXTURES / titles))
    assert find_titles(FIXTURES / source) == FIXTURES / titles
    assert data.source == str(FIXTURES / source)
    assert data.name == Path(source).name


def test_without_titles_file_titles_are_empty_with_contract_dtypes(tmp_path):
    shutil.copy(FIXTURES / "ml-100k" / "u.data", tmp_path / "u.data")
    data = load_dataset(tmp_path, cache=False)
    assert len(data.ratings) == 3
    pd.testing.assert_frame_equal(data.titles, empty_titles())
    assert data.titles.index.dtype == np.int32 and str(data.titles["year"].dtype) == "Int16"


def test_sample_is_generated_on_first_use_then_reused(tmp_path, monkeypatch):
    def write_tiny_sample(directory):
        return synth.write_preset(directory, synth.TINY)

    monkeypatch.setattr(dataset, "SAMPLE_DIR", tmp_path / "sample")
    monkeypatch.setattr(dataset, "write_sample", write_tiny_sample)
    first = load_dataset("sample", cache=False)
    written = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "sample").iterdir()}
    second = load_dataset("sample", cache=False)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "sample").iterdir()} == written
    assert first.name == "sample" and first.source == str(tmp_path / "sample")
    assert len(first.ratings) == synth.TINY.n_ratings
    assert set(first.ratings["movie_id"]) <= set(first.titles.index)
    pd.testing.assert_frame_equal(first.ratings, second.ratings)


def test_missing_source_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "nowhere", cache=False)


def test_movielens_small_is_embedded_real_data():
    data = load_dataset("movielens-small", cache=False)
    assert data.name == "movielens-small"
    assert Path(data.source) == dataset.MOVIELENS_SMALL_DIR
    # The figures GroupLens's README.txt gives for ml-latest-small.
    assert len(data.ratings) == 100_836
    assert data.ratings["user_id"].nunique() == 610
    assert len(data.titles) == 9_742
    assert data.ratings.groupby("user_id").size().min() >= 20
    assert set(data.ratings["rating"].unique()) == {0.5 * s for s in range(1, 11)}
    assert (dataset.MOVIELENS_SMALL_DIR / "NOTICE.md").is_file()
    assert (dataset.MOVIELENS_SMALL_DIR / "README.txt").is_file()


# --------------------------------------------------------------------------- MovieLens 100K's fixed splits


@pytest.fixture
def fold(tmp_path):
    """A generated fixed split ``u1.base`` / ``u1.test`` (a random fifth of the ratings), with ``u.item``."""
    from ratings_factory import random_ratings, write_fixed_split

    write_fixed_split(random_ratings(n_ratings=300), tmp_path / "u1.base", seed=3)
    shutil.copy(FIXTURES / "ml-100k" / "u.item", tmp_path)
    return tmp_path


def test_a_base_file_brings_its_test_file_and_the_titles(fold):
    from cfutils.data.split import make_split

    data = load_dataset(fold / "u1.base", cache=False)
    base = read_ratings(fold / "u1.base", cache=False, progress=False)
    test = read_ratings(fold / "u1.test", cache=False, progress=False)
    assert len(data.ratings) == len(base) + len(test)
    pd.testing.assert_frame_equal(data.titles, read_titles(fold / "u.item"))
    train, held_out = make_split(data.ratings, "given", probe=data.probe)
    key = ["user_id", "movie_id", "rating", "date"]
    pd.testing.assert_frame_equal(held_out[key].reset_index(drop=True), test[key])
    pd.testing.assert_frame_equal(train[key].reset_index(drop=True), base[key])


def test_a_missing_test_file_is_named(fold):
    (fold / "u1.test").unlink()
    with pytest.raises(FileNotFoundError, match=r"u1\.test is missing"):
        load_dataset(fold / "u1.base", cache=False)


def test_a_test_file_that_repeats_base_pairs_is_named_with_its_line(fold):
    from cfutils.data.io import DataFormatError

    lines = (fold / "u1.test").read_text().splitlines(keepends=True)
    base_line = (fold / "u1.base").read_text().splitlines()[5]
    lines.insert(2, base_line + "\n")  # line 3 of u1.test rates a pair of u1.base
    (fold / "u1.test").write_text("".join(lines))
    with pytest.raises(DataFormatError, match=r"u1\.test, line 3: 1 of its ratings rate a .* u1\.base") as error:
        load_dataset(fold / "u1.base", cache=False)
    assert error.value.line == base_line
