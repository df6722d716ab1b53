"""The top-N robustness counts that benchmarks/README.md and README.md state agree with the saved runs
(``benchmarks/results/topn_robustness_*.json``), computed by :func:`cfutils.present.robustness.robustness_summary`."""

from __future__ import annotations

import importlib.util

import pytest
from readme_text import ROOT, flat_file

from cfutils.present.robustness import (
    PEERS,
    clear_gains_by_cut,
    cuts_clear_on_every_seed,
    load_runs,
    protocol_change,
    robustness_summary,
    robustness_table,
)

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
    clear = clear_gains_by_cut(runs)
    assert clear.to_dict() == {"hand-made": {"pu0.2": "1 of 2", "half_a": "0 of 1"}}
    assert cuts_clear_on_every_seed(runs) == [] and cuts_clear_on_every_seed(runs[:1]) == ["pu0.2"]
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
    def chosen(cut, seed, ndcg, interval, ease=0.1):
        rows = {"chosen": {"ndcg@10": ndcg, "vs_ease_ci95": interval}, "EASE (λ tuned)": {"ndcg@10": ease}}
        return {"data": "d", "cut": cut, "seed": seed, "rows": rows}

    before = [
        chosen("pu0.2", 0, 0.10, [-0.01, 0.01]),
        chosen("pu0.2", 1, 0.12, [0.01, 0.02], ease=0.11),
        chosen("last5", 0, 0.2, [0, 0]),
    ]
    after = [
        chosen("pu0.2", 1, 0.11, [0.001, 0.02], ease=0.1),
        chosen("pu0.2", 0, 0.13, [0.01, 0.03]),
        chosen("half_a", 0, 0.5, [1, 2]),
    ]
    assert protocol_change(before, after) == {
        "runs": 2,  # half_a and last5 have no partner
        "chosen higher": 1,
        "chosen lower": 1,
        "largest fall": 0.01,
        "largest rise": 0.03,
        "EASE higher": 0,
        "EASE lower": 1,
        "gain above 0 before": 1,
        "gain above 0 after": 2,
    }
    only_rises = protocol_change(before[:1], after[1:2])
    assert only_rises["largest fall"] == 0.0 and only_rises["largest rise"] == 0.03
    only_falls = protocol_change(before[1:2], after[:1])
    assert only_falls["largest rise"] == 0.0 and only_falls["largest fall"] == 0.01


def saved_runs(name: str, protocol: str = "") -> list[dict]:
    return load_runs([RESULTS / protocol / f"topn_robustness_{name}.json"])


@pytest.fixture(scope="module")
def summaries():
    return {name: robustness_summary(saved_runs(name)) for name in ("ml", "sample")}


def test_the_saved_runs_use_two_validation_folds_and_the_one_fold_runs_one():
    for name in ("ml", "sample"):
        assert {r["validation_folds"] for r in saved_runs(name)} == {2}
        assert {r["validation_folds"] for r in saved_runs(name, "count_features")} == {2}
        assert not any("validation_folds" in r for r in saved_runs(name, "one_fold"))  # the protocol before


