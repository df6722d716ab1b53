"""Log-log plot of every stage's wall time against the number of ratings, from scale.py's JSON files.

    python benchmarks/plot_scale.py benchmarks/results/scale_*.json --output benchmarks/results/scale.png

It also prints each stage's growth exponent: the slope of log(seconds) on log(ratings) between
the two largest runs (1 = linear, 2 = quadratic).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def load(paths: list[Path]) -> list[dict]:
    return sorted((json.loads(p.read_text()) for p in paths), key=lambda result: result["ratings"])


def growth_exponents(results: list[dict]) -> dict[str, float]:
    """Slope of log(seconds) against log(ratings) between the two largest runs, per stage."""
    small, large = results[-2], results[-1]
    return {
        name: float(
            np.log(large["stages"][name]["seconds"] / small["stages"][name]["seconds"])
            / np.log(large["ratings"] / small["ratings"])
        )
        for name in large["stages"]
        if small["stages"].get(name, {}).get("seconds", 0) > 0 and large["stages"][name]["seconds"] > 0
    }


def plot(results: list[dict], output: Path) -> None:
    ratings = [result["ratings"] for result in results]
    fig, ax = plt.subplots(figsize=(8, 5.5))
    colours = plt.get_cmap("tab20").colors
    for number, name in enumerate(results[-1]["stages"]):
        seconds = np.array([result["stages"].get(name, {}).get("seconds", 0.0) for result in results], dtype=float)
        measured = seconds > 0.01  # ~0 s: the stage was skipped (e.g. data already generated) or did not exist yet
        if measured.any():
            ax.plot(
                np.array(ratings)[measured],
                seconds[measured],
                marker="os^v"[number % 4],
                color=colours[number % len(colours)],
                label=name,
            )
    ax.plot(ratings, [result["total_seconds"] for result in results], marker="s", color="black", lw=2, label="total")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="ratings",
        ylabel="wall seconds",
        title="scale.py: cost of each stage as the data grows",
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(output, dpi=100, metadata={"Software": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "scale.png")
    args = parser.parse_args()
    results = load(args.results)
    plot(results, args.output)
    print(f"{'stage':<18}" + "".join(f"{r['ratings']:>14,}" for r in results) + f"{'exponent':>10}")
    exponents = growth_exponents(results) if len(results) > 1 else {}
    for name in results[-1]["stages"]:
        times = "".join(f"{r['stages'].get(name, {}).get('seconds', float('nan')):>14.1f}" for r in results)
        print(f"{name:<18}{times}{exponents.get(name, float('nan')):>10.2f}")


if __name__ == "__main__":
    main()
