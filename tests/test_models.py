"""Models and Surprise adapters: the batch predictions equal Surprise's own ``algo.predict``.

Surprise's per-pair ``predict`` (raw ids -> inner ids -> ``estimate`` -> clip) is the slow,
obviously right reference for every vectorised route in :mod:`cfutils.rating.models`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import surprise
from hypothesis import given, reject, settings
from ratings_factory import random_ratings, ratings_frame, ratings_frames

from cfutils.core.memory import MemoryBudgetError
from cfutils.core.train_data import TrainData
from cfutils.data import split
from cfutils.data.split import per_user_temporal_split, temporal_split
from cfutils.rating import models, surprise_batch, tuning

TOLERANCE = 1e-9
UNKNOWN = 10**6  # a raw id that no frame here uses


def with_unknowns(train: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` plus an unknown user on a known movie, a known user on an unknown movie, and both unknown."""
    user, movie = int(train["user_id"].iloc[0]), int(train["movie_id"].iloc[0])
    extra = pd.DataFrame({"user_id": [UNKNOWN, user, UNKNOWN], "movie_id": [movie, UNKNOWN, UNKNOWN]}, dtype=np.int32)
    return pd.concat([pairs[["user_id", "movie_id"]], extra], ignore_index=True)


def surprise_reference(algo: surprise.AlgoBase, pairs: pd.DataFrame) -> np.ndarray:
    return np.array([algo.predict(u, i).est for u, i in zip(pairs["user_id"], pairs["movie_id"])])


@pytest.fixture(scope="module")
def data():
    ratings = random_ratings(n_ratings=500, n_days=400)
    train, test = temporal_split(ratings, test_size=0.25)
    return train, with_unknowns(train, pd.concat([test, train.head(60)]))


def test_rating_scale_follows_the_stars():
    assert models.rating_scale(random_ratings(n_ratings=500, n_days=400)) == (1.0, 5.0)
    assert models.rating_scale(random_ratings(n_ratings=500, n_days=400, half_stars=True)) == (0.5, 5.0)
    assert surprise_batch.to_trainset(random_ratings(n_ratings=500, n_days=400, half_stars=True)).rating_scale == (
        0.5,
        5.0,
    )


@settings(max_examples=40, deadline=None)
@given(ratings_frames())
def test_adapters_round_trip_raw_ids(ratings):
    trainset = surprise_batch.to_trainset(ratings)
    u, i = surprise_batch.inner_ids(trainset, ratings)
    assert [trainset.to_inner_uid(x) for x in ratings["user_id"]] == u.tolist()
    assert [trainset.to_inner_iid(x) for x in ratings["movie_id"]] == i.tolist()
    users, movies = surprise_batch.raw_ids(trainset)
    np.testing.assert_array_equal(users[u], ratings["user_id"])
    np.testing.assert_array_equal(movies[i], ratings["movie_id"])
    # Each rating sits in Surprise's lists under its inner ids.
    assert all((movie, float(r)) in trainset.ur[user] for user, movie, r in zip(u, i, ratings["rating"]))
    unknown = surprise_batch.inner_ids(trainset, pd.DataFrame({"user_id": [UNKNOWN], "movie_id": [UNKNOWN]}))
    assert unknown == (np.array([-1]), np.array([-1]))


ALGORITHMS = {
    "baseline_als": lambda: surprise.BaselineOnly(verbose=False),
    "baseline_sgd": lambda: surprise.BaselineOnly(bsl_options={"method": "sgd", "n_epochs": 5}, verbose=False),
    "svd": lambda: surprise.SVD(n_factors=4, n_epochs=5, random_state=0),
    "svd_unbiased": lambda: surprise.SVD(n_factors=4, n_epochs=5, biased=False, random_state=0),
    "svdpp": lambda: surprise.SVDpp(n_factors=3, n_epochs=3, random_state=0, cache_ratings=True),
    "knn_users": lambda: surprise.KNNBaseline(k=5, sim_options={"name": "pearson_baseline"}, verbose=False),
    "knn_items_min_k": lambda: surprise.KNNBaseline(
        k=4, min_k=3, sim_options={"name": "pearson_baseline", "user_based": False, "shrinkage": 10}, verbose=False
    ),
}


