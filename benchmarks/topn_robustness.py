"""Top-N recommenders on many evaluation cuts: does the winner hold when the protocol or the data changes?

For each cut (data set x protocol x seed) every choice is made on ``VALIDATION_FOLDS`` rolling validation
folds of *train*, cut by the package's rule for lists (:class:`cfutils.lists.FoldValidation`; ``--folds 1``
is the single validation cut of :func:`cfutils.data.split.validation_cut`): EASE's λ, the recent-kNN's m,
the decayed EASE's half-life, the blend's weight and normalisation (log grids that extend themselves
at an edge, each by the one-standard-error rule towards the simpler end, :func:`cfutils.eval.search_grid`),
and the chosen recommender (:func:`cfutils.eval.one_standard_error` on the paired per-user difference,
over the best simple blend, the decayed EASE and the re-ranker, simplest first). Each is then
refit on the whole train and scored on test: NDCG@10 per known test user, a 95 % bootstrap interval
over users, and the paired gain over the λ-tuned EASE and over the best simple blend (same resamples,
:func:`cfutils.eval.user_bootstrap`).

Cuts: ``pu0.1``, ``pu0.2``, ``pu0.3`` (``per_user_time``, test shares), ``last5`` (each user's last 5
ratings, users with at least 10), ``global_known`` (``global_time`` 0.2, test restricted to users
train knows), ``half_a`` / ``half_b`` (two random halves of the users, ``per_user_time`` 0.2).

    .venv/bin/python benchmarks/topn_robustness.py --data movielens-small --cuts pu0.2,last5 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cfutils.core.train_data import TrainData
from cfutils.data.dataset import load_dataset
from cfutils.data.split import Split, make_split, sample_ids
from cfutils.eval import one_standard_error, search_grid, user_bootstrap
from cfutils.lists import (
    BLENDS,
    EASE,
    FoldValidation,
    PopularRecommender,
    ReRanker,
    candidate_recall,
    tune_recency,
    validation_ndcg_by_user,
)
from cfutils.present.robustness import load_runs, robustness_summary

DATA = {"movielens-small": "data/movielens-small", "sample": "sample"}
CUTS = ("pu0.1", "pu0.2", "pu0.3", "last5", "global_known", "half_a", "half_b")
RESULTS = Path(__file__).parent / "results" / "topn_robustness.json"
LAMBDA_GRID = [30.0, 100.0, 300.0, 1000.0, 3000.0]
#: Rolling-origin validation folds every choice is made on (:class:`cfutils.lists.FoldValidation`).
VALIDATION_FOLDS = 2


def last_k_split(ratings: pd.DataFrame, k: int = 5, min_ratings: int = 10) -> Split:
    """Each user's latest ``k`` ratings (date, then movie id) are test, for users with ``min_ratings`` or more."""
    ordered = ratings.sort_values(["user_id", "date", "movie_id"])
    from_end = ordered.groupby("user_id").cumcount(ascending=False).to_numpy()
    count = ordered.groupby("user_id")["movie_id"].transform("size").to_numpy()
    is_test = pd.Series((from_end < k) & (count >= min_ratings), index=ordered.index).reindex(ratings.index)
    return Split(ratings[~is_test.to_numpy()], ratings[is_test.to_numpy()])


