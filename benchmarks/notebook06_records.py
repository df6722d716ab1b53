"""Keep the records of notebook 06 runs that README.md reports ("Top-N lists on real data"), so that a test
(tests/test_notebook06_records.py) checks every figure of that section against them.

    .venv/bin/python -m cfutils --data movielens-small --split per_user_time --only 06 --output-dir runs/a
    .venv/bin/python benchmarks/notebook06_records.py --commit "$(git rev-parse --short HEAD)" runs/a [runs/b ...]

Each run is keyed by the data and split papermill gave the executed notebook; a key already saved is replaced.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "notebook06.json"
#: The records the README section reads; the rest (lists, explanations) stay in the run's metrics.json.
KEPT = (
    "adequacy",
    "best_recommender",
    "candidate_recall",
    "ease_lambda",
    "grid_edge",
    "leakage",
    "ndcg_gain_over_ease",
    "paired",
    "ranking",
    "ranking_by_users",
    "validation_ndcg",
)


def run_key(output_dir: Path) -> str:
    """``"<DATA>, <SPLIT>"`` of the executed notebook 06 in ``output_dir``."""
    notebook = json.loads((output_dir / "06_recommendations.ipynb").read_text())
    parameters = notebook["metadata"]["papermill"]["parameters"]
    return f"{parameters['DATA']}, {parameters.get('SPLIT', 'global_time')}"


def kept_records(output_dir: Path) -> dict:
    records = json.loads((output_dir / "metrics.json").read_text())["06_recommendations"]
    return {name: records[name] for name in KEPT}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="output folders of `python -m cfutils --only 06`")
    parser.add_argument("--commit", required=True, help="the commit the runs were measured at")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    saved = json.loads(args.output.read_text()) if args.output.exists() else {}
    for output_dir in args.runs:
        saved[run_key(output_dir)] = {"commit": args.commit, **kept_records(output_dir)}
    args.output.write_text(json.dumps(saved, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(args.runs)} run(s) saved in {args.output}")


if __name__ == "__main__":
    main()