@pytest.mark.parametrize("name", ALGORITHMS)
def test_batch_prediction_equals_surprise_predict(data, name):
    """Test pairs, in-sample pairs (own rating among the neighbours) and unknown users/items."""
    train, pairs = data
    algo = ALGORITHMS[name]().fit(surprise_batch.to_trainset(train))
    np.testing.assert_allclose(
        surprise_batch.predict_pairs(algo, pairs), surprise_reference(algo, pairs), rtol=0, atol=TOLERANCE
    )


@settings(max_examples=40, deadline=None)
@given(ratings_frames(max_users=8, max_movies=6, min_size=4))
def test_knn_batch_prediction_keeps_surprises_neighbours_on_ties(ratings):
    """Every pair of tiny frames, with similarities rounded to halves so that many are equal.

    Surprise keeps, of equal similarities at the k-th place, the neighbours met first in its
    list; the batch route must keep the same ones.
    """
    trainset = surprise_batch.to_trainset(ratings)
    pairs = with_unknowns(
        ratings,
        pd.DataFrame(
            [(u, m) for u in ratings["user_id"].unique() for m in ratings["movie_id"].unique()],
            columns=["user_id", "movie_id"],
        ),
    )
    for user_based in (True, False):
        sim_options = {"name": "pearson_baseline", "user_based": user_based, "min_support": 1, "shrinkage": 0}
        try:
            algo = surprise.KNNBaseline(k=2, sim_options=sim_options, verbose=False).fit(trainset)
        except ZeroDivisionError:  # Surprise's pearson_baseline when a residual vector is all zero
            reject()
        algo.sim = np.round(algo.sim * 2) / 2
        np.testing.assert_allclose(
            surprise_batch.predict_pairs(algo, pairs), surprise_reference(algo, pairs), atol=TOLERANCE
        )


def test_other_algorithms_fall_back_to_surprise_predict(data):
    train, pairs = data
    algo = surprise.KNNBasic(k=3, verbose=False).fit(surprise_batch.to_trainset(train))
    np.testing.assert_array_equal(surprise_batch.predict_pairs(algo, pairs), surprise_reference(algo, pairs))


@pytest.mark.parametrize("method", ["als", "sgd"])
def test_bias_baseline_equals_surprise_baseline_only(data, method):
    train, pairs = data
    model = models.BiasBaseline(method=method, n_epochs=7).fit(train)
    algo = surprise.BaselineOnly(bsl_options=model.surprise_options(), verbose=False).fit(
        surprise_batch.to_trainset(train)
    )
    np.testing.assert_allclose(model.predict(pairs), surprise_reference(algo, pairs), rtol=0, atol=TOLERANCE)


def test_bias_baseline_unknown_ids_get_zero_bias():
    train = ratings_frame([1, 1, 2], [10, 20, 10], [5, 4, 1])
    model = models.BiasBaseline(reg_u=0, reg_i=0, n_epochs=1).fit(train)
    mean = 10 / 3
    # One ALS epoch, no regularisation: b_i = mean(r - mu) over the item's raters, then b_u likewise.
    b_10, b_20 = (5 + 1) / 2 - mean, 4 - mean
    b_1 = ((5 - mean - b_10) + (4 - mean - b_20)) / 2
    pairs = pd.DataFrame({"user_id": [1, 9, 9], "movie_id": [30, 20, 30]})
    np.testing.assert_allclose(model.predict(pairs), [mean + b_1, mean + b_20, mean])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bias_baseline_leaves_the_ratings_it_fits_unchanged(dtype):
    # The fit centres a float64 copy in place; a float64 column must not be that copy.
    train = ratings_frame([1, 1, 2], [10, 20, 10], [5, 4, 1]).astype({"rating": dtype})
    before = train.copy()
    models.BiasBaseline(n_epochs=2).fit(train)
    pd.testing.assert_frame_equal(train, before)


def test_predictions_are_clipped_into_the_rating_scale():
    train = ratings_frame([1, 1, 2], [10, 20, 10], [5, 5, 1])
    model = models.BiasBaseline(reg_u=0, reg_i=0, n_epochs=1).fit(train)
    # mu = 11/3, b_10 = -2/3, b_20 = 4/3, b_1 = 1: mu + b_1 + b_20 = 6, clipped to 5.
    assert model.mean_ + model.bu_[0] + model.bi_[1] == pytest.approx(6.0)
    assert model.predict(pd.DataFrame({"user_id": [1], "movie_id": [20]}))[0] == 5.0


@pytest.mark.parametrize(
    "model",
    [
        models.GlobalMean(),
        models.BiasBaseline(),
        models.KNNBaseline(user_based=True, k=5),
        models.KNNBaseline(user_based=False, k=5),
        models.SVD(n_factors=3, n_epochs=3),
        models.SVDpp(n_factors=3, n_epochs=2),
    ],
    ids=lambda m: m.name,
)
def test_models_share_the_interface_and_ignore_test_ratings(data, model):
    train, pairs = data
    assert model.fit(train) is model
    predicted = model.predict(pairs)
    assert predicted.shape == (len(pairs),) and np.isfinite(predicted).all()
    assert ((1 <= predicted) & (predicted <= 5)).all()
    np.testing.assert_array_equal(model.predict(pairs.assign(rating=1.0)), predicted)


@pytest.mark.parametrize(
    "make",
    [
        models.GlobalMean,
        models.BiasBaseline,
        lambda: models.BiasBaseline(method="sgd"),
        lambda: models.KNNBaseline(user_based=False, k=5),
        lambda: models.SVD(n_factors=3, n_epochs=3),
        lambda: models.FeatureXGB(k=3, n_estimators=5),
    ],
    ids=["global_mean", "baseline_als", "baseline_sgd", "knn_items", "svd", "xgb_features"],
)
def test_a_model_fitted_on_a_train_data_predicts_exactly_as_on_its_frame(data, make):
    train, pairs = data
    np.testing.assert_array_equal(make().fit(TrainData(train)).predict(pairs), make().fit(train).predict(pairs))


def test_surprise_models_predict_what_their_algorithm_predicts(data):
    train, pairs = data
    model = models.KNNBaseline(user_based=False, k=3, shrinkage=50, min_support=3).fit(train)
    np.testing.assert_allclose(model.predict(pairs), surprise_reference(model.algo_, pairs), atol=TOLERANCE)
    assert model.algo_.sim_options == {
        "name": "pearson_baseline",
        "user_based": False,
        "shrinkage": 0,
        "min_support": 3,
    }


@pytest.mark.parametrize("user_based", [True, False])
@pytest.mark.parametrize(("shrinkage", "min_support"), [(50, 3), (100, 1), (7.5, 2), (0, 1)])
def test_knn_baseline_shrinks_by_the_packages_function_as_surprise_does(data, user_based, shrinkage, min_support):
    """The shrinkage is cfutils' (shrinkage_factor on counted co-ratings), applied to Surprise's unshrunk
    pearson_baseline; the similarities and predictions are those of Surprise's own shrinkage, bit for bit."""
    train, pairs = data
    model = models.KNNBaseline(user_based=user_based, k=5, shrinkage=shrinkage, min_support=min_support).fit(train)
    sim_options = {
        "name": "pearson_baseline",
        "user_based": user_based,
        "shrinkage": shrinkage,
        "min_support": min_support,
    }
    own = surprise.KNNBaseline(
        k=5, sim_options=sim_options, bsl_options=model.baseline.surprise_options(), verbose=False
    )
    own.fit(surprise_batch.to_trainset(train))
    np.testing.assert_array_equal(model.algo_.sim, own.sim)
    np.testing.assert_array_equal(model.predict(pairs), surprise_batch.predict_pairs(own, pairs))


def test_co_rating_counts_are_the_common_ratings():
    train = ratings_frame([1, 1, 2, 2, 3], [10, 20, 10, 20, 20], [4, 3, 5, 2, 1])
    trainset = surprise_batch.to_trainset(train)
    users, items = surprise_batch.raw_ids(trainset)
    counts = models.co_rating_counts(trainset, user_based=True)
    rated = {u: set(train.movie_id[train.user_id == u]) for u in users}
    np.testing.assert_array_equal(counts, [[len(rated[a] & rated[b]) for b in users] for a in users])
    counts = models.co_rating_counts(trainset, user_based=False)
    raters = {i: set(train.user_id[train.movie_id == i]) for i in items}
    np.testing.assert_array_equal(counts, [[len(raters[a] & raters[b]) for b in items] for a in items])


def test_feature_xgb_uses_train_only(data):
    train, pairs = data
    model = models.FeatureXGB(n_estimators=5).fit(train)
    predicted = model.predict(pairs)
    assert predicted.shape == (len(pairs),)
    np.testing.assert_array_equal(model.predict(pairs.assign(rating=5.0)), predicted)
    assert list(model.features(pairs).columns)[:2] == ["GAvg", "sur1"]


