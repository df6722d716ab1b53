"""Consistent, reproducible figures: one seaborn theme, PNGs saved under ``OUTPUT_DIR/figures``,
shown inline in a notebook whatever the matplotlib backend; and the figure every comparison by
segment of users shares (:func:`segment_figure`)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import seaborn as sns
from IPython import get_ipython
from IPython.display import Image, display
from matplotlib.figure import Figure

#: Resolution of saved figures. 100 dpi keeps PNGs small and the HTML report light.
DPI = 100

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class FigurePath(type(Path())):
    """The path of a saved figure. As a cell's last value it displays nothing (the figure itself is
    shown), so a notebook never prints ``PosixPath(...)``."""

    def _ipython_display_(self) -> None:
        pass


def show_inline(path: Path) -> None:
    """Display the PNG at ``path`` in the running IPython kernel, unless matplotlib's inline
    backend shows the figure anyway; outside a kernel (a script, or ``MPLBACKEND=Agg`` in a
    terminal) it does nothing. With ``MPLBACKEND=Agg`` set, a kernel has no inline backend and
    would otherwise keep no figure in the notebook."""
    shell = get_ipython()
    if shell is None or "inline" in matplotlib.get_backend() or not hasattr(shell, "kernel"):
        return
    display(Image(data=path.read_bytes(), format="png"))


def use_style() -> None:
    """Apply the project's plot theme (seaborn ``whitegrid``, colour-blind palette, fixed figure size)."""
    sns.set_theme(style="whitegrid", palette="colorblind", context="notebook")
    matplotlib.rcParams.update({"figure.figsize": (8.0, 4.5), "figure.dpi": DPI, "savefig.dpi": DPI})


def save_figure(fig: Figure, name: str, output_dir: str | Path) -> FigurePath:
    """Save ``fig`` as ``output_dir/figures/<name>.png`` and return that path.

    The file is byte-reproducible for the same figure: no software version or date is written
    into the PNG metadata. The figure stays open, so the inline backend still shows it; under any
    other backend in a kernel the saved PNG is displayed (:func:`show_inline`).
    ``name`` is a plain file stem (letters, digits, ``_``, ``-``, ``.``); prefix it with the
    notebook number (``"01_rating_distribution"``) so notebooks never overwrite each other's figures.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"figure name must be a plain file stem such as '01_ratings', got {name!r}")
    path = Path(output_dir) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    show_inline(path)
    return FigurePath(path)


def segment_figure(segment_scores: dict, title: str = "") -> Figure:
    """One panel per segment of users (the record ``segment_scores``: {segment: {"n_users", "metric",
    "lower_is_better", "models": {model: [value, lo, hi]}}}): each model's score as a dot with its 95 %
    interval, the best of the segment filled, the others hollow. Every panel lists the models in the
    same order (best first in the first segment), so a model's rank can be compared across segments."""
    segments = list(segment_scores)
    first = segment_scores[segments[0]]
    order = sorted(first["models"], key=lambda m: first["models"][m][0], reverse=not first["lower_is_better"])
    fig, axes = plt.subplots(1, len(segments), figsize=(6.5 * len(segments), 0.45 * len(order) + 1.6), squeeze=False)
    for ax, segment in zip(axes[0], segments):
        scores = segment_scores[segment]
        models = {m: scores["models"][m] for m in order if m in scores["models"]}
        pick = min if scores["lower_is_better"] else max
        best = pick(models, key=lambda m: models[m][0])
        for y, (model, (value, lo, hi)) in enumerate(models.items()):
            ax.errorbar(value, y, xerr=[[value - lo], [hi - value]], fmt="o", color="C3" if model == best else "C0",
                        mfc="C3" if model == best else "white", ms=7, capsize=3)  # fmt: skip
        ax.set_yticks(range(len(models)), list(models))
        ax.invert_yaxis()
        direction = "lower" if scores["lower_is_better"] else "higher"
        ax.set(xlabel=f"{scores['metric']} ({direction} is better); bars: 95 % interval over users",
               title=f"{segment} ({scores['n_users']:,} users); filled: best")  # fmt: skip
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
