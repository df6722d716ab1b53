"""``python -m cfutils.data.synth``: write the embedded sample, or a generated data set of any size."""

from __future__ import annotations

import argparse
from pathlib import Path

from cfutils.data.synth.writer import SAMPLE, write_netflix, write_sample


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(
        prog="python -m cfutils.data.synth", description="Write Netflix-like data in the Kaggle format."
    )
    parser.add_argument("directory", nargs="?", help="output folder (omit with --sample)")
    parser.add_argument("--sample", action="store_true", help="write the embedded sample to data/sample")
    parser.add_argument("--users", type=int, default=SAMPLE.n_users)
    parser.add_argument("--movies", type=int, default=SAMPLE.n_movies)
    parser.add_argument("--ratings", type=int, default=SAMPLE.n_ratings)
    parser.add_argument("--files", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duplicate-fraction", type=float, default=0.0)
    parser.add_argument("--prize-holdout", action="store_true", help="also write probe.txt and qualifying.txt")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.sample:
        path = write_sample(args.directory, progress=not args.quiet)
    elif args.directory is None:
        parser.error("give an output folder, or --sample")
    else:
        path = write_netflix(
            args.directory,
            n_users=args.users,
            n_movies=args.movies,
            n_ratings=args.ratings,
            seed=args.seed,
            n_files=args.files,
            duplicate_fraction=args.duplicate_fraction,
            prize_holdout=args.prize_holdout,
            progress=not args.quiet,
        )
    print(path)
    return path