@pytest.mark.parametrize("k", [None, 3])
def test_feature_xgb_builds_its_matrix_and_neighbour_lists_once_for_fit_and_predict(data, build_counts, k):
    train, pairs = data
    model = models.FeatureXGB(k=k, n_estimators=5).fit(train)
    model.predict(pairs)
    model.predict(pairs.head(7))
    assert isinstance(model.train_, TrainData) and model.train_.ratings is train
    assert (build_counts.matrices, build_counts.neighbour_lists) == (1, 0 if k is None else 2)
    given = TrainData(train)
    assert models.FeatureXGB(k=k, n_estimators=5).fit(given).train_ is given


def test_unfitted_copy_keeps_settings_and_drops_fitted_state(data):
    train, _ = data
    model = models.SVD(n_factors=3, n_epochs=2, reg_all=0.1).fit(train)
    clone = models.unfitted_copy(model)
    assert not hasattr(clone, "algo_") and hasattr(model, "algo_")
    assert (clone.n_factors, clone.n_epochs, clone.reg_all, clone.name) == (3, 2, 0.1, "svd")


class _Shift:
    """Predicts the training mean plus ``shift``; remembers what it was fitted on."""

    fitted_on: list = []

    def __init__(self, shift):
        self.shift = shift

    def fit(self, train):
        self.fitted_on.append(train)
        self.mean_ = train["rating"].mean()
        return self

    def predict(self, pairs):
        return np.full(len(pairs), self.mean_ + self.shift)


def test_tune_scores_each_combination_on_the_latest_ratings():
    ratings = random_ratings(n_ratings=300, n_days=400)
    fit_part, val = temporal_split(ratings, test_size=0.2)
    _Shift.fitted_on = []
    # n_jobs=1: _Shift records its fits in this process
    result = tuning.tune(_Shift, {"shift": [-1.0, 0.0, 0.5]}, ratings, val_fraction=0.2, n_jobs=1)
    assert all(frame.index.equals(fit_part.index) for frame in _Shift.fitted_on) and len(_Shift.fitted_on) == 3
    expected = [np.sqrt(np.mean((val["rating"] - fit_part["rating"].mean() - s) ** 2)) for s in (-1.0, 0.0, 0.5)]
    np.testing.assert_allclose(result.table["val_rmse"], expected, rtol=1e-6)
    assert result.best_params == {"shift": [-1.0, 0.0, 0.5][int(np.argmin(expected))]}
    assert result.best_rmse == pytest.approx(min(expected))


def test_tune_validates_on_each_users_latest_with_per_user_split():
    ratings = random_ratings(n_ratings=300, n_days=400)
    fit_part, val = per_user_temporal_split(ratings, test_size=0.2)
    _Shift.fitted_on = []
    tuning.tune(_Shift, {"shift": [0.0]}, ratings, val_fraction=0.2, split=split.PER_USER_TIME, n_jobs=1)
    assert _Shift.fitted_on[0].index.equals(fit_part.index)
    assert set(val["user_id"]) <= set(fit_part["user_id"])


@pytest.mark.parametrize("test_split", ["global_time", "random", "per_user_time"])
def test_tune_each_cuts_validation_by_the_split_rule(test_split, monkeypatch):
    ratings = random_ratings(n_ratings=300, n_days=400)
    rules = []

    def rule(method, **options):
        rules.append((method, options))
        return real(method, **options)

    real = split.validation_split_for
    monkeypatch.setattr(split, "validation_split_for", rule)
    _Shift.fitted_on = []
    method = split.split_method(test_split)
    tuning.tune_each({"shift": (_Shift, {"shift": [0.0]})}, ratings, 0.2, split=method, n_jobs=1)
    fit_part, _ = split.make_split(ratings, real(test_split), 0.2)
    assert rules == [(method, {"lists": False})] and _Shift.fitted_on[0].index.equals(fit_part.index)
    if test_split == "random":  # tuned on the latest ratings, never on a random cut
        assert _Shift.fitted_on[0]["date"].max() <= ratings["date"].sort_values().iloc[-60]


