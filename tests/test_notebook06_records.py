"""README.md's "Top-N lists on real data" section states the saved notebook 06 runs
(``benchmarks/results/notebook06.json``, kept by ``benchmarks/notebook06_records.py``): each table line and
sentence below is rendered from those records and must be in the README as written."""

from __future__ import annotations

import json

import pytest
from readme_text import ROOT, flat, flat_file

MAIN_RUN = "movielens-small, per_user_time"
#: Notebook 06's recency rows (cfutils.lists.RecencyFamily.named): recent-kNN, decayed EASE, the better blend.
RECENCY_ROWS = ("recent-kNN (m=", "EASE, decayed (h=", "EASE + recent-kNN blend (")


def saved() -> dict:
    return json.loads((ROOT / "benchmarks" / "results" / "notebook06.json").read_text())


def ndcg(run: dict) -> dict[str, float]:
    return {row["model"]: row["ndcg@10"] for row in run["ranking"]}


def ease_name(run: dict) -> str:
    return next(row["model"] for row in run["ranking"] if row["model"].startswith("EASE (λ="))


def versus_ease(run: dict) -> str:
    """The chosen recommender's paired gain over λ-tuned EASE on test, with its interval and verdict."""
    if run["best_recommender"] == ease_name(run):
        return "EASE itself"
    row = next(row for row in run["paired"] if row["model"] == ease_name(run))  # chosen − EASE
    lo, hi = row["ci95"]
    return f"{row['difference']:+.4f} [{lo:.4f}, {hi:.4f}] ({row['verdict']})"


def ranking_lines(run: dict) -> list[str]:
    """The main run's table: validation and test NDCG@10 [95 % CI] and the other list metrics; the chosen one bold."""
    lines = []
    for row in run["ranking"]:
        name = f"**{row['model']}**" if row["model"] == run["best_recommender"] else row["model"]
        lo, hi = row["ndcg@10_ci95"]
        lines.append(
            f"| {name} | {run['validation_ndcg'][row['model']]:.4f} | {row['ndcg@10']:.4f} [{lo:.4f}, {hi:.4f}] "
            f"| {row['precision@10']:.4f} | {row['recall@10']:.4f} | {row['map@10']:.4f} | {row['coverage']:.3f} |"
        )
    return lines


def main_sentences(run: dict) -> list[str]:
    best, scores = run["best_recommender"], ndcg(run)
    top = max(run["validation_ndcg"], key=run["validation_ndcg"].get)
    on_test = max(scores, key=scores.get)
    recall = run["candidate_recall"]["candidate_recall"]
    validation = run["validation_ndcg"]
    chosen = f"The one-standard-error rule (simplest first) chose **{best}** on validation ({validation[best]:.4f}"
    chosen += "; the best validation mean)." if best == top else f"; the best mean, {top}, {validation[top]:.4f})."
    sentences = [
        chosen,
        f"On test it scores {scores[best]:.4f}, {scores[best] / scores[ease_name(run)]:.3f}× {ease_name(run)} "
        f"({scores[ease_name(run)]:.4f}): a paired gain of {versus_ease(run)}.",
        f"The best on test: {on_test}, {scores[on_test]:.4f}.",
        f"The re-ranker's candidates hold {recall:.1%} of the relevant test movies: that is its ceiling.",
    ]
    for row in run["leakage"]:
        honest, leaky = row["as of the user's last train rating"], row["as of the end of train (leaky)"]
        sentences.append(
            f"Leakage check, {row['model']}: features as of the end of train instead of the user's last train "
            f"rating score {leaky:.4f} instead of {honest:.4f} ({row['inflation']:+.1%})."
        )
    edges = [
        f"{name} at {edge['value']:.3g} ({edge['edge']} of the extended grid)"
        for name, edge in run["grid_edge"].items()
    ]
    sentences.append(f"Grid edges this run records (`grid_edge`): {'; '.join(edges) or 'none'}.")
    return sentences


def split_line(key: str, run: dict) -> str:
    """One line of the table of every saved run: the chosen recommender against the peers, on test."""
    scores, best = ndcg(run), run["best_recommender"]
    recency = [name for name in run["validation_ndcg"] if name.startswith(RECENCY_ROWS)]
    best_recency = max(recency, key=run["validation_ndcg"].get)
    users = {row["users"]: row["n_users"] for row in run["ranking_by_users"] if row["model"] == best}
    known = f"{users.get('known', 0):,} known, {users.get('new', 0):,} new"
    peer = {name: next(v for model, v in scores.items() if model.startswith(name)) for name in ("ALS", "BPR", "random")}
    return (
        f"| {key} ({known}) | {best} | {scores[best]:.4f} | {versus_ease(run)} | {scores[ease_name(run)]:.4f} "
        f"| {scores[best_recency]:.4f} | {scores['most popular']:.4f} | {peer['ALS']:.4f} | {peer['BPR']:.4f} "
        f"| {peer['random']:.4f} | {run['candidate_recall']['candidate_recall']:.1%} |"
    )


def section(runs: dict) -> list[str]:
    """Every line the README section must hold, in order."""
    main = runs[MAIN_RUN]
    return [
        *ranking_lines(main),
        *main_sentences(main),
        *(split_line(key, run) for key, run in sorted(runs.items())),
    ]


def test_the_readme_states_the_saved_notebook06_runs():
    readme, runs = flat_file("README.md"), saved()
    assert MAIN_RUN in runs and len(runs) >= 4
    missing = [line for line in section(runs) if flat(line) not in readme]
    assert not missing, "README.md differs from benchmarks/results/notebook06.json:\n" + "\n".join(missing)
    text = (ROOT / "README.md").read_text()
    section_text = flat(text[text.index("### Top-N lists on real data") : text.index("### Beyond accuracy")])
    for key, run in runs.items():
        assert f"measured at {run['commit']}" in section_text, key


@pytest.mark.parametrize("key", [MAIN_RUN])
def test_the_saved_records_are_whole(key):
    run = saved()[key]
    assert run["best_recommender"] in ndcg(run) and set(run["validation_ndcg"]) == set(ndcg(run))
    for row in run["ranking"]:
        lo, hi = row["ndcg@10_ci95"]
        assert lo <= row["ndcg@10"] <= hi


def test_the_readmes_reading_of_the_saved_runs_holds():
    readme, runs = flat_file("README.md"), saved()
    not_better = sorted(key for key, run in runs.items() if "(better)" not in versus_ease(run))
    assert not_better == ["movielens-small, global_time", "movielens-small, random"]
    assert versus_ease(runs["movielens-small, random"]) == "EASE itself"
    assert "(indistinguishable on this data)" in versus_ease(runs["movielens-small, global_time"])
    assert (
        "rule has kept EASE itself (movielens-small, `random`) or a model indistinguishable from it "
        "(movielens-small, `global_time`), not one below it" in readme
    )
    users = {row["users"]: row["n_users"] for row in runs["movielens-small, global_time"]["ranking_by_users"]}
    assert users["new"] > users["known"]
    assert "Under `global_time` on movielens-small most test users are new" in readme
