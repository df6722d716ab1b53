"""The notebooks with ``--split given`` on a generated MovieLens 100K-style fixed split (``u1.base``/``u1.test``).

Every notebook runs once (module fixture) on the tiny generated data written as a fold; the test set
of 01-06 is then exactly ``u1.test``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import SMALL_05_SEARCH, run_pipeline
from ratings_factory import write_fixed_split

from cfutils.data.dataset import load_dataset
from cfutils.data.io import read_ratings
from cfutils.data.split import make_split

pytestmark = pytest.mark.notebook

FIXTURES = Path(__file__).parent / "fixtures" / "io"


@pytest.fixture(scope="module")
def fold(tiny_data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ml100k_fold")
    shutil.copy(FIXTURES / "ml-100k" / "u.item", folder)
    return write_fixed_split(load_dataset(tiny_data_dir, cache=False).ratings, folder / "u1.base", seed=1)


@pytest.fixture(scope="module")
def given_run(fold, tmp_path_factory):
    settings = [arg for name, value in SMALL_05_SEARCH.items() for arg in ("-p", name, value)]
    only = [arg for number in ("01", "02", "03", "04", "05", "06", "08") for arg in ("--only", number)]
    return run_pipeline(
        "--split", "given", *only, *settings, data=fold, output_dir=tmp_path_factory.mktemp("given_run")
    )


def test_every_notebook_runs_and_tests_on_the_test_file(given_run, fold):
    test = read_ratings(fold.with_suffix(".test"), cache=False, progress=False)
    base = read_ratings(fold, cache=False, progress=False)
    counts = given_run.records("05_model_comparison")["n_ratings"]
    assert (counts["train"], counts["test"]) == (len(base), len(test))
    results = {row["model"] for row in given_run.records("05_model_comparison")["results"]}
    assert "bayes_fm" in results and "xgb_stack" in results
    data = load_dataset(fold, cache=False)
    train, held_out = make_split(data.ratings, "given", probe=data.probe)
    assert len(held_out) == len(test) and len(train) == len(base)
    for notebook in (
        "01_eda",
        "02_sparsity_cold_start",
        "03_similarity",
        "04_features_xgboost",
        "06_recommendations",
        "08_beyond_accuracy",
    ):
        assert given_run.records(notebook)
