"""Shared fixtures: a tiny Netflix-format data set, and notebook runs on it.

Executing a notebook costs a kernel start (2-3 s) plus its cells, so the suite runs the whole
pipeline **once** per session (:func:`pipeline_run`) and every notebook test reads its records from
that run. Only tests about the pipeline's own options execute notebooks again.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from hostile import HOSTILE_TITLES

from cfutils.core import train_data
from cfutils.core.matrix import RatingMatrix
from cfutils.data import io as io_module
from cfutils.data import synth
from cfutils.data.io import read_ratings
from cfutils.present import pipeline
from cfutils.present.record import read_records

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
#: Notebook 05 with one setting per model, two folds and a short Gibbs chain (``-p`` name, value): the
#: default search runs in the main notebook run.
SMALL_05_SEARCH = {
    "N_FOLDS": "2",
    "BASELINE_GRID": '{"reg_u": [15], "reg_i": [10]}',
    "KNN_GRID": '{"k": [20]}',
    "SVD_GRID": '{"n_factors": [20], "reg_all": [0.02]}',
    "SVDPP_GRID": '{"reg_all": [0.02]}',
    "FM_GRID": '{"rank": [4], "n_iter": [20]}',
}

#: Share of each movie's ratings that get an extra, earlier rating of the same pair in the tiny
#: files, so the reader's duplicate handling is exercised. The reader keeps the latest rating, which
#: gives back exactly the ratings of ``synth.TINY`` without duplicates.
TINY_DUPLICATE_FRACTION = 0.02


@pytest.fixture(scope="session", autouse=True)
def parquet_cache_in_tmp(tmp_path_factory):
    """Keep the parquet caches of the whole session (kernels included) out of ``data/processed``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(io_module.CACHE_DIR_ENV, str(tmp_path_factory.mktemp("parquet_cache")))
        yield


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """A folder with ``combined_data_*.txt`` and ``movie_titles.csv`` of the ``synth.TINY`` preset
    (a few hundred users, a few dozen movies), plus a few duplicate ratings."""
    directory = tmp_path_factory.mktemp("tiny_netflix")
    return synth.write_netflix(directory, **asdict(synth.TINY), duplicate_fraction=TINY_DUPLICATE_FRACTION)


@pytest.fixture(scope="session")
def hostile_data_dir(tiny_data_dir, tmp_path_factory):
    """A copy of the tiny data whose most-rated movies carry the hostile titles."""
    directory = tmp_path_factory.mktemp("hostile")
    for path in tiny_data_dir.iterdir():
        shutil.copy(path, directory / path.name)
    counts = read_ratings(directory, cache=False, progress=False)["movie_id"].value_counts(sort=True)
    renamed = dict(zip(counts.index[: len(HOSTILE_TITLES)].tolist(), HOSTILE_TITLES))
    lines = (directory / "movie_titles.csv").read_text(encoding="latin-1").splitlines()
    rewritten = []
    for line in lines:
        movie, year, _ = line.split(",", 2)
        rewritten.append(f"{movie},{year},{renamed[int(movie)]}" if int(movie) in renamed else line)
    (directory / "movie_titles.csv").write_text("\n".join(rewritten) + "\n", encoding="latin-1")
    return directory


#: A Netflix-shaped file like the real head of one Prize file (10,068 ratings, 11 movies, 9,337 users):
#: many users with one or two ratings each, against a dozen movies.
ELEVEN_MOVIES = {"n_users": 9_300, "n_movies": 11, "n_ratings": 10_000, "seed": 11, "n_files": 1}


@pytest.fixture(scope="session")
def eleven_movie_dir(tmp_path_factory) -> Path:
    """A folder with ``combined_data_1.txt`` and ``movie_titles.csv`` of :data:`ELEVEN_MOVIES`."""
    return synth.write_netflix(tmp_path_factory.mktemp("eleven_movies"), **ELEVEN_MOVIES)


@dataclass(frozen=True)
class PipelineRun:
    """The result of ``python -m cfutils`` run in-process by :func:`run_pipeline`."""

    exit_code: int
    output_dir: Path
    stdout: str
    stderr: str

    def records(self, notebook: str, volatile: bool = False) -> dict[str, Any]:
        """What ``notebook`` (a stem such as ``"01_eda"``) recorded; fails the test, with the
        pipeline's error, when that notebook did not run to the end."""
        executed = self.output_dir / f"{notebook}.ipynb"
        if self.exit_code != 0 or not executed.exists():
            pytest.fail(f"{notebook} has no complete run (exit code {self.exit_code}):\n{self.stderr}")
        return read_records(executed, volatile=volatile)


def run_pipeline(*args: str, data: Path, output_dir: Path, notebooks_dir: Path = NOTEBOOKS_DIR) -> PipelineRun:
    """Run the pipeline's ``main`` in this process on ``data`` (no progress bar) and capture its output.

    ``args`` are extra command-line arguments, e.g. ``"--only", "01"`` or ``"-p", "TEST_SIZE", "0.5"``.
    """
    argv = [
        "--data",
        str(data),
        "--output-dir",
        str(output_dir),
        "--notebooks-dir",
        str(notebooks_dir),
        "--no-progress",
        *args,
    ]
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        exit_code = pipeline.main(argv)
    return PipelineRun(exit_code, Path(output_dir), stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="session")
def pipeline_run(tiny_data_dir, tmp_path_factory) -> PipelineRun:
    """Every notebook in ``notebooks/``, executed once on the tiny data with default parameters."""
    return run_pipeline(data=tiny_data_dir, output_dir=tmp_path_factory.mktemp("pipeline_run"))


@pytest.fixture(scope="session")
def eleven_movie_run(eleven_movie_dir, tmp_path_factory) -> PipelineRun:
    """Notebooks 03-06 executed once on the eleven-movie file, where most of their lessons cannot hold."""
    only = [arg for number in ("03", "04", "05", "06") for arg in ("--only", number)]
    return run_pipeline(*only, data=eleven_movie_dir, output_dir=tmp_path_factory.mktemp("eleven_movie_run"))


@dataclass
class BuildCounts:
    """Calls, in this process, of ``RatingMatrix.from_ratings`` (``matrices``) and of the
    ``cosine_top_k`` behind ``TrainData.neighbours`` (``neighbour_lists``)."""

    matrices: int = 0
    neighbour_lists: int = 0


@pytest.fixture
def build_counts(monkeypatch) -> BuildCounts:
    """Counts every rating matrix and every set of neighbour lists built while the test runs."""
    counts = BuildCounts()
    build, top_k = RatingMatrix.from_ratings, train_data.cosine_top_k

    def counted_build(ratings):
        counts.matrices += 1
        return build(ratings)

    def counted_top_k(*args, **kwargs):
        counts.neighbour_lists += 1
        return top_k(*args, **kwargs)

    monkeypatch.setattr(RatingMatrix, "from_ratings", staticmethod(counted_build))
    monkeypatch.setattr(train_data, "cosine_top_k", counted_top_k)
    return counts