def cut(ratings: pd.DataFrame, name: str, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(train, test of users train knows, the split rule validation follows) of one cut (module docstring)."""
    if name.startswith("pu"):
        train, test = make_split(ratings, "per_user_time", float(name[2:]))
        method = "per_user_time"
    elif name == "last5":
        (train, test), method = last_k_split(ratings), "per_user_time"
    elif name == "global_known":
        (train, test), method = make_split(ratings, "global_time", 0.2), "global_time"
    else:
        users = np.unique(ratings["user_id"].to_numpy())
        half = sample_ids(users, users.size // 2, 2 * seed + (name == "half_b"))
        train, test = make_split(ratings[ratings["user_id"].isin(half)], "per_user_time", 0.2)
        method = "per_user_time"
    return train, test[test["user_id"].isin(train["user_id"])], method


def tune(folds: FoldValidation, method: str, seed: int) -> tuple[dict, dict, pd.DataFrame]:
    """(settings, the recommender of each row as a factory, per-user validation NDCG) tuned on validation.

    EASE's λ by :func:`cfutils.eval.search_grid` (the one-standard-error rule towards the larger λ, on
    a log grid that extends itself at an edge), then the recency family by
    :func:`cfutils.lists.tune_recency`, on the per-user NDCG averaged over the validation folds.
    """
    lam_search = search_grid(lambda v: folds.score(EASE(v)), LAMBDA_GRID, "larger")
    lam = lam_search.chosen
    family = tune_recency(folds, lam)
    settings = {"lam": lam, **family.settings()}
    if lam_search.edge:
        settings["grid_edges"] = {"lam": lam_search.edge, **settings["grid_edges"]}
    members = family.recommenders()
    factories = {
        "most popular": lambda: PopularRecommender(),
        "EASE (λ tuned)": lambda: EASE(lam),
        **{name: lambda name=name: family.recommenders()[name] for name in members},
        "re-ranker": lambda: ReRanker(ease=EASE(lam), split=method, seed=seed),
    }
    validation_scores = family.validation.assign(**{"re-ranker": folds.score(factories["re-ranker"]())})
    return settings, factories, validation_scores


def run_cut(ratings: pd.DataFrame, data: str, name: str, seed: int, n_folds: int = VALIDATION_FOLDS) -> dict:
    start = time.perf_counter()
    train, test, method = cut(ratings, name, seed)
    folds = FoldValidation(train, method, 0.2, n_folds, seed=seed)
    settings, factories, validation_scores = tune(folds, method, seed)
    best_blend = str(validation_scores[list(BLENDS.values())].mean().idxmax())
    chosen = one_standard_error(validation_scores, [best_blend, "decayed EASE", "re-ranker"])
    full = TrainData(train)
    fitted = {row: factory().fit(full) for row, factory in factories.items()}
    per_user = pd.DataFrame({row: validation_ndcg_by_user(rec, test) for row, rec in fitted.items()})
    per_user["chosen"] = per_user[chosen]
    boot = user_bootstrap(per_user, seed=seed)
    rows = {}
    for row in per_user.columns:
        rows[row] = {"ndcg@10": round(float(boot.point[row]), 4), "ci95": rounded(boot.interval(row))}
        for base, label in (("EASE (λ tuned)", "vs_ease"), (best_blend, "vs_blend")):
            versus = boot.difference(row, base)
            rows[row][label] = round(versus["difference"], 4)
            rows[row][f"{label}_ci95"] = rounded(versus["ci95"])
    recall = candidate_recall(fitted["re-ranker"], test)
    return {
        "data": data,
        "cut": name,
        "seed": seed,
        "validation_folds": n_folds,
        "n_test_users": len(per_user),
        "chosen": chosen,
        "best_blend": best_blend,
        "validation_ndcg": validation_scores.mean().round(4).to_dict(),
        "settings": settings,
        "candidate_recall": round(recall["candidate_recall"], 4),
        "mean_candidates": round(recall["mean_candidates"], 1),
        "rows": rows,
        "seconds": round(time.perf_counter() - start, 1),
    }


def rounded(interval: list[float]) -> list[float]:
    return [round(v, 4) for v in interval]


def markdown(results: list[dict]) -> str:
    """One line per cut: NDCG@10 [95 % CI] of the main rows, and the choice with its paired gains."""
    lines = [
        "| data | cut | seed | users | EASE (λ tuned) | best simple blend | decayed EASE | re-ranker "
        "| chosen on validation | chosen − EASE, paired [95 % CI] | chosen − blend, paired [95 % CI] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows = r["rows"]
        cell = {
            name: f"{row['ndcg@10']:.4f} [{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}]" for name, row in rows.items()
        }
        paired = rows["chosen"]
        lines.append(
            f"| {r['data']} | {r['cut']} | {r['seed']} | {r['n_test_users']} | {cell['EASE (λ tuned)']} "
            f"| {cell[r['best_blend']]} {r['best_blend'][7:-1]} | {cell['decayed EASE']} | {cell['re-ranker']} "
            f"| {r['chosen']} "
            f"| {paired['vs_ease']:+.4f} {paired['vs_ease_ci95']} "
            f"| {paired['vs_blend']:+.4f} {paired['vs_blend_ci95']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="movielens-small", help=f"comma-separated of {', '.join(DATA)}")
    parser.add_argument("--cuts", default=",".join(CUTS), help=f"comma-separated of {', '.join(CUTS)}")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds (0,1,2)")
    parser.add_argument("--folds", type=int, default=VALIDATION_FOLDS, help="rolling-origin validation folds")
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON file; results are merged into it")
    args = parser.parse_args()
    old = load_runs([args.output]) if args.output.exists() else []
    for data in args.data.split(","):
        ratings = load_dataset(DATA[data]).ratings
        for name in args.cuts.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                result = run_cut(ratings, data, name, seed, args.folds)
                old = [r for r in old if (r["data"], r["cut"], r["seed"]) != (data, name, seed)] + [result]
                args.output.parent.mkdir(parents=True, exist_ok=True)
                args.output.write_text(json.dumps(old, indent=1, ensure_ascii=False))
                print(markdown([result]).splitlines()[-1], f"({result['seconds']} s)", flush=True)
    print(markdown(old))
    for data in args.data.split(","):
        print(data, robustness_summary([r for r in old if r["data"] == data]))


if __name__ == "__main__":
    main()
