"""cfutils.distributed against the single-machine package and slow, obviously right references.

Skipped, with one line, where PySpark is not installed (``make spark`` adds it; ``make test-spark``
runs these). Everything runs in one local Spark session on tiny frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ratings_factory import random_ratings

pytest.importorskip("pyspark", reason="pyspark is not installed; `make spark` adds it")
# PySpark 4.3 warns about pandas 3 on every conversion; it works (these tests are the proof).
pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

import cfutils.distributed as cs  # noqa: E402
import cfutils.distributed.read  # noqa: E402, F401
from cfutils.core.similarity import cosine_top_k  # noqa: E402
from cfutils.data.io import ratings_cache_path, read_ratings  # noqa: E402
from cfutils.data.split import hashed_split, make_split  # noqa: E402
from cfutils.distributed import session  # noqa: E402
from cfutils.eval.metrics import ranking_metrics, rmse  # noqa: E402
from cfutils.rating.models import BiasBaseline, GlobalMean, rating_scale  # noqa: E402


@pytest.fixture(scope="module")
def spark():
    session = cs.start_session("local[2]", driver_memory="1g", shuffle_partitions=4, app_name="cfutils-tests")
    yield session
    session.stop()


# --------------------------------------------------------------------------- data and positions


def test_with_row_position_numbers_rows_across_partitions(spark):
    frame = spark.range(0, 1_000, numPartitions=7)
    numbered = cs.with_row_position(frame).toPandas()
    assert (numbered["row"].to_numpy() == numbered["id"].to_numpy()).all()


def test_read_ratings_parquet_keeps_read_ratings_order_over_several_partitions(spark, tiny_data_dir, tmp_path):
    expected = read_ratings(tiny_data_dir, cache=True)
    small_groups = tmp_path / "ratings.parquet"
    pq.write_table(pq.read_table(ratings_cache_path(tiny_data_dir)), small_groups, row_group_size=500)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    try:
        frame = cs.read_ratings_parquet(spark, small_groups)
        assert frame.rdd.getNumPartitions() > 1
        assert cs.to_pandas(frame).equals(expected.rename_axis(None))
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")


def test_parquet_source_is_the_read_ratings_cache(tiny_data_dir):
    assert cs.parquet_source(tiny_data_dir) == str(ratings_cache_path(tiny_data_dir))
    assert ratings_cache_path(tiny_data_dir).exists()
    assert cs.parquet_source("s3a://bucket/ratings.parquet") == "s3a://bucket/ratings.parquet"


# --------------------------------------------------------------------------- splits


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**16),
    test_size=st.sampled_from([0.1, 0.2, 0.25, 0.37, 0.5]),
    n_days=st.sampled_from([1, 3, 50]),
    method=st.sampled_from(cs.SPARK_SPLIT_METHODS),
)
def test_spark_split_equals_cfutils_split_row_for_row(spark, seed, test_size, n_days, method):
    ratings = random_ratings(n_ratings=int(np.random.default_rng(seed).integers(1, 400)), seed=seed, n_days=n_days)
    mine = cs.spark_split(cs.from_pandas(spark, ratings), method, test_size, seed)
    assert cs.split_identical(mine, cs.single_machine_split(ratings, method, test_size, seed))


def test_spark_split_breaks_ties_on_identical_keys_by_position(spark):
    # Every row has the same date, user and movie: only the position orders them.
    ratings = pd.DataFrame(
        {
            "user_id": np.ones(10, np.int32),
            "movie_id": np.ones(10, np.int32),
            "rating": np.arange(10, dtype=np.float32) % 5 + 1,
            "date": np.full(10, np.datetime64("2005-01-01", "s")),
        }
    )
    for method in cs.SPARK_SPLIT_METHODS:
        mine = cs.spark_split(cs.from_pandas(spark, ratings), method, 0.3, 1)
        assert cs.split_identical(mine, cs.single_machine_split(ratings, method, 0.3, 1)), method


def test_split_identical_notices_a_different_row(spark):
    ratings = random_ratings(n_ratings=600, seed=3, n_days=20)
    mine = cs.spark_split(cs.from_pandas(spark, ratings), "global_time", 0.2)
    train, test = make_split(ratings, "global_time", test_size=0.2)
    assert not cs.split_identical(
        mine, (train, test.assign(rating=test["rating"].where(test.index != test.index[0], 9.0)))
    )


def test_spark_split_refuses_bad_input(spark):
    frame = cs.from_pandas(spark, random_ratings(n_ratings=20))
    with pytest.raises(ValueError, match="row"):
        cs.spark_split(frame.drop("row"), "global_time")
    with pytest.raises(ValueError, match="unknown split"):
        cs.spark_split(frame, "file_order")
    with pytest.raises(ValueError, match="test_size"):
        cs.spark_split(frame, "random", 1.0)


# --------------------------------------------------------------------------- ALS, predictions, tuning


def test_predict_ratings_clips_and_gives_unknown_pairs_the_mean(spark):
    train = random_ratings(n_ratings=600, seed=5)
    model = cs.fit_als(cs.from_pandas(spark, train), rank=4, maxIter=5)
    known_user, known_movie = int(train.user_id.iloc[0]), int(train.movie_id.iloc[0])
    pairs = pd.DataFrame(
        {
            "user_id": np.array([known_user, 999, known_user], np.int32),
            "movie_id": np.array([known_movie, known_movie, 999], np.int32),
            "rating": np.array([4, 3, 2], np.float32),
            "date": np.full(3, np.datetime64("2006-01-01", "s")),
        }
    )
    predicted = cs.predict_ratings(model, cs.from_pandas(spark, pairs), 3.25, (1.0, 5.0)).orderBy("row").toPandas()
    assert predicted["prediction"].iloc[1:].tolist() == [3.25, 3.25]
    assert 1.0 <= predicted["prediction"].iloc[0] <= 5.0
    assert cs.rmse(cs.predict_ratings(model, cs.from_pandas(spark, pairs), 3.25, (1.0, 5.0))) == pytest.approx(
        rmse(pairs["rating"], predicted["prediction"])
    )


def test_predict_in_row_order_equals_the_factors_row_by_row(spark):
    train = random_ratings(n_ratings=600, seed=6)
    model = cs.fit_als(cs.from_pandas(spark, train), rank=4, maxIter=5)
    pairs = random_ratings(45, 35, n_ratings=80, seed=7)  # users past the 40th and movies past the 25th: unknown
    frame = cs.from_pandas(spark, pairs).repartition(3)  # the rows leave their order
    got = cs.predict_in_row_order(model, frame, 3.25, (1.0, 5.0))
    users = {row.id: np.array(row.features) for row in model.userFactors.collect()}
    movies = {row.id: np.array(row.features) for row in model.itemFactors.collect()}
    expected = [
        float(np.clip(users[u] @ movies[m], 1.0, 5.0)) if u in users and m in movies else 3.25
        for u, m in zip(pairs["user_id"], pairs["movie_id"])
    ]
    assert 3.25 in expected and got.tolist() == pytest.approx(expected, abs=1e-5)


def test_grid_search_keeps_the_best_and_the_first_of_a_tie():
    grid = {"rank": [1, 2, 3], "regParam": [0.1, 0.2]}
    score = {(1, 0.1): 3.0, (1, 0.2): 1.0, (2, 0.1): 1.0, (2, 0.2): 2.0, (3, 0.1): 5.0, (3, 0.2): 0.5}
    fit = lambda rank, regParam: (rank, regParam)  # noqa: E731
    table, best = cs.grid_search(fit, score.get, grid)
    assert best == {"rank": 3, "regParam": 0.2} and len(table) == 6
    del score[(3, 0.2)], score[(3, 0.1)]
    _, best = cs.grid_search(fit, score.get, {"rank": [1, 2], "regParam": [0.1, 0.2]}, higher_is_better=False)
    assert best == {"rank": 1, "regParam": 0.2}
    _, best = cs.grid_search(fit, score.get, {"rank": [1, 2], "regParam": [0.1, 0.2]}, higher_is_better=True)
    assert best == {"rank": 1, "regParam": 0.1}


def test_grid_search_extends_a_setting_whose_best_is_an_end_of_its_grid():
    fit = lambda rank, regParam: (rank, regParam)  # noqa: E731
    score = lambda params: (np.log(params[1]) - np.log(0.9)) ** 2 + params[0] / 100  # best: rank 1, regParam 0.9  # noqa: E731
    table, best = cs.grid_search(fit, score, {"rank": [1, 2], "regParam": [0.1, 0.3]}, extend=["regParam"])
    assert best == {"rank": 1, "regParam": 0.9}
    assert table["regParam"].tolist() == [0.1, 0.3, 0.1, 0.3, 0.9, 2.7]  # 0.9 at the edge, so 2.7 was tried too
    _, best = cs.grid_search(
        fit, score, {"rank": [1, 2], "regParam": [0.1, 0.3]}, extend=["regParam"], max_extensions=0
    )
    assert best == {"rank": 1, "regParam": 0.3}
    table, _ = cs.grid_search(fit, score, {"rank": [1], "regParam": [0.9]}, extend=["regParam"])
    assert len(table) == 1  # a single value is not a grid to extend


# --------------------------------------------------------------------------- top-N lists


def reference_lists(scores: pd.DataFrame, train: pd.DataFrame, users, n: int) -> pd.DataFrame:
    """Slow and plain: per user, drop the movies rated in train, sort by (-score, movie_id), keep n."""
    rows = []
    for user in users:
        seen = set(train.loc[train.user_id == user, "movie_id"])
        mine = scores[(scores.user_id == user) & ~scores.movie_id.isin(seen)]
        mine = mine.sort_values(["score", "movie_id"], ascending=[False, True]).head(n)
        rows += [
            {"user_id": user, "rank": r + 1, "movie_id": m, "score": s}
            for r, (m, s) in enumerate(zip(mine.movie_id, mine.score))
        ]
    return pd.DataFrame(rows).astype({"user_id": np.int64, "rank": np.int64, "movie_id": np.int64, "score": np.float64})


def popularity_scores(train: pd.DataFrame, users) -> pd.DataFrame:
    counts = train.movie_id.value_counts()
    return pd.DataFrame([{"user_id": u, "movie_id": m, "score": float(c)} for u in users for m, c in counts.items()])


@pytest.mark.parametrize("seed", [0, 1])
def test_popular_top_n_equals_the_reference(spark, seed):
    train = random_ratings(30, 40, n_ratings=500, seed=seed)
    users = np.array([*np.unique(train.user_id)[::3], 9_999])  # 9_999 rated nothing
    frame = spark.createDataFrame(pd.DataFrame({"user_id": users.astype(np.int32)}))
    got = cs.collect_lists(cs.popular_top_n(cs.from_pandas(spark, train), frame, 7))
    expected = reference_lists(popularity_scores(train, users), train, users, 7)
    pd.testing.assert_frame_equal(got, expected.sort_values(["user_id", "rank"], ignore_index=True))


def test_als_top_n_equals_scoring_every_movie_with_the_factors(spark):
    train = random_ratings(40, 60, n_ratings=700, seed=2)
    model = cs.fit_als(cs.from_pandas(spark, train), rank=5, maxIter=5, implicit=True, alpha=5.0)
    users = np.array([*np.unique(train.user_id)[::2], 9_999])
    frame = spark.createDataFrame(pd.DataFrame({"user_id": users.astype(np.int32)}))
    got = cs.collect_lists(cs.als_top_n(model, cs.from_pandas(spark, train), frame, 8))

    p = model.userFactors.toPandas().set_index("id")["features"]
    q = model.itemFactors.toPandas().set_index("id")["features"]
    warm = [u for u in users if u in p.index]
    scores = pd.DataFrame(
        [{"user_id": u, "movie_id": m, "score": float(np.dot(p[u], q[m]))} for u in warm for m in q.index]
    )
    expected = pd.concat(
        [
            reference_lists(scores, train, warm, 8),
            reference_lists(popularity_scores(train, [9_999]), train, [9_999], 8),
        ],
        ignore_index=True,
    )
    expected = expected.sort_values(["user_id", "rank"], ignore_index=True)
    assert got[["user_id", "rank"]].equals(expected[["user_id", "rank"]])
    np.testing.assert_allclose(got["score"], expected["score"], rtol=1e-5, atol=1e-6)
    # Movies agree wherever the reference's scores are not within float32 rounding of a neighbour.
    gaps = expected.groupby("user_id")["score"].transform(
        lambda s: np.minimum(s.diff().abs().fillna(1), s.diff(-1).abs().fillna(1))
    )
    clear = gaps.to_numpy() > 1e-4
    assert clear.mean() > 0.9 and (got["movie_id"].to_numpy()[clear] == expected["movie_id"].to_numpy()[clear]).all()


# --------------------------------------------------------------------------- session and job accounting


def test_stage_timings_lists_the_stages_of_a_job_group(spark):
    spark.sparkContext.setJobGroup("counted", "a test job")
    spark.range(0, 10_000, numPartitions=3).selectExpr("id % 7 AS k").groupBy("k").count().collect()
    spark.sparkContext.setJobGroup("other", "")
    stages = cs.stage_timings(spark, "counted")
    assert len(stages) >= 1 and stages["tasks"].sum() >= 3 and (stages["seconds"] >= 0).all()
    assert cs.stage_timings(spark, "no such group").empty


def test_start_session_without_java_names_the_package(monkeypatch):
    monkeypatch.setattr(session.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(RuntimeError, match=cs.JAVA_PACKAGE):
        cs.start_session()


# --------------------------------------------------------------------------- text files parsed by Spark


def test_read_text_ratings_equals_read_ratings_on_netflix_files(spark, tiny_data_dir):
    expected = read_ratings(tiny_data_dir).reset_index(drop=True)
    got = cs.to_pandas(cs.read_source(spark, str(tiny_data_dir))).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


@pytest.fixture
def small_splits(spark):
    """Text files cut into splits of 2 kB: most splits start in the middle of a movie and of a line."""
    spark.conf.set("spark.sql.files.maxPartitionBytes", "2048")
    yield
    spark.conf.unset("spark.sql.files.maxPartitionBytes")


def test_read_text_ratings_carries_the_movie_header_across_splits(spark, tiny_data_dir, small_splits):
    lines = cs.read.text_lines(spark, sorted(tiny_data_dir.glob("combined_data_*.txt"))[0])
    assert lines.select("start").distinct().count() > 10
    expected = read_ratings(tiny_data_dir).reset_index(drop=True)
    got = cs.to_pandas(cs.read_source(spark, str(tiny_data_dir))).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize(
    "name, separator, header",
    [("u.data", "\t", None), ("ratings.csv", ",", "userId,movieId,rating,timestamp"), ("ratings.dat", "::", None)],
)
def test_read_text_ratings_equals_read_ratings_on_movielens_files(spark, tmp_path, name, separator, header):
    ratings = random_ratings(n_ratings=200, seed=8, half_stars=name != "u.data")
    seconds = ratings["date"].to_numpy().astype("datetime64[s]").astype(np.int64) + 3_600 * np.arange(len(ratings))
    rows = [
        separator.join([str(u), str(m), f"{r:g}", str(t)])
        for u, m, r, t in zip(ratings.user_id, ratings.movie_id, ratings.rating, seconds)
    ]
    (tmp_path / name).write_text("\n".join(([header] if header else []) + rows) + "\n")
    expected = read_ratings(tmp_path / name).reset_index(drop=True)
    got = cs.to_pandas(cs.read_source(spark, str(tmp_path / name))).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("line", [3, 700])  # in the first split, and in a later one
def test_a_bad_line_names_file_line_and_text(spark, tmp_path, small_splits, line):
    bad = tmp_path / "combined_data_1.txt"
    rows = [f"{user},3,2005-09-06" for user in range(1, 1000)]
    rows[line - 2] = "7,x,2005-09-06"
    bad.write_text("\n".join(["1:", *rows]) + "\n")
    expected = f"DataFormatError: {bad}, line {line}: expected user_id,rating,YYYY-MM-DD: '7,x,2005-09-06'"
    with pytest.raises(Exception, match=expected):
        cs.read_source(spark, str(bad)).count()


# --------------------------------------------------------------------------- models and metrics against cfutils


def test_global_mean_and_bias_baseline_equal_cfutils(spark):
    train, test = make_split(random_ratings(60, 40, n_ratings=1_200, seed=11), "random", test_size=0.25)
    frame = cs.from_pandas(spark, train)
    summary = cs.train_summary(frame)
    assert summary["mean"] == pytest.approx(GlobalMean().fit(train).mean_) and summary["scale"] == rating_scale(train)
    biases = cs.bias_baseline(frame, summary["mean"])
    got = cs.predict_baseline(cs.from_pandas(spark, test), summary["mean"], biases, summary["scale"])
    got = got.orderBy("row").toPandas()["prediction"].to_numpy()
    np.testing.assert_allclose(got, BiasBaseline().fit(train).predict(test), rtol=1e-9)
    assert cs.rmse(cs.predict_mean(cs.from_pandas(spark, test), summary["mean"])) == pytest.approx(
        rmse(test.rating, GlobalMean().fit(train).predict(test))
    )


def test_ranking_metrics_equal_cfutils_metrics(spark):
    rng = np.random.default_rng(12)
    test = random_ratings(30, 40, n_ratings=400, seed=12)
    test = pd.concat([test, test.iloc[:20]], ignore_index=True)  # repeated pairs count twice in |T_u|
    users = np.unique(test.user_id)[::2]  # the others have no list and score 0
    lists = pd.DataFrame(
        [
            {"user_id": u, "rank": r + 1, "movie_id": m}
            for u in users
            for r, m in enumerate(rng.choice(test.movie_id.unique(), 12, replace=False))
        ]
    )
    got = cs.ranking_metrics(spark.createDataFrame(lists), cs.from_pandas(spark, test), 10)
    expected = ranking_metrics(lists, test)
    assert got == {k: pytest.approx(expected[k]) for k in ("ndcg@10", "precision@10", "n_users")}


def test_item_neighbours_equal_cosine_top_k(spark):
    train = random_ratings(50, 30, n_ratings=600, seed=13)
    got = cs.item_neighbours(cs.from_pandas(spark, train), k=5).orderBy("movie_id", "rank").toPandas()
    movies, rows = np.unique(train.movie_id, return_inverse=True)
    users, columns = np.unique(train.user_id, return_inverse=True)
    X = sp.csr_matrix((train.rating.astype(np.float64), (rows, columns)), shape=(movies.size, users.size))
    top = cosine_top_k(X, 5).tocoo()
    expected = pd.DataFrame({"movie_id": movies[top.row], "neighbour_id": movies[top.col], "similarity": top.data})
    expected = expected.sort_values(
        ["movie_id", "similarity", "neighbour_id"], ascending=[True, False, True], ignore_index=True
    )
    assert got["movie_id"].tolist() == expected["movie_id"].tolist()
    np.testing.assert_allclose(got["similarity"], expected["similarity"], rtol=1e-5)
    assert (got["neighbour_id"].to_numpy() == expected["neighbour_id"].to_numpy()).mean() > 0.95  # float32 ties aside


# --------------------------------------------------------------------------- the job and its guard


def test_collect_guard_fails_above_its_bound_and_restores(spark):
    frame = spark.range(0, 50)
    with cs.CollectGuard(20) as guard:
        assert len(frame.limit(20).collect()) == 20 and frame.count() == 50
        with pytest.raises(cs.CollectTooLarge, match="50 rows"):
            frame.toPandas()
        with pytest.raises(cs.CollectTooLarge):
            frame.rdd.collect()
    assert guard.largest == 50 and len(frame.collect()) == 50


def test_run_job_outputs_check_out_against_cfutils(spark, tiny_data_dir, tmp_path):
    with cs.CollectGuard() as guard:
        got = cs.run_job(spark, str(tiny_data_dir), tmp_path, split="random", seed=3, max_iter=3, rank=4, top_k=5)
    assert guard.largest <= cs.MAX_COLLECTED_ROWS
    ratings = read_ratings(tiny_data_dir)
    train, test = hashed_split(ratings, 0.2, 3)
    assert got["n_ratings"] == len(ratings) and got["split"] == {"train": len(train), "test": len(test)}
    assert got["global_mean_rmse"] == pytest.approx(rmse(test.rating, GlobalMean().fit(train).predict(test)))
    assert got["baseline_rmse"] == pytest.approx(rmse(test.rating, BiasBaseline().fit(train).predict(test)))
    users = np.unique(test.user_id)
    popular = reference_lists(popularity_scores(train, users), train, users, 10)
    assert got["popular_ndcg@10"] == pytest.approx(ranking_metrics(popular, test)["ndcg@10"])
    written = pd.read_parquet(tmp_path / "lists" / "popular.parquet").sort_values(
        ["user_id", "rank"], ignore_index=True
    )
    pd.testing.assert_frame_equal(written.astype(popular.dtypes), popular)
    als = pd.read_parquet(tmp_path / "lists" / "als.parquet")
    assert ranking_metrics(als, test)["ndcg@10"] == pytest.approx(got["ndcg@10"]) and 0 < got["als_rmse"] < 2
    assert len(pd.read_parquet(tmp_path / "item_neighbours.parquet")) > 0


def test_the_job_broadcasts_only_the_tables_it_marks(monkeypatch):
    """Spark's automatic broadcast builds the table on the driver: at 20M ratings that broke a 512 MB driver."""
    from cfutils.distributed import job

    seen = {}

    def fake_session(master, driver_memory, shuffle_partitions, app_name, conf):
        seen.update(conf)
        raise SystemExit("stop before Spark starts")

    monkeypatch.setattr(job, "start_session", fake_session)
    with pytest.raises(SystemExit, match="stop before Spark starts"):
        job.main(["--data", "x", "--output-dir", "y", "--executor-memory", "1g"])
    assert seen["spark.sql.autoBroadcastJoinThreshold"] == "-1"
    assert seen["spark.sql.adaptive.autoBroadcastJoinThreshold"] == "-1"
    assert seen["spark.executor.memory"] == "1g"
