"""Every notebook, executed on the tiny data set, records what cfutils computes directly.

The notebooks run once per session (``pipeline_run`` in conftest.py); each test here reads one
notebook's records and recomputes them from the same files: with ``cfutils`` where the notebook
uses it, and with a plain numpy/pandas reference where the value is simple enough. Each notebook
has its own ``test_<notebook stem>`` function; ``test_every_notebook_has_its_own_test`` keeps it so.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import NOTEBOOKS_DIR, run_pipeline

from cfutils.core.matrix import RatingMatrix
from cfutils.core.similarity import cosine_top_k, neighbour_recall, pick_movie, similar_movies, svd_cosine_top_k
from cfutils.data import synth
from cfutils.data.dataset import load_dataset
from cfutils.data.split import HELD_OUT_SPLITS, SPLIT_METHODS, file_order_split, make_split, sample_ratings
from cfutils.data.synth import Truth
from cfutils.eval import as_padded_array, beyond_accuracy, list_means, snips_mean
from cfutils.eval.metrics import item_popularity, list_report, mape, rmse, warm_cold_errors
from cfutils.eval.stats import cold_start_report, sparsity, split_summary
from cfutils.lists import PopularRecommender, RandomRecommender, feedback_loop
from cfutils.present import pipeline
from cfutils.rating.features import feature_names, similarity_features
from cfutils.rating.models import SVD, BiasBaseline, GlobalMean, is_cold

pytestmark = pytest.mark.notebook

TEST_SIZE = 0.2  # the notebooks' default
#: The measures notebook 08 records for each recommender's lists.
BEYOND = ("novelty", "intra_list_diversity", "long_tail_share", "gini", "coverage")


@pytest.fixture(scope="module")
def ratings(tiny_data_dir) -> pd.DataFrame:
    return load_dataset(str(tiny_data_dir), cache=False).ratings


def _by_split(rows: list[dict]) -> dict[str, dict]:
    return {row.pop("split"): row for row in rows}


def _approx_row(report: dict) -> dict:
    return {key: pytest.approx(value) for key, value in report.items()}


def test_every_notebook_has_its_own_test():
    missing = [p.stem for p in pipeline.discover_notebooks(NOTEBOOKS_DIR) if f"test_{p.stem}" not in globals()]
    assert not missing, f"add a test_<stem> function asserting the records of: {', '.join(missing)}"


def test_01_eda(pipeline_run, ratings, tiny_data_dir):
    got = pipeline_run.records("01_eda")
    n = len(ratings)
    # The generator's own specification, independent of the reader.
    assert (got["n_ratings"], got["n_users"], got["n_movies"]) == (
        synth.TINY.n_ratings,
        synth.TINY.n_users,
        synth.TINY.n_movies,
    )
    assert got["n_titles"] == synth.TINY.n_movies
    assert got["duplicates_dropped"] == ratings.attrs["read_report"]["duplicates_dropped"] > 0
    assert got["duplicate_pairs_left"] == 0
    assert got["first_date"] == ratings["date"].min().isoformat()
    assert got["last_date"] == ratings["date"].max().isoformat()
    assert got["frame_bytes"] == ratings.memory_usage(deep=True).sum()
    assert got["mean_rating"] == pytest.approx(ratings["rating"].to_numpy(np.float64).mean())

    stars, counts = np.unique(ratings["rating"].to_numpy(), return_counts=True)
    assert got["rating_counts"] == {f"{s:g}": int(c) for s, c in zip(stars, counts)}

    for who in ("user", "movie"):
        per = np.unique(ratings[f"{who}_id"].to_numpy(), return_counts=True)[1]
        quantiles = got[f"ratings_per_{who}_quantiles"]
        assert [float(q) for q in quantiles] == [0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]
        assert list(quantiles.values()) == pytest.approx(np.quantile(per, [float(q) for q in quantiles]).tolist())

    days = ratings["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    weekday = np.bincount((days + 3) % 7, minlength=7)  # 1970-01-01 was a Thursday: Monday = 0
    names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    assert got["ratings_per_weekday"] == dict(zip(names, weekday.tolist()))

    movie_ids, movie_counts = np.unique(ratings["movie_id"].to_numpy(), return_counts=True)
    ranked = sorted(zip(-movie_counts, movie_ids))[:10]  # most ratings first, ties to the smaller id
    assert got["top_movies"] == [int(movie) for _, movie in ranked]

    splits = _by_split(got["split_comparison"])
    file_order, by_time = splits["tutorial: file order"], splits["this project: global_time"]
    assert file_order == _approx_row(split_summary(*file_order_split(ratings, TEST_SIZE)))
    assert by_time == _approx_row(split_summary(*make_split(ratings, "global_time", test_size=TEST_SIZE, seed=0)))
    assert file_order["test ratings"] == by_time["test ratings"] == round(TEST_SIZE * n)
    # The point of the comparison: on Netflix-format files the file-order split is by movie and overlaps in
    # time; the time split is neither.
    assert file_order["test movies never seen in train (%)"] > 50 > by_time["test movies never seen in train (%)"]
    assert file_order["test ratings older than the newest train rating (%)"] > 50
    assert by_time["test ratings older than the newest train rating (%)"] == 0.0


def test_02_sparsity_cold_start(pipeline_run, ratings):
    got = pipeline_run.records("02_sparsity_cold_start")
    assert got["test_size"] == TEST_SIZE
    train, test = make_split(ratings, "global_time", test_size=TEST_SIZE, seed=0)
    matrix = RatingMatrix.from_ratings(train)
    n_users, n_movies = train["user_id"].nunique(), train["movie_id"].nunique()
    assert (got["n_train_ratings"], got["n_train_users"], got["n_train_movies"]) == (len(train), n_users, n_movies)
    assert got["sparsity"] == sparsity(matrix) == pytest.approx(1 - len(train) / (n_users * n_movies))
    assert got["csr_bytes"] == matrix.memory_bytes()
    assert got["dense_float32_bytes"] == 4 * n_users * n_movies
    assert got["raw_id_rows"] == train["user_id"].max() + 1
    assert got["global_mean"] == pytest.approx(train["rating"].to_numpy(np.float64).mean())
    for who in ("user", "movie"):
        means = train.groupby(f"{who}_id")["rating"].mean()
        summary = got[f"{who}_mean_summary"]
        assert summary["count"] == len(means)
        assert (summary["mean"], summary["min"], summary["max"]) == pytest.approx(
            (means.mean(), means.min(), means.max())
        )

    cold = _by_split(got["cold_start"])
    assert "probe" not in cold  # the tiny data has no probe.txt; test_notebooks_probe.py runs with one
    for method in (method for method in SPLIT_METHODS if method not in HELD_OUT_SPLITS):
        assert cold[method] == _approx_row(cold_start_report(*make_split(ratings, method, test_size=TEST_SIZE, seed=0)))
    assert cold["per_user_time"]["new_users"] == 0
    assert cold["tutorial: file order"] == _approx_row(cold_start_report(*file_order_split(ratings, TEST_SIZE)))

    fraction = 0.5  # SAMPLE_FRACTION: independent samples of train and test, as in the case study

    def sample(frame, seed):
        return sample_ratings(
            frame, int(fraction * frame["user_id"].nunique()), int(fraction * frame["movie_id"].nunique()), seed
        )

    independent = cold_start_report(sample(train, 0), sample(test, 1))
    assert cold["tutorial: independent samples"] == _approx_row(independent)
    sample_first = cold_start_report(*make_split(sample(ratings, 0), "global_time", test_size=TEST_SIZE, seed=0))
    assert cold["sample first, then global_time"] == _approx_row(sample_first)
    assert independent["ratings_cold_pct"] > sample_first["ratings_cold_pct"]


def test_03_similarity(pipeline_run, ratings, tiny_data_dir):
    got = pipeline_run.records("03_similarity")
    train, _ = make_split(ratings, "global_time", test_size=TEST_SIZE, seed=0)
    matrix = RatingMatrix.from_ratings(train)
    assert (got["n_users"], got["n_movies"], got["top_k"]) == (matrix.n_users, matrix.n_movies, 50)
    user_top_k = cosine_top_k(matrix.csr, 50)
    movie_top_k = cosine_top_k(matrix.csc.T, 50)
    assert got["mean_neighbours_per_user"] == pytest.approx(user_top_k.getnnz(axis=1).mean(), abs=1e-4)
    assert got["mean_neighbours_per_movie"] == pytest.approx(movie_top_k.getnnz(axis=1).mean(), abs=1e-4)
    assert 0 < got["mean_neighbours_per_movie"] <= min(50, matrix.n_movies - 1)
    assert got["median_kept_cosine"] == pytest.approx(
        {"user": np.median(user_top_k.data), "movie": np.median(movie_top_k.data)}, abs=1e-4
    )

    titles = load_dataset(str(tiny_data_dir), cache=False).titles
    most_rated = pick_movie(matrix, titles)  # MOVIE_TITLE = None
    assert matrix.movie_counts[matrix.movie_index([most_rated])[0]] == matrix.movie_counts.max()
    expected = similar_movies(matrix, most_rated, k=10, titles=titles, top_k=movie_top_k)
    assert got["similar_movies_title"] == titles.loc[most_rated, "title"]
    assert [row["movie_id"] for row in got["similar_movies"]] == expected["movie_id"].tolist()
    similarities = [row["similarity"] for row in got["similar_movies"]]
    assert similarities == pytest.approx(expected["similarity"].round(4).tolist())
    assert all(0 < s <= 1 for s in similarities) and similarities == sorted(similarities, reverse=True)
    assert most_rated not in [row["movie_id"] for row in got["similar_movies"]]

    for rank, recall in got["svd_user_recall_at_k"].items():
        approx = svd_cosine_top_k(matrix.csr, 50, n_components=int(rank), seed=0)
        assert recall == pytest.approx(neighbour_recall(user_top_k, approx), abs=1e-4)
    for figure in ("03_similarity_distribution.png", "03_similarity_heatmap.png"):
        assert (pipeline_run.output_dir / "figures" / figure).stat().st_size > 0


def test_04_features_xgboost(pipeline_run, ratings):
    got = pipeline_run.records("04_features_xgboost")
    train, test = make_split(ratings, "global_time", test_size=TEST_SIZE, seed=0)
    warm = ~is_cold(train, test)
    assert got["n_ratings"] == {
        "sample": len(ratings),
        "train": len(train),
        "test": len(test),
        "test_warm": int(warm.sum()),
        "test_cold": int((~warm).sum()),
    }

    features = similarity_features(train, test)
    assert got["feature_means_test"] == pytest.approx(features.mean().round(4).to_dict(), abs=1e-4)
    assert got["leakage_demo"]["features_unchanged_when_test_ratings_change"] is True
    # Features from the test matrix (the tutorial's leak) fit the test ratings better than honest ones.
    assert got["leakage_demo"]["rmse_UAvg_from_test_matrix"] < got["leakage_demo"]["rmse_UAvg_from_train"]

    errors = pd.DataFrame(got["test_errors"])
    assert list(errors["model"].unique()) == ["xgboost", "global mean", "UAvg", "MAvg", "bias baseline"]
    for model, rows in errors.groupby("model"):
        by_part = rows.set_index("rows")["n"]
        assert by_part["all"] == len(test) == by_part.get("warm", 0) + by_part.get("cold", 0), model
    # The rows of the simple predictors, recomputed from the features (the global mean by hand) with cfutils.
    global_mean = train["rating"].to_numpy(np.float64).mean()
    simple = {"global mean": np.full(len(test), global_mean), "UAvg": features["UAvg"], "MAvg": features["MAvg"]}
    expected = warm_cold_errors(test["rating"], simple, ~warm).to_dict("records")
    assert errors[errors["model"].isin(list(simple))].to_dict("records") == [
        {**row, "rmse": pytest.approx(row["rmse"], abs=1e-5), "mape": pytest.approx(row["mape"], abs=1e-4)}
        for row in expected
    ]

    gain = got["feature_importance_gain"]
    assert sorted(gain) == sorted(feature_names()) and all(value >= 0 for value in gain.values())


def test_06_recommendations(pipeline_run, ratings, tiny_data_dir):
    got = pipeline_run.records("06_recommendations")
    rows = {row["model"]: row for row in got["ranking"]}
    assert {"ndcg@10", "precision@10", "recall@10", "map@10", "coverage"} <= set(next(iter(rows.values())))
    for peer in ("EASE", "ALS", "BPR", "popular", "random", "re-ranker"):
        assert any(peer in model for model in rows), peer
    # Recompute the two baselines straight from cfutils on the same data and split (the pipeline's global_time).
    train, test = make_split(ratings, "global_time", TEST_SIZE, seed=0)
    users = np.unique(test["user_id"])
    random_name = next(model for model in rows if "random" in model)
    assert "new users: most popular" in random_name
    baselines = (
        ("most popular", PopularRecommender(fallback_days=30)),
        (random_name, RandomRecommender(seed=0, fallback_days=30)),
    )
    for name, recommender in baselines:
        expected = list_report(recommender.fit(train).top_n_batch(users, 20), test, item_popularity(train), (10,))
        assert rows[name]["ndcg@10"] == pytest.approx(expected["ndcg@10"])
        assert rows[name]["coverage"] == pytest.approx(expected["coverage"])
    # The best recommender is chosen on validation by the one-standard-error rule, whatever test says: the simplest
    # whose paired gap to the best validation NDCG is within one standard error.
    validation, choice = got["validation_ndcg"], got["validation_choice"]
    assert set(validation) == set(rows) == set(choice["simplest_first"])
    top = max(validation, key=lambda name: validation[name])
    assert got["best_on_validation"] == top and choice["within_one_se"][top]
    assert got["best_recommender"] == next(m for m in choice["simplest_first"] if choice["within_one_se"][m])
    ease = next(model for model in rows if model.startswith("EASE (λ="))
    assert got["ndcg_gain_over_ease"] == pytest.approx(
        rows[got["best_recommender"]]["ndcg@10"] / rows[ease]["ndcg@10"] - 1
    )
    by_users = pd.DataFrame(got["ranking_by_users"]).pivot(index="model", columns="users", values="n_users")
    new_users = np.setdiff1d(users, train["user_id"])
    relevant = test[test["rating"] >= 4]
    assert (
        by_users["new"] == relevant["user_id"].isin(new_users).pipe(lambda s: relevant["user_id"][s].nunique())
    ).all()
    new_ndcg = pd.DataFrame(got["ranking_by_users"]).query("users == 'new'")["ndcg@10"].dropna()
    assert new_ndcg.nunique() <= 1, "every recommender serves new users the same fallback"
    assert 0 <= got["candidate_recall"]["candidate_recall"] <= 1
    assert {row["model"] for row in got["leakage"]} == {"most popular, last 30 days", "re-ranker (XGBRanker)"}
    new_user = got["example_users"]["new"]
    assert new_user["train_ratings"] == 0
    assert got["example_lists"]["new"] == list(
        PopularRecommender(window_days=30).fit(train).top_n(new_user["user_id"], 10)["movie_id"]
    )
    # Explanations: one entry per listed movie, citing only movies the user rated 4★ or more in train, by title.
    titles = load_dataset(str(tiny_data_dir), cache=False).titles
    stars = train.set_index(["user_id", "movie_id"])["rating"]
    listed = {(kind, user["user_id"]): got["example_lists"][kind] for kind, user in got["example_users"].items()}
    assert [(row["user_id"], row["movie_id"]) for row in got["explanations"]] == [
        (user, movie) for (_, user), movies in listed.items() for movie in movies
    ]
    for row in got["explanations"]:
        for cause in row["because"]:
            assert cause["rating"] == stars[(row["user_id"], cause["movie_id"])] >= 4
            assert cause["title"] == titles.loc[cause["movie_id"], "title"]


def test_05_model_comparison(pipeline_run, ratings):
    got = pipeline_run.records("05_model_comparison")
    timings = pipeline_run.records("05_model_comparison", volatile=True)
    train, test = make_split(ratings, "global_time", test_size=TEST_SIZE, seed=0)
    cold = is_cold(train, test)
    assert got["n_ratings"] == {"train": len(train), "test": len(test), "test_cold": int(cold.sum())}
    results = {row.pop("model"): row for row in got["results"]}
    assert list(results) == [
        "global_mean",
        "baseline",
        "knn_users",
        "knn_items",
        "svd",
        "svdpp",
        "bayes_fm",
        "xgb_features",
        "xgb_stack",
        "xgb_stack_in_sample",
    ]
    columns = {"test_rmse", "test_mape", "warm_rmse", "cold_rmse", "test_rmse_ci95"}
    assert all(set(row) == columns for row in results.values())
    assert set(timings["fit_seconds"]) == set(results)  # timings recorded apart, never in metrics.json
    best = {name: tuning["best_params"] for name, tuning in got["tuning"].items()}
    for name, model in (
        ("global_mean", GlobalMean()),
        ("baseline", BiasBaseline(**best["baseline"])),
        ("svd", SVD(random_state=0, **best["svd"])),
    ):
        predicted = model.fit(train).predict(test)
        assert results[name]["test_rmse"] == pytest.approx(rmse(test.rating, predicted))
        assert results[name]["test_mape"] == pytest.approx(mape(test.rating, predicted))
        assert results[name]["warm_rmse"] == pytest.approx(rmse(test.rating[~cold], predicted[~cold]))
    singles = {name: row["test_rmse"] for name, row in results.items() if "stack" not in name}
    assert got["stack_gain"]["best_single_model"] == min(singles, key=singles.get)
    assert got["stack_gain"]["gain"] == pytest.approx(min(singles.values()) - results["xgb_stack"]["test_rmse"])
    warm = [row["warm_rmse"] for name, row in results.items() if "stack" not in name]
    assert got["stack_gain"]["warm_gain"] == pytest.approx(min(warm) - results["xgb_stack"]["warm_rmse"])
    assert got["skipped"] == {} and got["stack_folds"] == ["random", "global_time"]
    assert got["stack_margin"] == min(got["tuning"], key=lambda name: got["tuning"][name]["val_rmse"])
    honesty = got["train_vs_test_rmse"]
    assert honesty["knn_users"]["train_rmse_in_sample"] < honesty["knn_users"]["train_rmse_out_of_fold"]


def test_07_spark_als(pipeline_run):
    # Executed only where pyspark is installed; tests/test_spark_notebook.py recomputes its records.
    notebook = NOTEBOOKS_DIR / "07_spark_als.ipynb"
    missing = pipeline.missing_requirements(notebook)
    metrics = json.loads((pipeline_run.output_dir / "metrics.json").read_text())
    if missing:
        assert missing == ["pyspark"]
        assert metrics["07_spark_als"] == {"skipped": pipeline.skip_reason(missing)}
        return
    got = pipeline_run.records("07_spark_als")
    assert got["split_identical"] is True
    assert "ALS (explicit)" in [row["model"] for row in got["results"]]
    assert "ALS (implicit)" in [row["model"] for row in got["ranking"]]


def test_08_beyond_accuracy(pipeline_run, ratings, tiny_data_dir):
    got = pipeline_run.records("08_beyond_accuracy")
    train, test = make_split(ratings, "global_time", TEST_SIZE, seed=0)
    users = np.unique(train["user_id"])  # MAX_USERS = 5000 exceeds the tiny data's users: every train user
    truth = Truth.of(tiny_data_dir)  # the tiny data were generated: every section runs

    rows = {row["model"]: row for row in got["beyond_accuracy"]}
    assert all(set(row) == {"model", *BEYOND} for row in rows.values())
    assert {"most popular", "random"} <= set(rows) and any(model.startswith("EASE") for model in rows)
    for name, recommender in (
        ("most popular", PopularRecommender(fallback_days=30)),
        ("random", RandomRecommender(0, 30)),
    ):
        padded = as_padded_array(recommender.fit(train).top_n_batch(users, 10), 10)[1]
        expected = beyond_accuracy(padded, train, head_fraction=0.2)
        assert {key: rows[name][key] for key in BEYOND} == pytest.approx(expected)
    assert rows["random"]["coverage"] > rows["most popular"]["coverage"]
    assert rows["random"]["gini"] < rows["most popular"]["gini"]

    loop = pd.DataFrame(got["feedback_loop"])
    assert {"round", "model", "gini", "coverage", "ndcg@10"} <= set(loop.columns)
    assert loop.groupby("model")["round"].apply(list).map(lambda rounds: rounds == [0, 1, 2, 3]).all()
    popular = feedback_loop(lambda: PopularRecommender(fallback_days=30), train, test, users, truth, 3, 10, 0)
    recorded = loop[loop["model"] == "most popular"].drop(columns="model").reset_index(drop=True)
    pd.testing.assert_frame_equal(recorded[popular.columns], popular, check_dtype=False)
    assert any(model.startswith("EASE") for model in loop["model"])

    mnar, observed = got["mnar"], ratings["rating"].to_numpy(np.float64)
    assert mnar["means"]["observed"] == pytest.approx(observed.mean())
    assert mnar["means"]["truth, all pairs"] == pytest.approx(truth.mean_expected_by_movie().mean())
    assert mnar["means"]["observed"] > mnar["means"]["truth, all pairs"]  # users rate what they expect to like
    pi = truth.propensity(ratings["user_id"], ratings["movie_id"])
    assert mnar["means"]["SNIPS, true π"] == pytest.approx(snips_mean(observed, pi))
    baseline = BiasBaseline().fit(train)
    assert mnar["rmse"]["observed test"] == pytest.approx(rmse(test["rating"], baseline.predict(test)))

    online = pd.DataFrame(got["online_vs_offline"]["models"]).set_index("model")
    popular_lists = as_padded_array(PopularRecommender(fallback_days=30).fit(train).top_n_batch(users, 10), 10)[1]
    like = np.nanmean(list_means(users, popular_lists, truth.like_probability))
    assert online.loc["most popular", "like_rate"] == pytest.approx(like)
    assert online["online_rank"].tolist() == online["like_rate"].rank(ascending=False).tolist()
    duels = pd.DataFrame(got["online_vs_offline"]["interleaving"])
    assert len(duels) == len(rows) - 1
    assert duels[["wins", "losses", "ties"]].sum(axis=1).to_numpy() == pytest.approx(np.ones(len(duels)))

    low = got["explicit_vs_implicit"]["low_star_share"]
    assert low == pytest.approx((train["rating"] <= 2).mean())
    assert set(got["adequacy"]) == {"ok", "warnings"} and got["adequacy"]["ok"] == (not got["adequacy"]["warnings"])


@pytest.mark.slow
def test_08_skips_the_truth_sections_on_data_without_a_truth(tiny_data_dir, tmp_path):
    real = tmp_path / "no_truth"
    real.mkdir()
    for path in tiny_data_dir.glob("*.*"):  # every file but the generator's marker
        if path.name != synth.MARKER_NAME:
            (real / path.name).write_bytes(path.read_bytes())
    run = run_pipeline("--only", "08", data=real, output_dir=tmp_path / "run")
    got = run.records("08_beyond_accuracy")
    for name in ("mnar", "online_vs_offline"):
        assert got[name]["skipped"] is True and "no known truth" in got[name]["reason"]
    assert {row["model"] for row in got["feedback_loop"]} >= {"most popular"}
    assert got["adequacy"]["ok"] is False and any("no known truth" in w for w in got["adequacy"]["warnings"])
