"""Every stage of the project on Netflix-size data, with the wall time and peak RSS of each.

    python benchmarks/scale.py --fraction 0.05 --output benchmarks/results/scale_0.05.json
    python benchmarks/scale.py --fraction 1 --output benchmarks/results/scale_1.json

At ``--fraction 1`` the data has the size of the Netflix Prize training set (480,189 users,
17,770 movies, 100,480,507 ratings, four Kaggle files); at a smaller fraction, users and
ratings are scaled and all movies kept (``cfutils.data.synth.NETFLIX.scaled``). The stages:

 1. ``generate``        write the Kaggle files with cfutils.data.synth (skipped when up to date)
 2. ``parse_and_cache`` read_ratings with a cold parquet cache
 3. ``reload``          read_ratings again, from the cache
 4. ``prize_files``     the Netflix Prize's hold-out of these ratings (each user's latest, up to 9;
                        cfutils.data.io.prize.prize_holdout), written as probe.txt and qualifying.txt
 5. ``probe``           the Prize's protocol on them: read both files, the probe split
                        (cfutils.data.io.prize.find_pairs) of the ratings without the qualifying ones,
                        BiasBaseline fitted on train, its probe RMSE, and its predictions of
                        every qualifying pair written as a submission
 6. ``split``           temporal_split, 80/20 by date
 7. ``matrix``          RatingMatrix of train (compact ids, CSR + CSC), in the TrainData the next stages share
 8. ``movie_top_k``     cosine_top_k of all movies (k = --k)
 9. ``user_top_k``      cosine_top_k of the sampled users against all users (k = --k)
10. ``features``        the 13 features of the train rows and the test rows of the sampled users, from
                        that TrainData's matrix and neighbour lists
11. ``xgboost_fit``     XGBRegressor on the train features
12. ``test_rmse``       RMSE of XGBoost on the sampled users' test rows
    ``bayes_fm``        the Bayesian FM (cfutils.rating.bayes_fm, ``--fm-iter`` Gibbs sweeps) fitted on
                        the sampled users' train rows, and its RMSE on their test rows; skipped with the
                        memory guard's reason when its estimate exceeds the step budget
13. ``top_n_ease``      EASE fit (the ``--ease-items`` most rated movies; 0: all) + top-10 lists of 1,000 users
14. ``top_n_rerank``    the re-ranker (EASE and item-kNN candidates, XGBRanker trained on a
                        global_time validation cut of train) fit + top-10 lists of the same users

``--prize-only`` stops after stage 5 (the Prize's protocol at a size where the whole run would
not fit the machine's time or memory). ``--top-n-only`` runs stages 1-3, 6, 13 and 14: the top-N
stages at full size without the hour of the others. ``--ease-only`` runs stages 1-3, 6 and 13:
EASE alone, e.g. on all 17,770 movies (``--ease-items 0``).

Users are sampled so that their train rows number ``--train-rows`` x fraction (5M at full
size): sample users first, then keep all their rows, as the notebooks do. Each stage's peak
RSS is read from the kernel's high-water mark (``VmHWM``), reset before the stage.

Memory guards: before the run, the fixed cost of the largest stages is estimated from the
ratings count and checked against ``--memory-budget-gb``; heavy stages have their own
``budget_bytes``. A run that would not fit stops with a message naming the option to change.

The JSON written to ``--output`` holds ``ratings``, ``fraction``, ``total_seconds``,
``peak_rss_mb``, ``stages`` (name -> ``seconds``, ``peak_rss_mb``), ``test_rmse``, ``bayes_fm``
(``test_rmse``, ``estimated_mb``, or ``skipped``) and ``prize``
(``probe_pairs``, ``qualifying_pairs``, ``probe_rmse`` of the BiasBaseline).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xgboost

from cfutils.core.memory import (
    DEFAULT_BUDGET_BYTES,
    GiB,
    MemoryBudgetError,
    MiB,
    check_budget,
    peak_rss_bytes,
    reset_peak_rss,
)
from cfutils.core.similarity.engine import cosine_top_k
from cfutils.core.train_data import TrainData
from cfutils.data import synth
from cfutils.data.io import read_ratings
from cfutils.data.io.prize import (
    PROBE_NAME,
    QUALIFYING_NAME,
    find_pairs,
    prize_holdout,
    read_probe,
    read_qualifying,
    write_probe,
    write_qualifying,
    write_qualifying_predictions,
)
from cfutils.data.split import temporal_split
from cfutils.eval.metrics import rmse
from cfutils.lists.ease import EASE
from cfutils.lists.item_knn import ItemKNN
from cfutils.lists.rerank import ReRanker
from cfutils.rating.bayes_fm import BayesFM
from cfutils.rating.features import feature_names, similarity_features
from cfutils.rating.models import BiasBaseline

BENCHMARKS_DIR = Path(__file__).resolve().parent
#: Peak RSS per rating of a whole run, measured at full size (16,178 MiB for 100,480,507 ratings,
#: 169 B each, before the top_n stage freed the earlier stages' arrays): the up-front guard.
RESIDENT_BYTES_PER_RATING = 170


class StageClock:
    """Times named stages and reads each one's own peak RSS."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self.started = time.perf_counter()

    @contextmanager
    def stage(self, name: str):
        gc.collect()
        reset_peak_rss()
        start = time.perf_counter()
        print(f"[{time.perf_counter() - self.started:8.1f}s] {name} ...", flush=True)
        yield
        seconds = time.perf_counter() - start
        self.stages[name] = {"seconds": round(seconds, 3), "peak_rss_mb": round(peak_rss_bytes() / MiB, 1)}
        print(f"{'':12}{name}: {seconds:.1f} s, peak RSS {self.stages[name]['peak_rss_mb']:.0f} MiB", flush=True)

    @property
    def total_seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def peak_rss_mb(self) -> float:
        return max(stage["peak_rss_mb"] for stage in self.stages.values())


