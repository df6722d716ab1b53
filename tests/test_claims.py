"""Every claim a notebook prints agrees with its records; intervals, winners and adequacy are recorded.

The notebooks run once per session on the tiny data (``pipeline_run``) and once on the eleven-movie
file (``eleven_movie_run``, notebooks 03-06). For each claim of :data:`cfutils.present.claims.CLAIMS`
the sentence is computed again from the executed notebook's records and must be among its printed
markdown: a reader is told what the run measured. ``CFUTILS_REAL_CLAIMS=1`` (outside CI) also runs
05 and 06 on movielens-small under two splits.
"""

from __future__ import annotations

import os

import nbformat
import pytest
from conftest import NOTEBOOKS_DIR, run_pipeline

from cfutils.present.claims import CLAIMS

STEMS = {path.name[:2]: path.stem for path in NOTEBOOKS_DIR.glob("0[1-6]_*.ipynb")}


def printed_markdown(run, stem: str) -> str:
    notebook = nbformat.read(run.output_dir / f"{stem}.ipynb", as_version=4)
    return "\n".join(
        output.get("data", {}).get("text/markdown", "") for cell in notebook.cells for output in cell.get("outputs", [])
    )


def check_claims(run, numbers, stems=STEMS) -> None:
    for number in numbers:
        stem = stems[number]
        records, printed = run.records(stem), printed_markdown(run, stem)
        for name, claim in CLAIMS.items():
            if number in claim.notebooks:
                sentence = claim.sentence(records)
                assert sentence in printed, f"{stem}: claim {name!r} not printed as the records say:\n{sentence}"


def check_intervals_and_winners(run) -> None:
    results = [row for row in run.records(STEMS["05"])["results"] if "skipped" not in row]
    ranking = run.records(STEMS["06"])["ranking"]
    for rows, metric in ((results, "test_rmse"), (ranking, "ndcg@10")):
        for row in rows:
            lo, hi = row[f"{metric}_ci95"]
            assert lo <= row[metric] <= hi, row
    for number in ("05", "06"):
        records = run.records(STEMS[number])
        assert set(records["winners"]) <= {"known users", "new users"} and records["winners"]
        for winner in records["winners"].values():
            assert set(winner) == {"chosen", "best_on_test", "indistinguishable"}
            assert winner["best_on_test"] not in winner["indistinguishable"]
    paired = run.records(STEMS["06"])["paired"]
    assert {row["model"] for row in paired} == {row["model"] for row in ranking} - {
        run.records(STEMS["06"])["best_recommender"]
    }


def test_claims_agree_with_the_records_on_the_tiny_data(pipeline_run):
    check_claims(pipeline_run, ["01", "02", "03", "04", "05", "06"])


def test_intervals_and_winners_on_the_tiny_data(pipeline_run):
    check_intervals_and_winners(pipeline_run)


def test_every_notebook_records_adequacy(pipeline_run):
    for stem in STEMS.values():
        adequacy = pipeline_run.records(stem)["adequacy"]
        assert adequacy["ok"] == (not adequacy["warnings"])


def test_the_eleven_movie_file_is_flagged_in_03_to_06(eleven_movie_run):
    check_claims(eleven_movie_run, ["03", "04", "05", "06"])
    for number in ("03", "04", "05", "06"):
        adequacy = eleven_movie_run.records(STEMS[number])["adequacy"]
        assert not adequacy["ok"], number
        assert any("11 movies" in warning for warning in adequacy["warnings"]), (number, adequacy)


@pytest.mark.skipif(os.environ.get("CFUTILS_REAL_CLAIMS") != "1", reason="real data, minutes: CFUTILS_REAL_CLAIMS=1")
@pytest.mark.parametrize("split", ["global_time", "per_user_time"])
def test_claims_on_movielens_small(split, tmp_path):
    only = ("--only", "05", "--only", "06", "--split", split)
    run = run_pipeline(*only, data="movielens-small", output_dir=tmp_path)
    check_claims(run, ["05", "06"])
    check_intervals_and_winners(run)


def test_claim_sentences_from_hand_made_records():
    from cfutils.present.claims import differing_segment, grid_edge_sentence, headline, paired_summary

    def scores(models):
        return {"n_users": 10, "metric": "NDCG@10", "lower_is_better": False, "models": models}

    same = [0.2, 0.1, 0.3]
    records = {
        "winners": {
            "known users": {"chosen": "a", "best_on_test": "b", "indistinguishable": ["a"]},
            "new users": {"chosen": "a", "best_on_test": "a", "indistinguishable": ["b", "c"]},
        },
        "segment_scores": {
            "known users": scores({"a": [0.3, 0.2, 0.4], "b": [0.35, 0.25, 0.45], "c": [0.1, 0.05, 0.15]}),
            "new users": scores({"a": same, "b": same, "c": same}),
        },
        "paired": [
            {"model": "b", "verdict": "indistinguishable on this data"},
            {"model": "c", "verdict": "better"},
        ],
        "best_recommender": "a",
        "grid_edge": {},
    }
    assert differing_segment(records) == "known users"
    assert headline(records).startswith("**Headline (known users).** Models differ on known users: *b* is best")
    assert "1 of 2 other models are worse" in headline(records)
    summary = paired_summary(records)
    assert "*a* is better than 1 (*c*), indistinguishable on this data from 1 (*b*) and worse than 0 (none)" in summary
    assert grid_edge_sentence(records) == "No tuned value sits at an edge of its grid."
    records["winners"]["known users"]["indistinguishable"] = ["a", "c"]
    assert differing_segment(records) is None and "no model is distinguishable" in headline(records)


def test_spark_claims_from_hand_made_records():
    from cfutils.present.claims import cold_start_strategy_sentence, spark_paired_summary

    records = {
        "paired": [
            {"model": "baseline", "verdict": "worse"},
            {"model": "svd", "verdict": "indistinguishable on this data"},
        ],
        "ranking_paired": [{"model": "most popular", "verdict": "better"}],
    }
    sentence = spark_paired_summary(records)
    assert (
        "*ALS (explicit)* is better than 0 (none), indistinguishable on this data from 1 (*svd*) "
        "and worse than 1 (*baseline*)" in sentence
    )
    assert "*ALS (implicit)* is better than 1 (*most popular*)" in sentence
    strategy = {"rows_drop_would_remove": 12, "rmse_with_drop": 0.90, "rmse_with_nan_and_mean": 0.95}
    assert cold_start_strategy_sentence({"cold_start_strategy": strategy}).startswith('Here `"drop"` flatters')
    strategy["rmse_with_drop"] = 0.97
    assert "does not flatter" in cold_start_strategy_sentence({"cold_start_strategy": strategy})
    strategy["rows_drop_would_remove"] = 0
    assert "no cold rows" in cold_start_strategy_sentence({"cold_start_strategy": strategy})
