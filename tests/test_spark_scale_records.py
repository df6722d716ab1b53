"""The standalone-cluster figures that benchmarks/README.md and README.md state agree with the saved run
(``benchmarks/results/spark_cluster.json``, written by ``benchmarks/spark_scale.py``)."""

from __future__ import annotations

import json

from readme_text import ROOT, flat_file

MiB = 2**20


def saved() -> dict:
    return json.loads((ROOT / "benchmarks" / "results" / "spark_cluster.json").read_text())


def test_the_benchmark_readme_states_the_saved_sizes_and_growth():
    text, result = flat_file("benchmarks/README.md"), saved()
    for row in result["sizes"]:
        per_rating = round(row["shuffle_write_MiB"] * MiB / row["ratings"])
        assert (
            f"| {row['ratings']:,} | {row['wall_seconds']:,.0f} s | {row['shuffle_write_MiB']:,.0f} / "
            f"{row['shuffle_read_MiB']:,.0f} MiB | {per_rating} |" in text
        ), row["ratings"]
        assert row["metrics"]["largest_collect_rows"] == 8
    small, large = result["growth"][-1]["from"], result["growth"][-1]["to"]
    last = result["growth"][-1]
    assert (small, large) == (5_000_000, 20_000_000)
    assert f"5M → 20M (4×) wall {last['wall_seconds']}×, shuffle {last['shuffle_write_MiB']}×" in text


def test_the_readme_scale_table_uses_the_saved_bytes_per_rating():
    text, result = flat_file("README.md"), saved()
    per_rating = [round(row["shuffle_write_MiB"] * MiB / row["ratings"]) for row in result["sizes"]]
    assert f"{per_rating[0]} at 1M, {per_rating[1]} at 5M, {per_rating[2]} at 20M" in text