def sample_users_by_rows(train: pd.DataFrame, target_rows: int, seed: int) -> np.ndarray:
    """Random users, drawn without replacement, until their train rows reach ``target_rows``."""
    users, counts = np.unique(train["user_id"].to_numpy(), return_counts=True)
    order = np.random.default_rng(seed).permutation(len(users))
    enough = np.searchsorted(np.cumsum(counts[order]), target_rows) + 1
    return np.sort(users[order[:enough]])


class SampledUsersTrain(TrainData):
    """A train set whose user neighbour lists hold the rows of the sampled ``users`` only (each against
    all users; the other rows are empty): exact lists of every user would take about 2.75 h at full
    size, and the features of a sampled user's pair walk only that user's list."""

    def __init__(self, ratings: pd.DataFrame, users: np.ndarray):
        super().__init__(ratings)
        self.users = users

    def neighbours(self, side: str, k: int, *, binary: bool = False, dtype=np.float32, **options) -> sp.csr_matrix:
        if side != "users" or binary:
            return super().neighbours(side, k, binary=binary, dtype=dtype, **options)
        return self.cached(
            ("sampled users' neighbours", k, np.dtype(dtype).str),
            lambda: cosine_top_k(self.matrix.csr, k, rows=self.matrix.user_index(self.users), dtype=dtype, **options),
        )


def write_prize_files(ratings: pd.DataFrame, directory: Path, seed: int) -> np.ndarray:
    """Write the Prize's probe.txt and qualifying.txt of ``ratings`` into ``directory``, in the
    ratings' order (by movie, as the Kaggle files); return the qualifying rows' mask."""
    holdout = prize_holdout(ratings, seed=seed)
    directory.mkdir(parents=True, exist_ok=True)
    write_probe(ratings.loc[holdout.is_probe, ["user_id", "movie_id"]], directory / PROBE_NAME)
    write_qualifying(ratings.loc[holdout.is_qualifying, ["user_id", "movie_id", "date"]], directory / QUALIFYING_NAME)
    return holdout.is_qualifying


