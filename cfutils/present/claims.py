"""Sentences that state facts about the run, each a function of the run's records.

A notebook prints a claim with ``display(Markdown(say(name)))``: the sentence is computed from the
values the notebook has recorded (:data:`cfutils.present.record.RECORDED`), in their JSON form. The
registry :data:`CLAIMS` says which notebook prints which claim, so a test can read the executed
notebook's records back, compute every claim again and check that the printed sentence is the same:
what a reader is told is what the run measured.

Records read: ``adequacy`` ({"ok", "warnings"}), ``winners`` ({segment: {"chosen", "best_on_test",
"indistinguishable"}}), ``segment_scores`` ({segment: {"n_users", "metric", "lower_is_better",
"models": {model: [value, lo, hi]}}}), ``paired`` ([{"model", "difference", "ci95", "verdict"}]),
``best_recommender``, ``grid_edge`` ({setting: {"value", "edge", "grid"}}), ``mean_popularity`` and
``catalogue_mean_popularity``; notebook 07's ``ranking_paired`` (as ``paired``) and ``cold_start_strategy``
({"rows_drop_would_remove", "rmse_with_drop", "rmse_with_nan_and_mean"}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cfutils.eval import INDISTINGUISHABLE, adequacy_banner
from cfutils.present.record import RECORDED

Records = Mapping[str, Any]


def _score(values: list[float]) -> str:
    value, lo, hi = values
    return f"{value:.4f} [{lo:.4f}, {hi:.4f}]"


def _names(models: list[str]) -> str:
    return ", ".join(f"*{m}*" for m in models) if models else "none"


def segment_sentences(records: Records) -> str:
    """One sentence per segment of users: the best on test with its interval, the chosen model, and
    the models indistinguishable from the best (their paired interval contains 0)."""
    lines = []
    for segment, winner in records["winners"].items():
        scores = records["segment_scores"][segment]
        models, metric = scores["models"], scores["metric"]
        best, chosen = winner["best_on_test"], winner["chosen"]
        tied = winner["indistinguishable"]
        chosen_part = (
            ""
            if chosen is None or chosen not in models
            else f" The model chosen on validation, *{chosen}*, scores {_score(models[chosen])}"
            + (
                " (it is the best)."
                if chosen == best
                else " (indistinguishable from the best)."
                if chosen in tied
                else " (worse than the best: the paired interval excludes 0)."
            )
        )
        lines.append(
            f"- **{segment}** ({scores['n_users']:,} users): best on test *{best}*, {metric} {_score(models[best])}."
            f"{chosen_part} Indistinguishable from the best on this data: {len(tied)} of {len(models) - 1} "
            f"other models ({_names(tied)})."
        )
    return "\n".join(lines)


def differing_segment(records: Records) -> str | None:
    """The segment where the most models are distinguishable from the best (None when in every
    segment every model is indistinguishable from the best, or there is no segment)."""
    distinguishable = {
        segment: len(records["segment_scores"][segment]["models"]) - 1 - len(winner["indistinguishable"])
        for segment, winner in records["winners"].items()
    }
    if not distinguishable or max(distinguishable.values()) == 0:
        return None
    return max(distinguishable, key=distinguishable.get)


def headline(records: Records) -> str:
    """The headline: about the segment where models differ, or that none does."""
    segment = differing_segment(records)
    if segment is None:
        return (
            "**Headline.** On this data no model is distinguishable from the best on test in any segment of "
            "users: every ranking below is within the noise of the users drawn."
        )
    winner, scores = records["winners"][segment], records["segment_scores"][segment]
    models = scores["models"]
    worse = len(models) - 1 - len(winner["indistinguishable"])
    return (
        f"**Headline ({segment}).** Models differ on {segment}: *{winner['best_on_test']}* is best on test "
        f"({scores['metric']} {_score(models[winner['best_on_test']])}), and {worse} of {len(models) - 1} other "
        f"models are worse with a paired 95 % interval that excludes 0."
    )


def verdict_counts(subject: str, paired: list[dict]) -> str:
    """``subject`` against each peer of ``paired`` (rows ``{"model", "verdict"}``, the verdict being on
    ``subject``): how many it is better than, indistinguishable from and worse than, by name."""
    counts = {verdict: [row["model"] for row in paired if row["verdict"] == verdict] for verdict in
              ("better", INDISTINGUISHABLE, "worse")}  # fmt: skip
    return (
        f"*{subject}* is better than {len(counts['better'])} ({_names(counts['better'])}), indistinguishable on "
        f"this data from {len(counts[INDISTINGUISHABLE])} ({_names(counts[INDISTINGUISHABLE])}) and worse than "
        f"{len(counts['worse'])} ({_names(counts['worse'])})"
    )


def paired_summary(records: Records) -> str:
    """How the chosen model compares with each peer, by the verdict of the paired interval."""
    chosen = verdict_counts(records["best_recommender"], records["paired"])
    return f"Against each peer on the same users, the chosen {chosen}."


def spark_paired_summary(records: Records) -> str:
    """Notebook 07: explicit ALS against each rating model (``paired``) and implicit ALS against most
    popular (``ranking_paired``), by the verdict of the paired interval over the same test users."""
    return (
        f"By the paired 95 % interval over the same test users, {verdict_counts('ALS (explicit)', records['paired'])} "
        f"in test RMSE; in NDCG@10, {verdict_counts('ALS (implicit)', records['ranking_paired'])}."
    )


def cold_start_strategy_sentence(records: Records) -> str:
    """Notebook 07: whether ``coldStartStrategy="drop"`` flatters explicit ALS on this run (record
    ``cold_start_strategy``: the RMSE on warm rows only against the RMSE on every row)."""
    strategy = records["cold_start_strategy"]
    dropped, kept = strategy["rmse_with_drop"], strategy["rmse_with_nan_and_mean"]
    if strategy["rows_drop_would_remove"] == 0:
        return 'This test set has no cold rows, so `"drop"` and `"nan"` score the same rows here.'
    if dropped < kept:
        return (
            f'Here `"drop"` flatters: it reports {dropped:.4f} instead of {kept:.4f}, by removing exactly the '
            f"{strategy['rows_drop_would_remove']:,} rows no factor model can predict."
        )
    return (
        f'Here `"drop"` does not flatter: the cold rows, given the train mean, score no worse than the rest '
        f"({kept:.4f} on every row against {dropped:.4f} on warm rows only)."
    )


def grid_edge_sentence(records: Records) -> str:
    """Which tuned values sit at an edge of their grid (their best may lie beyond it)."""
    edges = records["grid_edge"]
    if not edges:
        return "No tuned value sits at an edge of its grid."
    parts = [f"{name} = {e['value']:g} at the {e['edge']} end of {e['grid']}" for name, e in edges.items()]
    return "**At the edge of its grid** (the best value may lie beyond it; widen the grid): " + "; ".join(parts) + "."


def rating_predictor_popularity(records: Records) -> str:
    """How popular the pure rating predictor's movies are against the catalogue (notebook 06, section 1's question)."""
    popularity, catalogue = records["mean_popularity"], records["catalogue_mean_popularity"]
    name = next(model for model in popularity if model.startswith("MF rating predictor"))
    side = "more" if popularity[name] > catalogue else "less"
    return (
        f"On this run the lists of *{name}* average {popularity[name]:,.1f} train ratings per movie against a "
        f"catalogue mean of {catalogue:,.1f}: its movies are {side} popular than the average movie"
        + (", so here it does not put obscure movies on top." if side == "more" else ", as section 1 warned.")
    )


@dataclass(frozen=True)
class Claim:
    """A sentence a notebook prints, computed from records."""

    notebooks: tuple[str, ...]
    sentence: Callable[[Records], str]


CLAIMS = {
    "adequacy": Claim(("01", "02", "03", "04", "05", "06"), lambda r: adequacy_banner(r["adequacy"])),
    "segment_winners": Claim(("05", "06"), segment_sentences),
    "headline": Claim(("05", "06"), headline),
    "paired": Claim(("06",), paired_summary),
    "grid_edge": Claim(("05", "06", "07"), grid_edge_sentence),
    "rating_predictor_popularity": Claim(("06",), rating_predictor_popularity),
    "spark_paired": Claim(("07",), spark_paired_summary),
    "cold_start_strategy": Claim(("07",), cold_start_strategy_sentence),
}


def say(name: str, records: Records | None = None) -> str:
    """Claim ``name`` of :data:`CLAIMS`, computed from ``records`` (default: what this process recorded)."""
    return CLAIMS[name].sentence(RECORDED if records is None else records)
