"""The saved runs of ``benchmarks/topn_robustness.py``, read back: one table and the counts that notebook 06
and the READMEs state (a test checks each sentence against these counts).

A run is one (data set, cut, seed): the chosen recommender's name (``chosen``), the validation NDCG@10
(mean over users) of each candidate for the choice (``validation_ndcg``: the decayed EASE, the blends, the
re-ranker) and, by row, the test NDCG@10 (``ndcg@10``) with the paired gain over
λ-tuned EASE and its 95 % bootstrap interval (``vs_ease``, ``vs_ease_ci95``). A gain counts as above
(below) 0 when its interval's lower (upper) end is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

#: The rows that compete for "best on test".
EASE_ROW = "EASE (λ tuned)"
PEERS = (EASE_ROW, "blend (max)", "blend (z)", "decayed EASE", "re-ranker")
#: Cuts whose split does not depend on the seed: across seeds only the re-ranker's trees change.
SEED_FREE_CUTS = ("pu0.1", "pu0.2", "pu0.3", "last5", "global_known")


def load_runs(paths: Iterable[Path]) -> list[dict]:
    """Every run of the JSON files ``paths`` (each a list of runs), in file order."""
    return [run for path in paths for run in json.loads(Path(path).read_text())]


def best_on_test(run: dict) -> str:
    """The peer with the highest test NDCG@10 of a run."""
    return max(PEERS, key=lambda peer: run["rows"][peer]["ndcg@10"])


def gain_above_zero(run: dict, row: str = "chosen") -> bool:
    return run["rows"][row]["vs_ease_ci95"][0] > 0


def robustness_table(runs: list[dict]) -> pd.DataFrame:
    """One line per run: the best peer on test, the one chosen on validation, and the chosen one's test
    NDCG@10 over λ-tuned EASE's with its paired gain's 95 % interval."""
    return pd.DataFrame(
        [
            {
                "data": r["data"],
                "cut": r["cut"],
                "seed": r["seed"],
                "best on test": best_on_test(r),
                "chosen on validation": r["chosen"],
                "chosen / EASE": round(r["rows"]["chosen"]["ndcg@10"] / r["rows"][EASE_ROW]["ndcg@10"], 3),
                "gain over EASE, 95 % CI": r["rows"]["chosen"]["vs_ease_ci95"],
            }
            for r in runs
        ]
    )


def robustness_summary(runs: list[dict]) -> dict:
    """The counts of one data set's runs (module docstring); the seed spread is the largest range of the
    re-ranker's validation NDCG over the seeds of a cut in ``SEED_FREE_CUTS``; the largest gaps of the
    best simple blend and of the decayed EASE to λ-tuned EASE on test; the range of the re-ranker's
    candidate recall on the cuts other than ``global_known``, and on it."""
    spread: dict[str, list[float]] = {}
    for r in runs:
        if r["cut"] in SEED_FREE_CUTS:
            spread.setdefault(r["cut"], []).append(r["validation_ndcg"]["re-ranker"])
    return {
        "runs": len(runs),
        "re-ranker best on test": sum(best_on_test(r) == "re-ranker" for r in runs),
        "re-ranker gain above 0": sum(gain_above_zero(r, "re-ranker") for r in runs),
        "chose the re-ranker": sum(r["chosen"] == "re-ranker" for r in runs),
        "chosen gain above 0": sum(gain_above_zero(r) for r in runs),
        "chosen gain below 0": sum(r["rows"]["chosen"]["vs_ease_ci95"][1] < 0 for r in runs),
        "validation seed spread": round(max((max(v) - min(v) for v in spread.values()), default=0.0), 4),
        "largest blend - EASE": largest_gap(runs, lambda r: r["best_blend"]),
        "largest decayed EASE - EASE": largest_gap(runs, lambda r: "decayed EASE"),
        "candidate recall": value_range(r["candidate_recall"] for r in runs if r["cut"] != "global_known"),
        "candidate recall, global_known": value_range(
            r["candidate_recall"] for r in runs if r["cut"] == "global_known"
        ),
    }


def largest_gap(runs: list[dict], row_of) -> float:
    """The largest |NDCG@10 of row ``row_of(run)`` − λ-tuned EASE's| on test over the runs."""
    gaps = [abs(r["rows"][row_of(r)]["ndcg@10"] - r["rows"][EASE_ROW]["ndcg@10"]) for r in runs]
    return round(max(gaps, default=0.0), 4)


def value_range(values: Iterable[float]) -> list[float] | None:
    """[lowest, highest] of the values, None when there are none."""
    values = list(values)
    return [min(values), max(values)] if values else None


def protocol_change(before: list[dict], after: list[dict]) -> dict:
    """The same cuts run under two validation protocols (e.g. one validation cut, then two rolling folds):
    on how many the chosen recommender's test NDCG@10 rose and fell, the largest fall and rise (0 when
    none), the same two counts for the λ-tuned EASE, and how many chosen gains over λ-tuned EASE have
    their interval above 0 under each. Runs are matched by (data, cut, seed); each protocol tunes its own
    EASE, so the gains are against different baselines."""
    old = {(r["data"], r["cut"], r["seed"]): r for r in before}
    pairs = [(old[key], r) for r in after if (key := (r["data"], r["cut"], r["seed"])) in old]
    change = [new["rows"]["chosen"]["ndcg@10"] - was["rows"]["chosen"]["ndcg@10"] for was, new in pairs]
    ease = [new["rows"][EASE_ROW]["ndcg@10"] - was["rows"][EASE_ROW]["ndcg@10"] for was, new in pairs]
    return {
        "runs": len(pairs),
        "chosen higher": sum(c > 0 for c in change),
        "chosen lower": sum(c < 0 for c in change),
        "largest fall": round(max(0.0, -min(change, default=0.0)), 4),
        "largest rise": round(max(0.0, max(change, default=0.0)), 4),
        "EASE higher": sum(c > 0 for c in ease),
        "EASE lower": sum(c < 0 for c in ease),
        "gain above 0 before": sum(gain_above_zero(was) for was, _ in pairs),
        "gain above 0 after": sum(gain_above_zero(new) for _, new in pairs),
    }


def clear_gain_counts(runs: list[dict]) -> pd.DataFrame:
    """Per (cut, data set): ``clear``, on how many seeds the chosen recommender beats λ-tuned EASE with a
    paired interval above 0, and ``runs``, how many seeds ran."""
    table = pd.DataFrame([{"data": r["data"], "cut": r["cut"], "clear": gain_above_zero(r)} for r in runs])
    if table.empty:
        return pd.DataFrame(columns=["clear", "runs"], index=pd.MultiIndex.from_tuples([], names=["cut", "data"]))
    return table.groupby(["cut", "data"], sort=False)["clear"].agg(clear="sum", runs="size")


def clear_gains_by_cut(runs: list[dict]) -> pd.DataFrame:
    """:func:`clear_gain_counts` as a table, cuts (rows) by data set (columns), each ``"k of n"``."""
    counts = clear_gain_counts(runs)
    if counts.empty:
        return counts
    return (counts["clear"].astype(str) + " of " + counts["runs"].astype(str)).unstack("data")


def cuts_clear_on_every_seed(runs: list[dict]) -> list[str]:
    """The cuts on which the chosen recommender beats λ-tuned EASE, interval above 0, on every seed of every
    data set, in run order."""
    counts = clear_gain_counts(runs)
    every = (counts["clear"] == counts["runs"]).groupby(level="cut", sort=False).all()
    return [str(cut) for cut in every.index[every.to_numpy()]]
