"""Every notebook completes, with default parameters, on the shapes of real Netflix files.

A real Kaggle file is not shaped like the sample: the head of ``combined_data_4.txt`` holds about
10,000 ratings of a dozen movies by 9,000 users, and the first few hundred movies of a file hold
tens of thousands of users. Such shapes once stopped notebook 05 (user-user KNN needed more memory
than its budget). Here the generator writes both shapes in the Kaggle format and the whole pipeline
runs on each with defaults; a model too big for its budget must be skipped with a recorded reason,
never take the run down. (The sample and movielens-small are run by ``make run``; the tiny data by
``conftest.pipeline_run``.)
"""

from __future__ import annotations

import pytest
from conftest import run_pipeline

from cfutils.data import synth
from cfutils.present import pipeline

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

#: name -> (users, movies, ratings): the head of one Kaggle file, and a few hundred movies of one.
NETFLIX_SHAPES = {
    "few_movies_many_users": (9_000, 12, 10_000),
    "hundreds_of_movies_50k_users": (50_000, 300, 150_000),
}


@pytest.fixture(scope="module", params=list(NETFLIX_SHAPES))
def shaped_run(request, tmp_path_factory):
    users, movies, ratings = NETFLIX_SHAPES[request.param]
    data = synth.write_netflix(
        tmp_path_factory.mktemp(request.param), n_users=users, n_movies=movies, n_ratings=ratings, seed=11, n_files=1
    )
    return request.param, run_pipeline(data=data, output_dir=tmp_path_factory.mktemp(f"{request.param}_run"))


def test_every_notebook_completes_with_defaults(shaped_run):
    name, run = shaped_run
    assert run.exit_code == 0, f"{name}:\n{run.stderr}"
    for notebook in pipeline.discover_notebooks(pipeline.DEFAULT_NOTEBOOKS_DIR):
        if (run.output_dir / notebook.name).exists():
            run.records(notebook.stem)  # fails with the pipeline's error if the notebook did not finish


def test_model_comparison_scores_or_explains_every_model(shaped_run):
    name, run = shaped_run
    results = run.records("05_model_comparison")["results"]
    skipped = run.records("05_model_comparison")["skipped"]
    assert {row["model"] for row in results if "skipped" in row} == set(skipped)
    assert all("needs about" in reason for reason in skipped.values())
    scored = [row for row in results if "skipped" not in row]
    assert {"global_mean", "baseline", "xgb_stack"} <= {row["model"] for row in scored}
    assert all(row["test_rmse"] is not None and 0 < row["test_rmse"] < 2 for row in scored)
    if name == "hundreds_of_movies_50k_users":
        # 50,000 users: KNNBaseline's five dense users x users matrices need about 100 GB.
        assert "knn_users" in skipped
