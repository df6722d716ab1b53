"""The saved runs of ``benchmarks/topn_robustness.py``, read back: one table and the counts that notebook 06
and the READMEs state (a test checks each sentence against these counts).

A run is one (data set, cut, seed): the chosen recommender's name (``chosen``), its per-user validation
NDCG by peer (``validation_ndcg``) and, by row, the test NDCG@10 (``ndcg@10``) with the paired gain over
λ-tuned EASE and its 95 % bootstrap interval (``vs_ease``, ``vs_ease_ci95``). A gain counts as above
(below) 0 when its interval's lower (upper) end is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

#: The rows that compete for "best on test".
PEERS = ("EASE (λ tuned)", "blend (max)", "blend (z)", "decayed EASE", "re-ranker")
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
                "chosen / EASE": round(r["rows"]["chosen"]["ndcg@10"] / r["rows"]["EASE (λ tuned)"]["ndcg@10"], 3),
                "gain over EASE, 95 % CI": r["rows"]["chosen"]["vs_ease_ci95"],
            }
            for r in runs
        ]
    )


def robustness_summary(runs: list[dict]) -> dict:
    """The counts of one data set's runs (module docstring); the seed spread is the largest range of the
    re-ranker's validation NDCG over the seeds of a cut in ``SEED_FREE_CUTS``."""
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
    }
