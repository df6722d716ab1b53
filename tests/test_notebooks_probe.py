"""The notebooks with ``--split probe`` on tiny generated data that carries the Prize's files.

01-05 run once (module fixture) and their records are recomputed from cfutils; 06, which ranks
top-N lists on a time split, stops at once with one line.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import SMALL_05_SEARCH, run_pipeline

from cfutils.data import synth
from cfutils.data.dataset import load_dataset
from cfutils.data.io.prize import PRIZE_REFERENCES, read_qualifying_predictions
from cfutils.data.split import probe_split
from cfutils.eval.metrics import rmse
from cfutils.eval.stats import cold_start_report, split_summary
from cfutils.rating.models import GlobalMean, is_cold

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def prize_dir(tmp_path_factory):
    return synth.write_preset(tmp_path_factory.mktemp("tiny_prize"), replace(synth.TINY, prize_holdout=True))


@pytest.fixture(scope="module")
def dataset(prize_dir):
    return load_dataset(prize_dir, cache=False)


@pytest.fixture(scope="module")
def probe_run(prize_dir, tmp_path_factory):
    only = [arg for number in ("01", "02", "03", "04", "05") for arg in ("--only", number)]
    one_setting_each = [arg for name, value in SMALL_05_SEARCH.items() for arg in ("-p", name, value)]
    return run_pipeline(
        "--split", "probe", *only, *one_setting_each, data=prize_dir, output_dir=tmp_path_factory.mktemp("probe_run")
    )


def test_01_to_04_use_the_probe_set_as_test(probe_run, dataset):
    train, test = probe_split(dataset.ratings, dataset.probe)
    assert len(test) == len(dataset.probe) > 0
    comparison = {row.pop("split"): row for row in probe_run.records("01_eda")["split_comparison"]}
    expected = split_summary(train, test)
    assert comparison["this project: probe"] == {key: pytest.approx(value) for key, value in expected.items()}
    assert comparison["this project: probe"]["test ratings"] == len(test)
    sparsity = probe_run.records("02_sparsity_cold_start")
    assert sparsity["n_train_ratings"] == len(train)
    cold = {row.pop("split"): row for row in sparsity["cold_start"]}
    assert cold["probe"] == {key: pytest.approx(value) for key, value in cold_start_report(train, test).items()}
    assert cold["probe"]["new_users"] == 0  # every probe user keeps ratings in train
    assert probe_run.records("03_similarity")["n_users"] == train["user_id"].nunique()
    assert probe_run.records("04_features_xgboost")["n_ratings"]["test"] == len(test)


def test_05_scores_probe_and_quiz_beside_the_prize(probe_run, dataset):
    got = probe_run.records("05_model_comparison")
    train, test = probe_split(dataset.ratings, dataset.probe)
    assert got["n_ratings"] == {"train": len(train), "test": len(test), "test_cold": int(is_cold(train, test).sum())}
    results = {row["model"]: row["test_rmse"] for row in got["results"]}
    scores = {row["model"]: row for row in got["prize"]["scores"]}
    assert got["prize"]["split"] == "probe"
    assert list(scores) == [*results, *PRIZE_REFERENCES]
    for name, probe_rmse in results.items():
        assert scores[name]["probe"] == pytest.approx(probe_rmse, abs=1e-6)
    mean = GlobalMean().fit(train).predict(dataset.qualifying)
    assert scores["global_mean"]["quiz"] == pytest.approx(rmse(dataset.qualifying_answers, mean), abs=1e-6)
    assert scores["Cinematch (Netflix's system)"] == {
        "model": "Cinematch (Netflix's system)",
        "probe": 0.9474,
        "quiz": 0.9514,
        "test": 0.9525,
    }

    best = min(results, key=results.get)
    submitted = read_qualifying_predictions(probe_run.output_dir / "qualifying_predictions.txt", dataset.qualifying)
    assert got["submission_rows"] == len(dataset.qualifying) == len(submitted)
    # Rounded to 3 decimals and clipped into 1..5: never more than 0.0005 worse than the raw predictions.
    assert rmse(dataset.qualifying_answers, submitted) <= scores[best]["quiz"] + 5e-4
    assert np.all((submitted >= 1) & (submitted <= 5))


def test_06_stops_at_once_with_one_line(prize_dir, tmp_path):
    run = run_pipeline("--split", "probe", "--only", "06", data=prize_dir, output_dir=tmp_path)
    assert run.exit_code == 1
    assert "SPLIT='probe' is for the rating predictors of notebooks 01-05" in run.stderr
