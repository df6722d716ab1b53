"""Stacking: out-of-fold predictions never see the row's own rating; the stack's API and shapes."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
from ratings_factory import random_ratings

from cfutils.core.train_data import TrainData
from cfutils.data.split import GLOBAL_TIME, PER_USER_TIME, PROBE, RANDOM, chronological_folds, temporal_split
from cfutils.rating import models
from cfutils.rating.features import feature_names
from cfutils.rating.stacking import (
    StackedXGB,
    base_predictions,
    fit_copies,
    fold_ids,
    folds_for,
    out_of_fold,
    refit_and_predict,
    support_counts,
)

N_FOLDS = 3


def base_models():
    return [
        models.BiasBaseline(),
        models.KNNBaseline(user_based=True, k=10),
        models.KNNBaseline(user_based=False, k=10),
        models.SVD(n_factors=3, n_epochs=3),
        models.SVDpp(n_factors=2, n_epochs=2),
    ]


@pytest.fixture(scope="module")
def data():
    ratings = random_ratings(n_users=40, n_movies=25, n_ratings=400, seed=3, n_days=400)
    return temporal_split(ratings, test_size=0.25)


def test_fold_ids_are_balanced_and_reproducible():
    folds = fold_ids(103, 4, seed=1)
    assert sorted(np.bincount(folds).tolist()) == [25, 26, 26, 26]
    np.testing.assert_array_equal(folds, fold_ids(103, 4, seed=1))
    assert not np.array_equal(folds, fold_ids(103, 4, seed=2))
    with pytest.raises(ValueError, match="n_folds"):
        fold_ids(3, 4)


def oof_predictions(models_, train, n_folds, seed):
    """Each row predicted by copies of ``models_`` fitted on the other random folds."""
    return out_of_fold(partial(refit_and_predict, models_), train, n_folds, seed)


def _with_rating(train: pd.DataFrame, row: int, value: float) -> pd.DataFrame:
    changed = train.copy()
    changed.iloc[row, changed.columns.get_loc("rating")] = value
    return changed


def test_out_of_fold_prediction_ignores_the_rows_own_rating(data):
    """Change one training rating: its own out-of-fold prediction does not move, its in-sample one does."""
    train, _ = data
    row = 7
    changed = _with_rating(train, row, 6.0 - train["rating"].iloc[row] if train["rating"].iloc[row] != 3 else 5.0)
    oof = oof_predictions(base_models(), train, N_FOLDS, seed=0)
    oof_changed = oof_predictions(base_models(), changed, N_FOLDS, seed=0)
    pd.testing.assert_series_equal(oof.iloc[row], oof_changed.iloc[row])

    # The same check fails for in-sample predictions: the row's own rating moves them.
    in_sample = base_predictions([m.fit(train) for m in base_models()], train)
    in_sample_changed = base_predictions([m.fit(changed) for m in base_models()], changed)
    assert (np.abs(in_sample.iloc[row] - in_sample_changed.iloc[row]) > 1e-3).all()
    # And the change does reach the out-of-fold predictions of rows in the other folds.
    other_folds = fold_ids(len(train), N_FOLDS, seed=0) != fold_ids(len(train), N_FOLDS, seed=0)[row]
    assert (oof[other_folds] != oof_changed[other_folds]).any().all()


def test_out_of_fold_never_shows_a_row_to_its_own_computation(data):
    train, _ = data
    shuffled = train.sample(frac=1.0, random_state=0)
    seen = out_of_fold(
        lambda fit_part, pairs: pd.DataFrame(
            {"seen": pairs.index.isin(fit_part.index), "n_fit": len(fit_part)}, index=pairs.index
        ),
        shuffled,
        n_folds=4,
        seed=2,
    )
    assert seen.index.equals(shuffled.index) and not seen["seen"].any()
    assert set(seen["n_fit"]) <= {len(train) - len(train) // 4, len(train) - len(train) // 4 - 1}
    with pytest.raises(ValueError, match="unique index"):
        out_of_fold(lambda fit_part, pairs: pairs, pd.concat([train, train]))


def test_out_of_fold_in_worker_processes_equals_the_serial_run_rule_by_rule(data):
    """Several rules at once, in two processes: the rows of each rule in turn, as one rule at a time serially."""
    train, _ = data
    rules = [RANDOM, GLOBAL_TIME]
    compute = partial(refit_and_predict, [models.BiasBaseline(), models.SVD(n_factors=2, n_epochs=2)])
    together = out_of_fold(compute, train, N_FOLDS, seed=1, folds=rules, n_jobs=2)
    one_by_one = pd.concat([out_of_fold(compute, train, N_FOLDS, seed=1, folds=rule, n_jobs=1) for rule in rules])
    pd.testing.assert_frame_equal(together, one_by_one)
    assert len(together) == len(train) + (chronological_folds(train, N_FOLDS + 1, GLOBAL_TIME) >= 1).sum()


@pytest.mark.parametrize("method", [GLOBAL_TIME, PER_USER_TIME])
def test_forward_chaining_predicts_each_slice_from_earlier_slices_only(data, method):
    train, _ = data
    slices = pd.Series(chronological_folds(train, N_FOLDS + 1, method), index=train.index)

    def describe(fit_part, pairs):
        return pd.DataFrame(
            {"latest_fit_slice": slices[fit_part.index].max(), "slice": slices[pairs.index]}, index=pairs.index
        )

    seen = out_of_fold(describe, train, n_folds=N_FOLDS, folds=method)
    assert (seen["latest_fit_slice"] == seen["slice"] - 1).all()  # all earlier slices, nothing later
    assert seen.index.equals(train.index[slices.to_numpy() >= 1])  # the first slice only feeds fits
    stack = StackedXGB(base_models()[:2], n_folds=N_FOLDS, folds=method, n_estimators=3).fit(train)
    assert stack.train_inputs_.index.equals(seen.index)


def test_fold_rules_are_split_objects_never_names(data):
    train, _ = data
    assert folds_for(GLOBAL_TIME) == (RANDOM, GLOBAL_TIME) and folds_for(RANDOM) == (RANDOM, GLOBAL_TIME)
    assert folds_for(PER_USER_TIME) == (RANDOM, PER_USER_TIME)
    with pytest.raises(TypeError, match="SplitMethod"):
        StackedXGB(base_models()[:1], folds=("random", "global_time"))
    with pytest.raises(ValueError, match="probe"):
        out_of_fold(lambda fit, pairs: pairs, train, N_FOLDS, folds=PROBE)


def test_forward_chaining_trains_the_stack_on_cold_rows_under_a_global_time_split(data):
    train, _ = data
    random_rows = out_of_fold(
        lambda fit, pairs: pd.DataFrame({"cold": models.is_cold(fit, pairs)}, index=pairs.index),
        train,
        N_FOLDS,
        folds=RANDOM,
    )
    chained_rows = out_of_fold(
        lambda fit, pairs: pd.DataFrame({"cold": models.is_cold(fit, pairs)}, index=pairs.index),
        train,
        N_FOLDS,
        folds=GLOBAL_TIME,
    )
    assert chained_rows["cold"].mean() > random_rows["cold"].mean()


def test_out_of_fold_stack_inputs_ignore_the_rows_own_rating(data):
    """The 13 features (UAvg, MAvg) of a training row must not use its rating either."""
    train, _ = data
    row = 11
    changed = _with_rating(train, row, 1.0 if train["rating"].iloc[row] > 2 else 5.0)
    for out_of_fold_inputs in (True, False):
        before, after = (
            StackedXGB(base_models()[:2], n_folds=N_FOLDS, out_of_fold=out_of_fold_inputs, n_estimators=2)
            .fit(frame)
            .train_inputs_.iloc[row]
            for frame in (train, changed)
        )
        if out_of_fold_inputs:
            pd.testing.assert_series_equal(before, after)
        else:
            assert before["UAvg"] != after["UAvg"] and before["MAvg"] != after["MAvg"]
            assert before["baseline"] != after["baseline"]


def test_out_of_fold_predictions_are_those_of_models_fitted_without_the_fold(data):
    train, _ = data
    model = models.KNNBaseline(user_based=False, k=5)
    oof = oof_predictions([model], train, N_FOLDS, seed=4)
    folds = fold_ids(len(train), N_FOLDS, seed=4)
    for fold in range(N_FOLDS):
        held_out = folds == fold
        expected = models.KNNBaseline(user_based=False, k=5).fit(train[~held_out]).predict(train[held_out])
        np.testing.assert_array_equal(oof["knn_items"].to_numpy()[held_out], expected)
    assert not hasattr(model, "algo_"), "the given model is left unfitted"


@pytest.mark.parametrize("out_of_fold", [True, False])
def test_stack_shapes_names_and_inputs(data, out_of_fold):
    train, test = data
    bases = base_models()
    stack = StackedXGB(bases, n_folds=N_FOLDS, out_of_fold=out_of_fold, n_estimators=5).fit(train)
    assert "stack" in stack.name and stack.name.endswith("in_sample") != out_of_fold
    predicted = stack.predict(test)
    assert predicted.shape == (len(test),) and np.isfinite(predicted).all()
    names = [m.name for m in bases]
    inputs = stack.train_inputs_
    assert list(inputs.columns) == [*feature_names(), "log_n_user", "log_n_movie", *names]
    assert inputs.index.equals(train.index)
    assert list(stack.xgb_.get_booster().feature_names) == list(inputs.columns)
    # Base models are fitted copies; the given ones stay unfitted.
    assert all(not hasattr(m, "algo_") and not hasattr(m, "bu_") for m in bases)
    np.testing.assert_array_equal(stack.predict(test.assign(rating=1.0)), predicted)


def test_in_sample_stack_trains_on_the_full_fit_inputs(data):
    train, _ = data
    stack = StackedXGB(base_models(), out_of_fold=False, n_estimators=5).fit(train)
    pd.testing.assert_frame_equal(stack.train_inputs_, stack.inputs(train, train, stack.fitted_models_))
    pd.testing.assert_frame_equal(
        stack.train_inputs_[[m.name for m in stack.fitted_models_]], base_predictions(stack.fitted_models_, train)
    )


def test_prefit_stack_uses_the_given_models(data):
    train, test = data
    fitted = [m.fit(train) for m in base_models()[:2]]
    stack = StackedXGB(fitted, n_folds=N_FOLDS, prefit=True, n_estimators=5).fit(train)
    assert all(a is b for a, b in zip(stack.fitted_models_, fitted))
    refit = StackedXGB(base_models()[:2], n_folds=N_FOLDS, n_estimators=5).fit(train)
    np.testing.assert_allclose(stack.predict(test), refit.predict(test), atol=1e-6)


def test_support_counts_match_a_plain_count(data):
    train, test = data
    counts = support_counts(train, test)
    pd.testing.assert_frame_equal(support_counts(TrainData(train), test), counts)
    for row, (user, movie) in enumerate(zip(test["user_id"], test["movie_id"])):
        assert counts["log_n_user"].iloc[row] == pytest.approx(np.log1p((train["user_id"] == user).sum()))
        assert counts["log_n_movie"].iloc[row] == pytest.approx(np.log1p((train["movie_id"] == movie).sum()))


def test_stack_on_several_fold_rules_trains_on_the_rows_of_each(data):
    train, test = data
    stack = StackedXGB(base_models()[:2], n_folds=N_FOLDS, folds=folds_for(GLOBAL_TIME), n_estimators=3).fit(train)
    later = chronological_folds(train, N_FOLDS + 1, GLOBAL_TIME) >= 1
    assert stack.train_inputs_.index.equals(train.index.append(train.index[later]))
    assert stack.train_inputs_["log_n_user"].eq(0).sum() > 0  # forward chaining brings cold rows
    assert np.isfinite(stack.predict(test)).all()


def test_a_stack_with_nothing_to_learn_predicts_its_margin_model(data):
    train, test = data
    bases = [m.fit(train) for m in base_models()[:2]]
    stack = StackedXGB(bases, prefit=True, n_folds=N_FOLDS, margin="baseline", n_estimators=2, learning_rate=0.0).fit(
        train
    )
    np.testing.assert_allclose(stack.predict(test), bases[0].predict(test), atol=1e-5)
    unanchored = StackedXGB(bases, prefit=True, n_folds=N_FOLDS, n_estimators=2, learning_rate=0.0).fit(train)
    assert np.abs(unanchored.predict(test) - bases[0].predict(test)).max() > 0.1


def test_fit_copies_fits_every_copy_on_one_train_data(data):
    train, _ = data
    given = [models.FeatureXGB(n_estimators=2), models.FeatureXGB(n_estimators=3)]
    fitted = fit_copies(given, train)
    assert fitted[0].train_ is fitted[1].train_ and fitted[0].train_.ratings is train
    assert not any(hasattr(model, "train_") for model in given)


def test_each_fold_of_a_stack_builds_one_matrix_and_one_set_of_lists(data, build_counts):
    """Base models, features and support counts of a fold share its TrainData; so do the stack's
    own fit and predict on all of train (workers=1: the counts are of this process)."""
    train, test = data
    bases = [models.BiasBaseline(), models.FeatureXGB(k=3, n_estimators=2)]
    stack = StackedXGB(bases, n_folds=N_FOLDS, k=3, n_estimators=2, workers=1).fit(train)
    stack.predict(test)
    assert build_counts.matrices == N_FOLDS + 1
    assert build_counts.neighbour_lists == 2 * (N_FOLDS + 1)
    assert stack.fitted_models_[1].train_ is stack.train_


@pytest.mark.parametrize("out_of_fold", [True, False])
def test_a_stack_fitted_on_a_train_data_equals_the_stack_on_its_frame(data, out_of_fold):
    train, test = data
    stacks = [
        StackedXGB(base_models()[:2], n_folds=N_FOLDS, out_of_fold=out_of_fold, k=3, n_estimators=3).fit(given)
        for given in (train, TrainData(train))
    ]
    pd.testing.assert_frame_equal(stacks[0].train_inputs_, stacks[1].train_inputs_)
    np.testing.assert_array_equal(stacks[0].predict(test), stacks[1].predict(test))