def prize_protocol(ratings: pd.DataFrame, is_qualifying: np.ndarray, directory: Path, budget_bytes: float) -> dict:
    """Read the Prize files, split the training ratings (all but the qualifying ones) on the probe
    set, fit BiasBaseline on train, score the probe and write a submission for every qualifying pair.

    The probe pairs are found among all ratings (none is a qualifying one), so the training
    ratings are never copied as a whole: train is every rating neither probe nor qualifying.
    """
    probe, qualifying = read_probe(directory / PROBE_NAME), read_qualifying(directory / QUALIFYING_NAME)
    is_probe = find_pairs(ratings, probe)
    train, test = ratings[~(is_probe | is_qualifying)], ratings[is_probe]
    del is_probe
    model = BiasBaseline()
    check_budget(
        model.required_bytes(len(train), 0, 0), budget_bytes, "the probe stage's BiasBaseline fit", "--memory-budget-gb"
    )
    model.fit(train)
    probe_rmse = rmse(test["rating"].to_numpy(), model.predict(test))
    write_qualifying_predictions(qualifying, model.predict(qualifying), directory / "submission.txt")
    return {"probe_pairs": len(probe), "qualifying_pairs": len(qualifying), "probe_rmse": round(float(probe_rmse), 5)}


def check_run_fits(n_ratings: int, budget_bytes: float) -> None:
    check_budget(
        RESIDENT_BYTES_PER_RATING * n_ratings,
        budget_bytes,
        f"a run on {n_ratings:,} ratings ({RESIDENT_BYTES_PER_RATING} bytes per rating at peak)",
        "--memory-budget-gb",
    )


def run(args: argparse.Namespace) -> dict:
    preset = synth.NETFLIX.scaled(args.fraction)
    data_dir = Path(args.data_dir or BENCHMARKS_DIR / "data" / f"scale_{args.fraction:g}")
    cache_dir = data_dir / "parquet_cache"
    budget = args.memory_budget_gb * GiB
    step_budget = DEFAULT_BUDGET_BYTES if args.step_budget_gb is None else args.step_budget_gb * GiB
    check_run_fits(preset.n_ratings, budget)
    clock = StageClock()

    with clock.stage("generate"):
        synth.write_preset(data_dir, preset, progress=True)
    shutil.rmtree(cache_dir, ignore_errors=True)
    with clock.stage("parse_and_cache"):
        ratings = read_ratings(data_dir, cache=True, cache_dir=cache_dir)
    del ratings
    with clock.stage("reload"):
        ratings = read_ratings(data_dir, cache=True, cache_dir=cache_dir, progress=False)
    n_ratings = len(ratings)
    top_n_only = args.top_n_only or args.ease_only
    prize = {} if top_n_only else prize_stages(ratings, data_dir / "prize", args.seed, budget, clock)
    if args.prize_only:
        return summary(args, preset, n_ratings, clock, prize=prize)
    with clock.stage("split"):
        train, test = temporal_split(ratings, test_size=0.2)
        train, test = train.reset_index(drop=True), test.reset_index(drop=True)
    del ratings
    users = sample_users_by_rows(train, int(args.train_rows * args.fraction), args.seed)
    measured = {} if top_n_only else model_stages(args, train, test, users, clock, step_budget)
    del test  # the top-N stages learn from train alone
    measured |= top_n_stages(args, train, users[: args.top_n_users], clock, step_budget)
    return summary(args, preset, n_ratings, clock, prize=prize, **measured)


def prize_stages(ratings: pd.DataFrame, directory: Path, seed: int, budget: float, clock: StageClock) -> dict:
    """The stages ``prize_files`` and ``probe``: the Prize's files of ``ratings``, then its protocol."""
    with clock.stage("prize_files"):
        is_qualifying = write_prize_files(ratings, directory, seed)
    with clock.stage("probe"):
        return prize_protocol(ratings, is_qualifying, directory, budget)


