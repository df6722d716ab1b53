"""Notebook 07 on the tiny data, through the pipeline (``--only 07``), with small grids.

Its records are recomputed here from the same files: the baselines with cfutils on one machine (and
the job's Spark aggregates must equal them), "most popular" with a plain pandas reference (and the
job's NDCG on the executors must equal cfutils.eval.metrics on the collected lists). Skipped, with
one line, where PySpark is missing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("pyspark", reason="pyspark is not installed; `make spark` adds it")
# PySpark 4.3 warns about pandas 3 on every conversion; it works (these tests are the proof).
pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

from conftest import run_pipeline  # noqa: E402
from test_claims import check_claims  # noqa: E402
from test_spark import popularity_scores, reference_lists  # noqa: E402

from cfutils.data.dataset import load_dataset  # noqa: E402
from cfutils.data.split import make_split, sample_ids  # noqa: E402
from cfutils.eval import INDISTINGUISHABLE, rmse_bootstrap  # noqa: E402
from cfutils.eval.metrics import item_popularity, list_report, warm_cold_table  # noqa: E402
from cfutils.rating.models import BiasBaseline, GlobalMean, is_cold  # noqa: E402

pytestmark.append(pytest.mark.notebook)

SMALL = [
    "-p",
    "SPARK_MASTER",
    "local[2]",
    "-p",
    "MAX_ITER",
    "5",
    "-p",
    "N",
    "10",
    "-p",
    "EXPLICIT_GRID",
    '{"rank": [4], "regParam": [0.1]}',
    "-p",
    "IMPLICIT_GRID",
    '{"rank": [8], "regParam": [0.1], "alpha": [1.0]}',
]


@pytest.fixture(scope="module")
def run(tiny_data_dir, tmp_path_factory):
    return run_pipeline("--only", "07", *SMALL, data=tiny_data_dir, output_dir=tmp_path_factory.mktemp("spark07"))


@pytest.fixture(scope="module")
def parts(tiny_data_dir):
    ratings = load_dataset(str(tiny_data_dir)).ratings
    return make_split(ratings, "global_time", test_size=0.2, seed=0)


def test_07_runs_and_records_the_identical_split(run):
    assert run.exit_code == 0, run.stderr
    got = run.records("07_spark_als")
    assert got["split_identical"] is True
    assert got["split_identical_by_method"] == {"global_time": True, "per_user_time": True, "random": True}
    assert json.loads((run.output_dir / "metrics.json").read_text())["07_spark_als"] == got
    assert (run.output_dir / "figures" / "07_rmse_and_stages.png").stat().st_size > 0


def test_07_results_in_notebook_05_shape(run, parts):
    train, test = parts
    got = run.records("07_spark_als")
    cold = is_cold(train, test)
    assert got["n_ratings"] == {"train": len(train), "test": len(test), "test_cold": int(cold.sum())}
    rows = {row["model"]: row for row in got["results"]}
    assert list(rows) == ["global_mean", "baseline", "svd", "ALS (explicit)"]
    assert all(set(row) == {"model", "test_rmse", "warm_rmse", "cold_rmse", "test_rmse_ci95"} for row in rows.values())
    baselines = {model.name: model.fit(train).predict(test) for model in (GlobalMean(), BiasBaseline())}
    expected = warm_cold_table(test.rating, baselines, cold, columns=("test_rmse", "warm_rmse", "cold_rmse"))
    boot = rmse_bootstrap(test.user_id, test.rating, baselines, seed=0)  # the same users, the same resamples
    for name, row in expected.iterrows():
        expected_row = {key: pytest.approx(value, nan_ok=True) for key, value in row.items()}
        assert rows[name] == {"model": name, **expected_row, "test_rmse_ci95": pytest.approx(boot.interval(name))}
    for row in rows.values():
        lo, hi = row["test_rmse_ci95"]
        assert lo <= row["test_rmse"] <= hi, row
    assert {row["model"] for row in got["paired"]} == set(rows) - {"ALS (explicit)"}
    for row in got["paired"]:
        lo, hi = row["ci95"]
        assert lo <= hi and row["difference"] == pytest.approx(als_minus(rows, row["model"]))
        assert row["verdict"] == ("better" if hi < 0 else "worse" if lo > 0 else INDISTINGUISHABLE)
    assert got["spark_baselines"] == {name: pytest.approx(expected.loc[name, "test_rmse"]) for name in expected.index}
    als = rows["ALS (explicit)"]
    assert 0 < als["warm_rmse"] and 0 < als["test_rmse"] < rows["global_mean"]["test_rmse"] * 1.5
    strategy = got["cold_start_strategy"]
    assert strategy["rows_drop_would_remove"] == int(cold.sum())
    assert strategy["rmse_with_drop"] == pytest.approx(als["warm_rmse"])
    assert strategy["rmse_with_nan_and_mean"] == pytest.approx(als["test_rmse"])
    assert got["svd_refit"] == "fitted"
    assert got["explicit_tuning"]["best_params"] == {"rank": 4, "regParam": 0.1}


def test_07_ranking_in_notebook_06_shape(run, parts):
    train, test = parts
    got = run.records("07_spark_als")
    rows = {row["model"]: row for row in got["ranking"]}
    assert list(rows) == ["most popular", "ALS (implicit)"]
    assert all(
        set(row) == {"model", "ndcg@10", "precision@10", "recall@10", "map@10", "coverage", "ndcg@10_ci95"}
        for row in rows.values()
    )
    users = sample_ids(np.unique(test["user_id"].to_numpy()), 5000, seed=0)  # MAX_EVAL_USERS, SEED
    popular = reference_lists(popularity_scores(train, users), train, users, 10)
    expected = list_report(popular, test, item_popularity(train))
    assert {k: v for k, v in rows["most popular"].items() if k != "ndcg@10_ci95"} == {
        "model": "most popular",
        **{k: pytest.approx(expected[k]) for k in rows["most popular"] if k not in ("model", "ndcg@10_ci95")},
    }
    for row in rows.values():
        lo, hi = row["ndcg@10_ci95"]
        assert lo <= row["ndcg@10"] <= hi, row
    (paired,) = got["ranking_paired"]
    assert paired["model"] == "most popular"
    assert paired["difference"] == pytest.approx(rows["ALS (implicit)"]["ndcg@10"] - rows["most popular"]["ndcg@10"])
    assert all(
        0 <= rows["ALS (implicit)"][k] <= 1 for k in ("ndcg@10", "precision@10", "recall@10", "map@10", "coverage")
    )
    assert got["spark_ndcg@10"] == {name: pytest.approx(row["ndcg@10"]) for name, row in rows.items()}
    assert got["ndcg_gain_over_popular"] == pytest.approx(
        rows["ALS (implicit)"]["ndcg@10"] / rows["most popular"]["ndcg@10"] - 1
    )


def test_07_claims_agree_with_its_records(run):
    check_claims(run, ["07"], {"07": "07_spark_als"})


def als_minus(rows: dict, peer: str) -> float:
    """Explicit ALS's test RMSE minus ``peer``'s: the point of the paired difference."""
    return rows["ALS (explicit)"]["test_rmse"] - rows[peer]["test_rmse"]
