"""Consistent, reproducible figures: one seaborn theme, PNGs saved under ``OUTPUT_DIR/figures``."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import seaborn as sns
from matplotlib.figure import Figure

#: Resolution of saved figures. 100 dpi keeps PNGs small and the HTML report light.
DPI = 100

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def use_style() -> None:
    """Apply the project's plot theme (seaborn ``whitegrid``, colour-blind palette, fixed figure size)."""
    sns.set_theme(style="whitegrid", palette="colorblind", context="notebook")
    matplotlib.rcParams.update({"figure.figsize": (8.0, 4.5), "figure.dpi": DPI, "savefig.dpi": DPI})


def save_figure(fig: Figure, name: str, output_dir: str | Path) -> Path:
    """Save ``fig`` as ``output_dir/figures/<name>.png`` and return that path.

    The file is byte-reproducible for the same figure: no software version or date is written
    into the PNG metadata. The figure stays open, so a notebook still shows it.
    ``name`` is a plain file stem (letters, digits, ``_``, ``-``, ``.``); prefix it with the
    notebook number (``"01_rating_distribution"``) so notebooks never overwrite each other's figures.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"figure name must be a plain file stem such as '01_ratings', got {name!r}")
    path = Path(output_dir) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return path