def model_stages(
    args: argparse.Namespace,
    train: pd.DataFrame,
    test: pd.DataFrame,
    users: np.ndarray,
    clock: StageClock,
    step_budget: float,
) -> dict:
    """The rating stages after the split, each timed by ``clock``: the matrix, the top-k lists, and the
    features and XGBoost on the sampled ``users``; returns what they measured."""
    data = SampledUsersTrain(train, users)
    options = dict(budget_bytes=step_budget, progress=True)
    with clock.stage("matrix"):
        _ = data.matrix.csc  # built once here, reused by every later stage
    with clock.stage("movie_top_k"):
        data.neighbours("movies", args.k, **options)
    train_pairs = train[train["user_id"].isin(users)]
    test_pairs = test[test["user_id"].isin(users)]
    with clock.stage("user_top_k"):
        data.neighbours("users", args.k, **options)
    with clock.stage("features"):
        # One call for both parts: each call orders the neighbour lists by the exact key again.
        features = similarity_features(
            data, pd.concat([train_pairs, test_pairs], ignore_index=True), k=args.k, **options
        )
        train_features, test_features = features.iloc[: len(train_pairs)], features.iloc[len(train_pairs) :]
    with clock.stage("xgboost_fit"):
        model = xgboost.XGBRegressor(
            n_estimators=args.trees,
            max_depth=6,
            learning_rate=0.1,
            n_jobs=2,
            random_state=args.seed,
            tree_method="hist",
        )
        model.fit(train_features[feature_names()], train_pairs["rating"])
    with clock.stage("test_rmse"):
        test_rmse = rmse(test_pairs["rating"].to_numpy(), model.predict(test_features[feature_names()]))
    with clock.stage("bayes_fm"):
        bayes_fm = fm_stage(train_pairs, test_pairs, args.fm_iter, args.seed, step_budget)
    return {
        "bayes_fm": bayes_fm,
        "train_rows_featurised": int(len(train_pairs)),
        "test_rows_featurised": int(len(test_pairs)),
        "test_rmse": round(float(test_rmse), 5),
    }


def fm_stage(train: pd.DataFrame, test: pd.DataFrame, n_iter: int, seed: int, budget_bytes: float) -> dict:
    """BayesFM on ``train``, RMSE on ``test``, and its memory estimate; the guard's reason if it is over budget."""
    fm = BayesFM(n_iter=n_iter, random_state=seed, budget_bytes=budget_bytes)
    estimate = fm.required_bytes(len(train), train["user_id"].nunique(), train["movie_id"].nunique())
    try:
        fm.fit(train)
    except MemoryBudgetError as error:
        return {"skipped": str(error), "estimated_mb": round(estimate / MiB, 1)}
    return {
        "test_rmse": round(rmse(test["rating"].to_numpy(), fm.predict(test)), 5),
        "estimated_mb": round(estimate / MiB, 1),
    }


def top_n_stages(
    args: argparse.Namespace, train: pd.DataFrame, listed: np.ndarray, clock: StageClock, step_budget: float
) -> dict:
    """``top_n_ease`` (EASE on the ``--ease-items`` most rated movies, 0: all) and ``top_n_rerank`` (the
    re-ranker, trained on a global_time validation cut of train): each fits on train and lists ``listed``.

    Both fit on one :class:`~cfutils.core.train_data.TrainData`, as notebook 06 does: the re-ranker's
    served stage reuses the matrix and EASE's weights of ``top_n_ease``, and adds item-kNN, the
    time features and the validation-cut stage (fitted from scratch)."""
    ease = EASE(max_items=args.ease_items or None, budget_bytes=step_budget)
    data = TrainData(train)
    with clock.stage("top_n_ease"):
        lists = copy.deepcopy(ease).fit(data).top_n_batch(listed, n=10)
    if args.ease_only:
        return {"users_listed": int(lists["user_id"].nunique())}
    with clock.stage("top_n_rerank"):
        reranker = ReRanker(
            ease,
            ItemKNN(args.k, budget_bytes=step_budget),
            split="global_time",
            seed=args.seed,
            budget_bytes=step_budget,
        ).fit(data)
        lists = reranker.top_n_batch(listed, n=10)
    return {"users_listed": int(lists["user_id"].nunique())}