def test_tune_each_gives_the_same_tables_in_worker_processes(data):
    train, _ = data
    searches = {
        "baseline": (models.BiasBaseline, {"reg_u": [2, 15], "reg_i": [5]}),
        "svd": (lambda n_factors: models.SVD(n_factors=n_factors, n_epochs=3), {"n_factors": [2, 4]}),
        "knn_users": (lambda k: models.KNNBaseline(k=k, budget_bytes=1000), {"k": [10]}),
    }
    serial, serial_skipped = tuning.tune_each(searches, train, n_jobs=1)
    parallel, parallel_skipped = tuning.tune_each(searches, train, n_jobs=2)
    assert list(serial) == list(parallel) == ["baseline", "svd"] and serial_skipped == parallel_skipped
    for name in serial:
        pd.testing.assert_frame_equal(serial[name].table, parallel[name].table)
        assert serial[name].best_params == parallel[name].best_params
    assert serial["baseline"].table["val_rmse"].nunique() == 2  # the grid points differ


def test_is_cold_marks_unknown_users_or_movies():
    train = ratings_frame([1, 2], [10, 20], [3, 4])
    pairs = pd.DataFrame({"user_id": [1, 1, 3, 3], "movie_id": [20, 30, 10, 30]})
    assert models.is_cold(train, pairs).tolist() == [False, True, True, True]
    assert models.is_cold(TrainData(train), pairs).tolist() == [False, True, True, True]


class _Recorder:
    """Remembers the object its ``fit`` received."""

    def __init__(self, name):
        self.name = name

    def fit(self, train):
        self.fitted_on_ = train
        return self


def test_fit_each_passes_one_train_data_to_every_model(data):
    train, _ = data
    fitted, _, _ = models.fit_each([_Recorder("a"), _Recorder("b"), models.FeatureXGB(n_estimators=2)], train)
    first = fitted[0].fitted_on_
    assert isinstance(first, TrainData) and first.ratings is train
    assert fitted[1].fitted_on_ is first and fitted[2].train_ is first
    given = TrainData(train)
    fitted, _, _ = models.fit_each([_Recorder("a"), _Recorder("b")], given)
    assert all(model.fitted_on_ is given for model in fitted)


def test_fit_timed_fits_the_model(data):
    train, _ = data
    model = models.GlobalMean()
    seconds = models.fit_timed(model, train)
    assert seconds >= 0 and model.mean_ == pytest.approx(train["rating"].mean())


def test_activity_bucket_counts_training_ratings_per_user():
    train = ratings_frame([1] * 12 + [2] * 3, list(range(12)) + [0, 1, 2], [3] * 15)
    pairs = pd.DataFrame({"user_id": [1, 2, 3], "movie_id": [50, 50, 50]})
    bucket = models.activity_bucket(train, pairs, edges=(1, 10))
    assert bucket.tolist() == ["10+", "1-9", "0 (cold)"]
    pd.testing.assert_series_equal(models.activity_bucket(TrainData(train), pairs, edges=(1, 10)), bucket)
    assert list(bucket.cat.categories) == ["0 (cold)", "1-9", "10+"]


def test_surprise_memory_estimate_and_budget(data):
    train, _ = data
    per_rating = models.surprise_bytes_per_rating(train)
    assert 20 < per_rating < 2_000  # Python tuples, ints and floats: far above the 20-byte frame
    knn = models.KNNBaseline(user_based=True)
    assert knn.required_bytes(1000, 50, 20, bytes_per_rating=100) == 100 * 1000 + 40 * 50**2
    assert models.SVD().required_bytes(1000, 50, 20, bytes_per_rating=100) == 100 * 1000
    with pytest.raises(MemoryBudgetError, match="budget_bytes"):
        models.KNNBaseline(budget_bytes=1000).fit(train)


def test_a_model_over_its_memory_budget_is_skipped_with_the_guards_reason(data):
    train, _ = data
    searches = {
        "baseline": (models.BiasBaseline, {"reg_u": [5]}),
        "knn_users": (lambda k: models.KNNBaseline(k=k, budget_bytes=1000), {"k": [10]}),
    }
    tuned, skipped = tuning.tune_each(searches, train)
    assert list(tuned) == ["baseline"] and list(skipped) == ["knn_users"]
    assert "needs about" in skipped["knn_users"] and "budget_bytes" in skipped["knn_users"]

    small = models.KNNBaseline(k=10, budget_bytes=1000)
    fitted, seconds, skipped = models.fit_each([models.GlobalMean(), small], train)
    assert [m.name for m in fitted] == ["global_mean"] and list(seconds) == ["global_mean"]
    assert list(skipped) == [small.name] and "needs about" in skipped[small.name]
