"""The tutorial's ratings loader, kept faithfully as the baseline of benchmarks/bench_parse.py.

It is the ``load_data`` of the original Netflix tutorial (the one the README starts from,
"Recommendation System Tutorial with Python using Collaborative Filtering"): read each
``combined_data_N.txt`` line by line in Python; a line ending in
``:`` sets the current movie id, every other line is written out as
``movie,customer,rating,date`` to a CSV file, which pandas then reads back. One Python
step per rating line, plus a full second pass through an intermediate CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd


def load_data(paths: Sequence[Path | str], csv_path: Path | str) -> pd.DataFrame:
    """Tutorial loader: columns ``movie, user, rating, date`` (pandas' default dtypes)."""
    with open(csv_path, mode="w") as data:
        for path in paths:
            with open(path) as lines:
                for line in lines:
                    line = line.strip()
                    if line.endswith(":"):
                        movie_id = line.replace(":", "")
                    else:
                        row = [x for x in line.split(",")]
                        row.insert(0, movie_id)
                        data.write(",".join(row))
                        data.write("\n")
    frame = pd.read_csv(csv_path, sep=",", names=["movie", "user", "rating", "date"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame
