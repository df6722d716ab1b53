"""The bootstrap over users against a slow loop, paired verdicts, winners per segment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cfutils.eval import (
    INDISTINGUISHABLE,
    paired_table,
    percentile_interval,
    resamples,
    rmse,
    rmse_bootstrap,
    segment_winner,
    user_bootstrap,
    verdict,
)


@pytest.fixture
def rows():
    """Test rows of 60 users (1-6 rows each) and three models: a good one, a close one, a bad one."""
    rng = np.random.default_rng(3)
    users = np.repeat(np.arange(100, 160), rng.integers(1, 7, 60))
    truth = rng.integers(1, 6, users.size).astype(float)
    good = truth + rng.normal(0, 0.8, users.size)
    predictions = {
        "good": good,
        "close": good + rng.normal(0, 0.05, users.size),
        "bad": truth + rng.normal(0, 1.5, users.size),
    }
    return users, truth, predictions


def slow_rmse_samples(users, truth, predictions, draws, seed):
    """The reference: for every resample, gather the rows of each drawn user (repeats included) and
    compute RMSE on them with :func:`cfutils.eval.rmse`."""
    ids = np.unique(users)
    samples = []
    for chunk in resamples(ids.size, draws, seed):
        for drawn in chunk:
            rows = np.concatenate([np.flatnonzero(users == ids[i]) for i in drawn])
            samples.append({name: rmse(truth[rows], p[rows]) for name, p in predictions.items()})
    return pd.DataFrame(samples)


def test_rmse_bootstrap_equals_the_slow_loop(rows):
    users, truth, predictions = rows
    boot = rmse_bootstrap(users, truth, predictions, draws=200, seed=5)
    slow = slow_rmse_samples(users, truth, predictions, 200, 5)
    np.testing.assert_allclose(boot.samples[list(predictions)].to_numpy(), slow.to_numpy(), rtol=1e-12)
    assert boot.point.to_dict() == pytest.approx({name: rmse(truth, p) for name, p in predictions.items()})


def test_mean_bootstrap_equals_the_slow_loop():
    values = pd.DataFrame({"a": np.linspace(0, 1, 37), "b": np.linspace(1, 0, 37) ** 2})
    boot = user_bootstrap(values, draws=50, seed=1)
    slow = [values.iloc[drawn].mean().to_numpy() for chunk in resamples(37, 50, 1) for drawn in chunk]
    np.testing.assert_allclose(boot.samples.to_numpy(), np.array(slow), rtol=1e-12)
    assert boot.interval("a") == pytest.approx(percentile_interval(np.array(slow)[:, 0]))


def test_deterministic_from_the_seed(rows):
    users, truth, predictions = rows
    first, again = (rmse_bootstrap(users, truth, predictions, draws=100, seed=9) for _ in range(2))
    pd.testing.assert_frame_equal(first.samples, again.samples)
    other = rmse_bootstrap(users, truth, predictions, draws=100, seed=10)
    assert not first.samples.equals(other.samples)


def test_interval_holds_the_point_and_the_paired_verdicts(rows):
    users, truth, predictions = rows
    boot = rmse_bootstrap(users, truth, predictions, seed=0)
    lo, hi = boot.interval("good")
    assert lo < boot.point["good"] < hi
    table = {row["model"]: row for row in paired_table(boot, "good")}
    assert table["bad"]["verdict"] == "better" and table["bad"]["ci95"][1] < 0
    assert table["close"]["verdict"] == INDISTINGUISHABLE
    assert table["close"]["ci95"][0] <= 0 <= table["close"]["ci95"][1]
    winner = segment_winner(boot, chosen="close")
    assert winner["best_on_test"] in ("good", "close") and "bad" not in winner["indistinguishable"]
    assert {"good", "close"} == {winner["best_on_test"], *winner["indistinguishable"]}


@pytest.mark.parametrize(
    ("lo", "hi", "lower_is_better", "expected"),
    [
        (-0.2, -0.1, True, "better"),
        (-0.2, -0.1, False, "worse"),
        (0.1, 0.2, False, "better"),
        (-0.1, 0.1, True, INDISTINGUISHABLE),
    ],
)
def test_verdict(lo, hi, lower_is_better, expected):
    assert verdict(lo, hi, lower_is_better) == expected


def test_missing_totals_are_refused():
    with pytest.raises(ValueError, match="at least one user"):
        user_bootstrap(pd.DataFrame({"a": [1.0, np.nan]}))
