"""The top-N robustness counts that benchmarks/README.md and README.md state agree with the saved runs
(``benchmarks/results/topn_robustness_*.json``), computed by :func:`cfutils.present.robustness.robustness_summary`."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfutils.present.robustness import PEERS, load_runs, protocol_change, robustness_summary, robustness_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def run(cut: str, seed: int, scores: dict[str, float], chosen: str, gains: dict[str, list[float]], validation: float):
    """A saved run reduced to what ``summary`` reads."""
    rows = {name: {"ndcg@10": score} for name, score in scores.items()}
    for name, interval in gains.items():
        rows[name]["vs_ease_ci95"] = interval
    return {
        "data": "hand-made",
        "cut": cut,
        "seed": seed,
        "chosen": chosen,
        "best_blend": "blend (z)",
        "candidate_recall": validation / 2,
        "rows": rows,
        "validation_ndcg": {"re-ranker": validation},
    }


def test_summary_counts_hand_made_runs():
    scores = dict.fromkeys(PEERS, 0.1)
    runs = [
        run("pu0.2", 0, {**scores, "re-ranker": 0.2, "chosen": 0.2}, "re-ranker",
            {"re-ranker": [0.01, 0.03], "chosen": [0.01, 0.03]}, 0.10),
        run("pu0.2", 1, {**scores, "re-ranker": 0.05, "chosen": 0.1}, "blend (max)",
            {"re-ranker": [-0.02, 0.01], "chosen": [-0.004, -0.001]}, 0.13),
        run("half_a", 0, {**scores, "re-ranker": 0.15, "chosen": 0.1}, "blend (z)",
            {"re-ranker": [-0.01, 0.02], "chosen": [0.0, 0.0]}, 0.50),
    ]  # fmt: skip
    table = robustness_table(runs)
    assert table["best on test"].tolist() == ["re-ranker", "EASE (λ tuned)", "re-ranker"]  # ties: the first peer
    assert table["chosen / EASE"].tolist() == [2.0, 1.0, 1.0]
    assert table["gain over EASE, 95 % CI"].tolist() == [[0.01, 0.03], [-0.004, -0.001], [0.0, 0.0]]
    assert robustness_summary(runs) == {
        "runs": 3,
        "re-ranker best on test": 2,
        "re-ranker gain above 0": 1,
        "chose the re-ranker": 1,
        "chosen gain above 0": 1,
        "chosen gain below 0": 1,
        "validation seed spread": 0.03,  # half_a's split changes with the seed: left out
        "largest blend - EASE": 0.0,
        "largest decayed EASE - EASE": 0.0,
        "candidate recall": [0.05, 0.25],
        "candidate recall, global_known": None,
    }
    runs[1]["rows"]["blend (z)"]["ndcg@10"], runs[2]["rows"]["decayed EASE"]["ndcg@10"] = 0.13, 0.08
    gaps = robustness_summary(runs)
    assert gaps["largest blend - EASE"] == 0.03 and gaps["largest decayed EASE - EASE"] == 0.02


def test_protocol_change_matches_runs_by_data_cut_and_seed():
    def chosen(cut, seed, ndcg, interval):
        return {"data": "d", "cut": cut, "seed": seed, "rows": {"chosen": {"ndcg@10": ndcg, "vs_ease_ci95": interval}}}

    before = [
        chosen("pu0.2", 0, 0.10, [-0.01, 0.01]),
        chosen("pu0.2", 1, 0.12, [0.01, 0.02]),
        chosen("last5", 0, 0.2, [0, 0]),
    ]
    after = [
        chosen("pu0.2", 1, 0.11, [0.001, 0.02]),
        chosen("pu0.2", 0, 0.13, [0.01, 0.03]),
        chosen("half_a", 0, 0.5, [1, 2]),
    ]
    assert protocol_change(before, after) == {
        "runs": 2,  # half_a and last5 have no partner
        "chosen higher": 1,
        "chosen lower": 1,
        "largest fall": 0.01,
        "gain above 0 before": 1,
        "gain above 0 after": 2,
    }


@pytest.fixture(scope="module")
def summaries():
    return {
        name: robustness_summary(load_runs([RESULTS / f"topn_robustness_{name}.json"])) for name in ("ml", "sample")
    }


def test_the_benchmark_readme_states_the_saved_counts(summaries):
    text = " ".join((ROOT / "benchmarks" / "README.md").read_text().split())
    ml, sample = summaries["ml"], summaries["sample"]
    assert ml["runs"] == sample["runs"] == 21
    assert (
        f"The re-ranker is best on test on {ml['re-ranker best on test']} of 21 movielens-small runs and on all "
        f"{sample['re-ranker best on test']} sample runs" in text
    )
    assert sample["re-ranker best on test"] == sample["re-ranker gain above 0"] == sample["chosen gain above 0"] == 21
    assert f"excludes 0 on {ml['re-ranker gain above 0']} of 21 real runs" in text
    assert f"on {ml['runs'] - ml['chose the re-ranker']} of 21 runs the re-ranker's validation NDCG" in text
    assert f"beats EASE with an interval above 0 on {ml['chosen gain above 0']} of 21 real runs" in text
    assert ml["chosen gain below 0"] == sample["chosen gain below 0"] == 0
    assert "it is never below EASE with an interval excluding 0" in text
    assert f"by up to {ml['validation seed spread']:.3f}** on movielens-small" in text


def test_the_readme_states_the_saved_counts(summaries):
    text = " ".join((ROOT / "README.md").read_text().split())
    ml = summaries["ml"]
    assert (
        f"excludes 0 on {ml['re-ranker gain above 0']} of {ml['runs']} runs, and validation keeps a simpler model "
        f"on {ml['runs'] - ml['chose the re-ranker']}" in text
    )
    assert f"moves its validation NDCG by up to {ml['validation seed spread']:.3f}." in text