def test_the_benchmark_readme_states_the_saved_counts(summaries):
    text = flat_file("benchmarks/README.md")
    ml, sample = summaries["ml"], summaries["sample"]
    counts = {name: robustness_summary(saved_runs(name, "count_features")) for name in ("ml", "sample")}
    one = {name: robustness_summary(saved_runs(name, "one_fold")) for name in ("ml", "sample")}
    assert ml["runs"] == sample["runs"] == 21
    assert (
        f"The re-ranker is best on test on {ml['re-ranker best on test']} of 21 movielens-small runs and on all "
        f"{sample['re-ranker best on test']} sample runs" in text
    )
    not_best = [r for r in saved_runs("ml") if robustness_table([r])["best on test"].iloc[0] != "re-ranker"]
    assert {r["cut"] for r in not_best} == {"global_known"} and "the exceptions are on `global_known`" in text
    for summary in (sample, counts["sample"], one["sample"]):
        assert (
            summary["re-ranker best on test"]
            == summary["re-ranker gain above 0"]
            == summary["chosen gain above 0"]
            == 21
        )
    assert f"Its paired gain over tuned EASE excludes 0 on {ml['re-ranker gain above 0']} of 21 real runs" in text
    assert (
        f"Validation chose the re-ranker on {ml['chose the re-ranker']} of 21 real runs**, and the chosen "
        f"recommender beats tuned EASE with an interval above 0 on {ml['chosen gain above 0']} of 21 real runs and "
        f"on all {sample['chosen gain above 0']} sample runs" in text
    )
    assert ml["chosen gain below 0"] == sample["chosen gain below 0"] == 0
    assert "it is never below EASE with an interval excluding 0" in text
    # the re-ranker's popularity shares against its counts: same cuts, seeds and folds
    shares = protocol_change(saved_runs("ml", "count_features"), saved_runs("ml"))
    fall = max(
        saved_runs("ml", "count_features"),
        key=lambda r: (
            r["rows"]["chosen"]["ndcg@10"]
            - next(
                n["rows"]["chosen"]["ndcg@10"]
                for n in saved_runs("ml")
                if (n["cut"], n["seed"]) == (r["cut"], r["seed"])
            )
        ),
    )
    assert (fall["cut"], fall["seed"], fall["chosen"]) == ("half_b", 2, "re-ranker")
    after = next(r for r in saved_runs("ml") if (r["cut"], r["seed"]) == ("half_b", 2))
    assert after["chosen"] == "re-ranker" and after["rows"]["chosen"]["vs_ease_ci95"][0] < 0
    assert fall["rows"]["chosen"]["vs_ease_ci95"][0] > 0  # "now reaching below 0": it did not before
    assert (
        f"rose on {shares['chosen higher']} of {shares['runs']} real runs and fell on {shares['chosen lower']}, by "
        f"at most {shares['largest fall']} (`half_b`, seed 2, the re-ranker itself); the real runs where it beats "
        f"EASE with an interval above 0 went from {shares['gain above 0 before']} to {shares['gain above 0 after']}"
        in text
    )
    assert shares["EASE higher"] == shares["EASE lower"] == 0  # the same EASE: only the re-ranker changed
    sample_shares = protocol_change(saved_runs("sample", "count_features"), saved_runs("sample"))
    assert (
        f"On the sample it rose on {sample_shares['chosen higher']} of {sample_shares['runs']} and fell on "
        f"{sample_shares['chosen lower']}, by at most {sample_shares['largest fall']}" in text
    )
    # the protocol: two folds against one cut, both with the count features
    change = protocol_change(saved_runs("ml", "one_fold"), saved_runs("ml", "count_features"))
    assert (
        f"Validation chose the re-ranker on {counts['ml']['chose the re-ranker']} of 21 real runs with two folds "
        f"({one['ml']['chose the re-ranker']} with one cut), and the chosen recommender beat tuned EASE with an "
        f"interval above 0 on {counts['ml']['chosen gain above 0']} of 21 real runs "
        f"({one['ml']['chosen gain above 0']} with one cut)" in text
    )
    assert (
        f"the chosen recommender's test NDCG@10 rose on {change['chosen higher']} of {change['runs']} real runs and "
        f"fell on {change['chosen lower']}, by at most {change['largest fall']}" in text
    )
    assert (
        f"two folds' λ-tuned EASE scored higher on test on {change['EASE higher']} of {change['runs']} real runs and "
        f"lower on {change['EASE lower']}" in text
    )
    assert (
        f"never chose a recommender worse by more than {change['largest fall']} on test, and chose better by up to "
        f"{change['largest rise']:.3f}" in text
    )
    same = protocol_change(saved_runs("sample", "one_fold"), saved_runs("sample", "count_features"))
    assert same["chosen higher"] == same["chosen lower"] == 0 and "the sample it did not move" in text
    assert (
        f"by up to {ml['validation seed spread']:.3f}** on movielens-small "
        f"({counts['ml']['validation seed spread']:.3f} with the count features, "
        f"{one['ml']['validation seed spread']:.3f} with one cut), and by up to "
        f"{sample['validation seed spread']:.3f} on the sample" in text
    )
    assert (
        f"within {ml['largest blend - EASE']} and {ml['largest decayed EASE - EASE']} of EASE on every real run, and "
        f"within {max(sample['largest blend - EASE'], sample['largest decayed EASE - EASE'])} on the sample" in text
    )
    recency = ("blend (max)", "blend (z)", "decayed EASE")
    clear = {
        name: sum(any(r["rows"][m]["vs_ease_ci95"][0] > 0 for m in recency) for r in saved_runs(name))
        for name in ("ml", "sample")
    }
    assert (
        f"one of them is above EASE with an interval above 0 on {clear['ml']} of 21 real runs and "
        f"{clear['sample']} of 21 sample runs" in text
    )
    low, high = ml["candidate recall"]
    assert f"hold {100 * low:.0f}-{100 * high:.0f} % of the relevant test movies on movielens-small" in text
    assert f"({100 * ml['candidate recall, global_known'][0]:.0f} % on global_known)" in text
    low, high = sample["candidate recall"]
    assert f"{100 * low:.0f}-{100 * high:.0f} % on the sample" in text


def test_the_benchmark_readme_reads_the_failing_cuts_right():
    text, runs = flat_file("benchmarks/README.md"), saved_runs("ml")
    not_clear = [r for r in runs if r["rows"]["chosen"]["vs_ease_ci95"][0] <= 0]
    assert {r["cut"] for r in not_clear} == {"global_known", "half_a", "half_b"}
    assert f"(the other {len(not_clear)} of 21 real runs)" in text
    known = [r for r in runs if r["cut"] == "global_known"]
    assert {r["n_test_users"] for r in known} == {28}
    assert all(r["rows"]["re-ranker"]["vs_ease_ci95"][0] <= 0 for r in known)
    assert "on `global_known` (28 users) the re-ranker's own gain interval includes 0 on every seed" in text
    halves = [r for r in runs if r["cut"].startswith("half")]
    open_halves = sum(r["rows"]["re-ranker"]["vs_ease_ci95"][0] <= 0 for r in halves)
    assert f"and on the halves (about 300 users each) on {open_halves} of {len(halves)} runs" in text
    kept = [r for r in halves if r["chosen"].startswith("blend")]
    assert all(r in not_clear for r in kept)
    missed = sum(r["rows"]["re-ranker"]["vs_ease_ci95"][0] > 0 for r in kept)
    assert (
        f"validation keeps a blend, within {max(abs(r['rows']['chosen']['vs_ease']) for r in kept):.3f} of EASE, on "
        f"{len(kept)} of the {len(halves)} halves; on {missed} of those the re-ranker's test gain was clear" in text
    )
    unreachable = [r for r in not_clear if not any(row["vs_ease_ci95"][0] > 0 for row in r["rows"].values())]
    assert (
        f"On {len(unreachable)} of the {len(not_clear)} runs no recommender of the table is above EASE with an "
        f"interval above 0 on test, so no choice made on validation could meet the goal there; on the other "
        f"{len(not_clear) - len(unreachable)} a clearly better one existed and validation did not pick it." in text
    )
    seconds = [r["seconds"] for name in ("ml", "sample") for r in saved_runs(name)]
    assert f"({min(seconds):.0f}-{max(seconds):.0f} s per cut" in text


def test_the_readme_states_the_saved_counts(summaries):
    text = flat_file("README.md")
    ml = summaries["ml"]
    assert (
        f"its gain over EASE excludes 0 on {ml['re-ranker gain above 0']} of {ml['runs']} runs, and two validation "
        f"folds chose it on {ml['chose the re-ranker']} (with the re-ranker's earlier count features: two folds on "
        f"{robustness_summary(saved_runs('ml', 'count_features'))['chose the re-ranker']}, a single validation cut "
        f"on {robustness_summary(saved_runs('ml', 'one_fold'))['chose the re-ranker']})" in text
    )


def test_the_readme_reads_where_validation_keeps_a_simpler_model():
    text, runs = flat_file("README.md"), saved_runs("ml")
    simpler = [r for r in runs if r["chosen"] != "re-ranker"]
    assert {r["n_test_users"] for r in runs if r["cut"] == "global_known"} == {28}
    known = [r for r in simpler if r["cut"] == "global_known"]
    halves = [r for r in simpler if r["cut"].startswith("half")]
    all_halves = sum(r["cut"].startswith("half") for r in runs)
    assert len(known) + len(halves) == len(simpler)
    not_clear = sum(r["rows"]["re-ranker"]["vs_ease_ci95"][0] <= 0 for r in simpler)
    assert (
        f"Where validation keeps a simpler model (the known users of a global cut, 28 of them, and {len(halves)} of "
        f"the {all_halves} halves of the users, about 300 users each), the re-ranker's own test gain is not clear on "
        f"{not_clear} of the {len(simpler)} runs; on the other {len(simpler) - not_clear} validation missed it." in text
    )
    assert {r["n_test_users"] // 100 for r in halves} <= {2, 3}  # "about 300 users"


def test_the_benchmark_readme_table_is_the_saved_runs():
    spec = importlib.util.spec_from_file_location("topn_robustness", ROOT / "benchmarks" / "topn_robustness.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    text = (ROOT / "benchmarks" / "README.md").read_text()
    assert benchmark.markdown(saved_runs("ml") + saved_runs("sample")) in text
