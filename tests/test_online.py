"""cfutils.eval.online: inverse propensity estimates against simulated selection, and team-draft interleaving
against its rules."""

from __future__ import annotations

import numpy as np
import pytest
from ratings_factory import ratings_frame

from cfutils.eval.metrics import PAD
from cfutils.eval.online import (
    count_propensity,
    interleaving_wins,
    ips_mean,
    list_means,
    list_pairs,
    simulated_clicks,
    snips_mean,
    team_draft,
)


def test_ips_undoes_a_selection_that_follows_the_value():
    rng = np.random.default_rng(0)
    values = rng.integers(1, 6, 20_000).astype(float)
    propensity = 0.02 + 0.18 * (values - 1) / 4  # high values are observed up to ten times as often
    naive, ips, snips = [], [], []
    for _ in range(200):
        seen = rng.random(values.size) < propensity
        naive.append(values[seen].mean())
        ips.append(ips_mean(values[seen], propensity[seen], values.size))
        snips.append(snips_mean(values[seen], propensity[seen]))
    truth = values.mean()
    assert np.mean(naive) > truth + 0.5  # the naive mean is far off
    assert np.mean(ips) == pytest.approx(truth, abs=3 * np.std(ips) / np.sqrt(200))
    assert np.mean(snips) == pytest.approx(truth, abs=0.01)


def test_ips_by_hand_and_refusals():
    assert ips_mean([4.0, 2.0], [0.5, 1.0], 4) == pytest.approx((8 + 2) / 4)
    assert snips_mean([4.0, 2.0], [0.5, 1.0]) == pytest.approx((8 + 2) / 3)
    with pytest.raises(ValueError):
        snips_mean([1.0], [0.0])
    with pytest.raises(ValueError):
        snips_mean([1.0, 2.0], [0.5])


def test_list_pairs_and_means_skip_padding():
    users, movies, rows = list_pairs([7, 8, 9], np.array([[1, 2], [3, PAD], [PAD, PAD]]))
    assert users.tolist() == [7, 7, 8] and movies.tolist() == [1, 2, 3] and rows.tolist() == [0, 0, 1]
    means = list_means([7, 8, 9], np.array([[1, 2], [3, PAD], [PAD, PAD]]), lambda u, m: u * 10.0 + m)
    assert means[:2].tolist() == [(71 + 72) / 2, 83.0] and np.isnan(means[2])


@pytest.mark.parametrize("seed", range(5))
def test_team_draft_follows_its_rules(seed):
    rng = np.random.default_rng(seed)
    lists_a = np.array([rng.permutation(12)[:6] for _ in range(300)])
    lists_b = np.array([rng.permutation(12)[:6] for _ in range(300)])
    lists_b[:20, 4:] = PAD  # some shorter lists
    merged, team = team_draft(lists_a, lists_b, np.random.default_rng(seed))
    for row, teams, a, b in zip(merged.tolist(), team.tolist(), lists_a.tolist(), lists_b.tolist()):
        shown = [m for m in row if m != PAD]
        assert len(shown) == len(set(shown)) == len(row)  # no repeat; as long as the longer list (6 of 12 each)
        for side, source in ((0, a), (1, b)):
            picked = [m for m, t in zip(row, teams) if t == side]
            # each team picks its best movie not yet shown, so its picks come in its own order
            assert picked == sorted(picked, key=source.index)
            for m in picked:
                better = source[: source.index(m)]
                assert all(x in row[: row.index(m)] for x in better if x != PAD)
        count_a, count_b = teams.count(0), teams.count(1)
        if len([m for m in b if m != PAD]) == 6:
            assert abs(count_a - count_b) <= 1
    assert 0.4 < (team[:, 0] == 0).mean() < 0.6  # the coin decides who starts


def test_the_better_list_wins_the_interleaving():
    rng = np.random.default_rng(1)
    good, bad = np.tile(np.arange(10), (500, 1)), np.tile(np.arange(10, 20), (500, 1))
    merged, team = team_draft(good, bad, rng)
    clicks = (merged < 10) & (rng.random(merged.shape) < 0.3)  # users click only good movies, now and then
    wins = interleaving_wins(team, clicks)
    assert wins["a"] == 1.0 and wins["b"] == 0.0 and wins["n_users"] == clicks.any(axis=1).sum()
    merged, team = team_draft(good, good, rng)
    wins = interleaving_wins(team, rng.random(merged.shape) < 0.3)
    assert abs(wins["a"] - wins["b"]) < 0.1  # a list against itself wins as often as it loses


def test_count_propensity_by_hand():
    ratings = ratings_frame([1, 1, 1, 2], [10, 20, 30, 10], [4, 4, 4, 4])
    got = count_propensity(ratings, [1, 2, 2, 9], [10, 20, 10, 10])
    assert got.tolist() == pytest.approx([min(1, 3 * 2 / 4), 1 * 1 / 4, 1 * 2 / 4, 1 * 2 / 4])


def test_simulated_clicks_follow_the_probability_and_skip_padding():
    merged = np.tile(np.array([[1, 2, PAD]]), (4000, 1))
    clicks = simulated_clicks(
        np.random.default_rng(0), np.arange(4000), merged, lambda u, m: np.where(m == 1, 0.8, 0.1)
    )
    assert clicks[:, 0].mean() == pytest.approx(0.8, abs=0.03) and clicks[:, 1].mean() == pytest.approx(0.1, abs=0.02)
    assert not clicks[:, 2].any()