def summary(args: argparse.Namespace, preset: synth.Preset, n_ratings: int, clock: StageClock, **measured) -> dict:
    """The results JSON: the data's size, the stages' times and peaks, then what the run measured."""
    return {
        "fraction": args.fraction,
        "ratings": n_ratings,
        "users": int(preset.n_users),
        "movies": int(preset.n_movies),
        "total_seconds": round(clock.total_seconds, 2),
        "peak_rss_mb": clock.peak_rss_mb,
        "stages": clock.stages,
        **measured,
    }


def print_table(result: dict) -> None:
    test_rmse = f", test RMSE {result['test_rmse']:.4f}" if "test_rmse" in result else ""
    print(
        f"\n{result['ratings']:,} ratings (fraction {result['fraction']:g}): "
        f"{result['total_seconds']:.0f} s, peak RSS {result['peak_rss_mb']:.0f} MiB{test_rmse}"
    )
    if result["prize"]:
        print(
            f"Prize protocol: {result['prize']['probe_pairs']:,} probe and {result['prize']['qualifying_pairs']:,} "
            f"qualifying pairs, BiasBaseline probe RMSE {result['prize']['probe_rmse']:.4f}"
        )
    print(f"{'stage':<18}{'seconds':>10}{'peak RSS MiB':>14}")
    for name, stage in result["stages"].items():
        print(f"{name:<18}{stage['seconds']:>10.1f}{stage['peak_rss_mb']:>14.0f}")


def scale_parser(description: str, default_fraction: float) -> argparse.ArgumentParser:
    """The options of every scale script: ``--fraction``, ``--output`` and ``--data-dir``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--fraction", type=float, default=default_fraction, help="share of Netflix's users and ratings")
    parser.add_argument("--output", type=Path, required=True, help="results JSON")
    parser.add_argument("--data-dir", help="where the generated files go (default benchmarks/data/scale_F)")
    return parser


def save_result(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = scale_parser(__doc__.split("\n\n")[0], default_fraction=0.05)
    parser.add_argument("--train-rows", type=int, default=5_000_000, help="featurised train rows at fraction 1")
    parser.add_argument("--k", type=int, default=50, help="neighbours per movie and per sampled user")
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--fm-iter", type=int, default=100, help="Gibbs sweeps of the Bayesian FM stage")
    parser.add_argument("--top-n-users", type=int, default=1_000)
    parser.add_argument("--ease-items", type=int, default=2_000, help="EASE's most rated movies (0: all 17,770)")
    parser.add_argument("--memory-budget-gb", type=float, default=16.0, help="whole-run resident budget")
    parser.add_argument(
        "--step-budget-gb",
        type=float,
        default=None,
        help="working memory of one heavy step (default: cfutils.core.memory's machine-derived budget)",
    )
    parser.add_argument("--seed", type=int, default=0)
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--prize-only", action="store_true", help="stop after the probe stage")
    stop.add_argument(
        "--top-n-only",
        action="store_true",
        help="only the data stages, the split and the top-N stages (no Prize files, top-k, features)",
    )
    stop.add_argument("--ease-only", action="store_true", help="as --top-n-only, without the re-ranker")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run(args)
    except MemoryBudgetError as error:
        print(
            f"scale.py stopped before running out of memory: {error}\n"
            "(a step's `budget_bytes` is set with --step-budget-gb; the whole run's with --memory-budget-gb)",
            file=sys.stderr,
        )
        return 2
    save_result(args.output, result)
    print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
