"""benchmarks/scale.py runs every stage at a tiny fraction, and its memory guards stop it early."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ratings_factory import random_ratings

from cfutils.core.train_data import TrainData
from cfutils.data.synth import NETFLIX
from cfutils.rating.features import similarity_features

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"
STAGES = [
    "generate",
    "parse_and_cache",
    "reload",
    "prize_files",
    "probe",
    "split",
    "matrix",
    "movie_top_k",
    "user_top_k",
    "features",
    "xgboost_fit",
    "test_rmse",
    "bayes_fm",
    "top_n_ease",
    "top_n_rerank",
]
#: 96 users and 20,096 ratings of Netflix's 17,770 movies: the smallest fraction that can still
#: give every user and movie a rating.
TINY_FRACTION = 0.0002


def run_args(output, data_dir, *extra: str, fraction: str = str(TINY_FRACTION)) -> list[str]:
    """scale.py's command line: ``--fraction``, ``--output``, ``--data-dir``, then ``extra``."""
    return ["--fraction", fraction, "--output", str(output), "--data-dir", str(data_dir), *extra]


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_fraction_writes_well_formed_json(scale, tmp_path, capsys):
    output = tmp_path / "results.json"
    args = run_args(output, tmp_path / "data", "--trees", "5", "--top-n-users", "20")
    assert scale.main(args) == 0
    result = json.loads(output.read_text())
    assert result["ratings"] == round(NETFLIX.n_ratings * TINY_FRACTION)
    assert result["movies"] == NETFLIX.n_movies and result["users"] == round(NETFLIX.n_users * TINY_FRACTION)
    assert list(result["stages"]) == STAGES
    for stage in result["stages"].values():
        assert stage["seconds"] >= 0 and stage["peak_rss_mb"] > 0
    assert result["peak_rss_mb"] == max(stage["peak_rss_mb"] for stage in result["stages"].values())
    assert result["total_seconds"] >= sum(stage["seconds"] for stage in result["stages"].values())
    assert 0.3 < result["test_rmse"] < 2.0
    assert 0.3 < result["bayes_fm"]["test_rmse"] < 2.0 and result["bayes_fm"]["estimated_mb"] > 0
    assert 0 < result["users_listed"] <= 20
    prize = result["prize"]
    assert 0 < prize["probe_pairs"] < prize["qualifying_pairs"] < result["ratings"]
    assert 0.3 < prize["probe_rmse"] < 2.0
    assert (tmp_path / "data" / "prize" / "submission.txt").read_text().count("\n") > prize["qualifying_pairs"]
    assert "top_n_rerank" in capsys.readouterr().out  # the printed table


def test_prize_only_stops_after_the_probe_stage(scale, tmp_path):
    output = tmp_path / "results.json"
    args = run_args(output, tmp_path / "data", "--prize-only")
    assert scale.main(args) == 0
    result = json.loads(output.read_text())
    assert list(result["stages"]) == STAGES[: STAGES.index("probe") + 1]
    assert "test_rmse" not in result and 0.3 < result["prize"]["probe_rmse"] < 2.0


def test_top_n_only_runs_the_data_stages_the_split_and_the_top_n_stages(scale, tmp_path, capsys):
    output = tmp_path / "results.json"
    args = run_args(output, tmp_path / "data", "--top-n-only", "--top-n-users", "20")
    assert scale.main(args) == 0
    result = json.loads(output.read_text())
    assert list(result["stages"]) == [*STAGES[:3], "split", "top_n_ease", "top_n_rerank"]
    assert result["prize"] == {} and "test_rmse" not in result and 0 < result["users_listed"] <= 20
    assert not (tmp_path / "data" / "prize").exists()
    assert "Prize protocol" not in capsys.readouterr().out


def test_ease_only_stops_after_ease(scale, tmp_path):
    output = tmp_path / "results.json"
    args = run_args(output, tmp_path / "data", "--ease-only", "--ease-items", "50", "--top-n-users", "20")
    assert scale.main(args) == 0
    result = json.loads(output.read_text())
    assert list(result["stages"]) == [*STAGES[:3], "split", "top_n_ease"]
    assert 0 < result["users_listed"] <= 20 and "test_rmse" not in result


def test_whole_run_guard_stops_before_generating(scale, tmp_path, capsys):
    args = run_args(tmp_path / "r.json", tmp_path / "data", "--memory-budget-gb", "1", fraction="1")
    assert scale.main(args) == 2
    assert "--memory-budget-gb" in capsys.readouterr().err
    assert not (tmp_path / "data").exists() and not (tmp_path / "r.json").exists()


def test_step_guard_names_its_option(scale, tmp_path, capsys):
    args = run_args(tmp_path / "r.json", tmp_path / "data", "--step-budget-gb", "0.001")
    assert scale.main(args) == 2
    error = capsys.readouterr().err
    assert "--step-budget-gb" in error and "needs about" in error
    assert not (tmp_path / "r.json").exists()


def test_sampled_users_train_lists_the_sampled_users_as_the_full_lists_do(scale):
    """The sampled users' rows equal those of every user's lists, the others are empty, so the
    features of the sampled users' pairs are those of the full lists."""
    train = random_ratings(n_users=40, n_movies=25, n_ratings=400, seed=5)
    users = np.unique(train["user_id"])[::3]
    sampled, full = scale.SampledUsersTrain(train, users), TrainData(train)
    lists, full_lists = sampled.neighbours("users", 4), full.neighbours("users", 4)
    rows = full.matrix.user_index(users)
    assert (lists[rows] != full_lists[rows]).nnz == 0 and lists[rows].nnz > 0
    assert lists.nnz == lists[rows].nnz
    assert sampled.neighbours("movies", 4) is sampled.neighbours("movies", 4)
    pairs = train[train["user_id"].isin(users)]
    pd.testing.assert_frame_equal(similarity_features(sampled, pairs, k=4), similarity_features(full, pairs, k=4))
