"""One self-contained HTML report of a pipeline run: the answers first, then every notebook.

The report opens with ``<section id="summary">``: the run's parameters, the key numbers, the winners
of notebooks 05 and 06 on known and new users (with the headline on the segment where models differ),
notebook 05's model comparison and notebook 06's ranking as real tables with their 95 % intervals, and
the headline figures, all read from the run's records and figures (whatever a notebook of the run did
not produce is left out).
The executed notebooks follow, each rendered with nbconvert's ``basic`` template (figures embedded
as base64 PNG) and linking back to the summary. Every recorded value comes last, long ones folded.

Formulas are typeset when the report is written: each ``$…$``/``$$…$$`` (or ``\\(…\\)``/``\\[…\\]``)
of a markdown cell becomes MathML (``latex2mathml``), which browsers render natively, so the file
needs no script and no network.

Strings from data are escaped where they are written (:mod:`cfutils.core.text`). The report adds a
second layer: every HTML, Markdown or LaTeX output a notebook cell produced is cleaned with
``bleach`` against :data:`OUTPUT_TAGS` before it is embedded (a ``<script>``, an ``onerror`` or a
``javascript:`` link that got past the first layer is dropped), and any other rich output type
(JavaScript, widget views) is left out.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import bleach
import nbformat
from latex2mathml.converter import convert as latex_to_mathml
from nbconvert import HTMLExporter
from nbconvert.preprocessors.sanitize import SanitizeHTML
from pygments.formatters import HtmlFormatter

from cfutils.present.claims import headline
from cfutils.present.outputs import write_files

#: Values longer than this are folded in a ``<details>`` element in the records table.
FOLD_LIMIT = 80

#: The summary's headline figures, in order; those the run did not write are left out.
HEADLINE_FIGURES = ("05_test_rmse", "05_stack_gain", "06_ndcg_and_coverage", "01_rating_distribution")

#: The HTML elements a cell's output may keep in the report (tables, text, headings, Styler's CSS);
#: every other element is stripped, and only ``class``, ``id``, spans and safe links survive as attributes.
OUTPUT_TAGS = frozenset(
    {*bleach.ALLOWED_TAGS, "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "div", "span", "p", "br"}
    | {"hr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "details", "summary", "sub", "sup", "small", "style"}
)
OUTPUT_ATTRIBUTES = {**bleach.ALLOWED_ATTRIBUTES, "*": ["class", "id", "colspan", "rowspan"]}
#: Output types embedded as they are: plain text (escaped by the template) and images.
SAFE_OUTPUT_TYPES = frozenset({"metadata", "text/plain", "image/png", "image/jpeg"})

#: (notebook, record, columns) of the summary's tables.
SUMMARY_TABLES = (
    ("05_model_comparison", "results", ("model", "test_rmse", "test_rmse_ci95", "warm_rmse", "cold_rmse")),
    ("06_recommendations", "ranking", ("model", "ndcg@10", "ndcg@10_ci95", "precision@10", "recall@10", "coverage")),
    ("08_beyond_accuracy", "beyond_accuracy", ("model", "novelty", "intra_list_diversity", "long_tail_share", "gini")),
)

#: Notebooks whose winners per segment of users (records ``winners``, ``segment_scores``) the summary shows.
WINNER_NOTEBOOKS = ("05_model_comparison", "06_recommendations")

#: (notebook, record) of the summary's key numbers.
KEY_NUMBERS = (
    ("05_model_comparison", "stack_gain"),
    ("06_recommendations", "best_recommender"),
    ("06_recommendations", "ndcg_gain_over_ease"),
)

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; color: #222;
       overflow-wrap: anywhere; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; vertical-align: top; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
td.skipped { color: #855; font-style: italic; }
.table-box { max-width: 100%; overflow-x: auto; margin: 0.8rem 0 1.5rem; }
#summary figure { margin: 1rem 0; }
#summary img { max-width: 100%; height: auto; }
table.metrics td.value { font-family: ui-monospace, monospace; }
table.metrics details pre { white-space: pre-wrap; max-height: 30rem; overflow: auto; margin: 0.3rem 0; }
section.notebook { border-top: 3px solid #446; margin-top: 3rem; padding-top: 1rem; }
a.back { font-size: 0.85rem; }
.cell { margin: 0.6rem 0; max-width: 100%; }
.prompt { color: #888; font-family: ui-monospace, monospace; font-size: 0.8rem; }
.input_area, .highlight { background: #f6f7f9; border-radius: 4px; overflow-x: auto; }
.highlight pre, .output_subarea pre { margin: 0; padding: 0.4rem 0.6rem; font-size: 0.85rem; white-space: pre-wrap; }
.output_subarea { max-width: 100%; overflow-x: auto; }
.output_subarea img { max-width: 100%; height: auto; }
.output_stderr pre { background: #fff4f4; }
.rendered_html table { border-collapse: collapse; font-size: 0.85rem; }
.rendered_html th, .rendered_html td { border: 1px solid #ddd; padding: 0.15rem 0.5rem; text-align: right; }
math[display="block"] { margin: 0.6rem 0; overflow-x: auto; max-width: 100%; }
"""

_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$", re.S)
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)


def _formula_to_mathml(match: re.Match[str]) -> str:
    display = match.group(1) is not None or match.group(2) is not None
    tex = next(group for group in match.groups() if group is not None)
    return latex_to_mathml(tex.strip(), display="block" if display else "inline")


def math_to_mathml(markdown: str, wrap=lambda mathml: mathml) -> str:
    """``markdown`` with each TeX formula replaced by ``wrap(MathML)``: ``$$…$$`` and ``\\[…\\]``
    as display math, ``$…$`` and ``\\(…\\)`` inline. Code spans and fences are left as they are."""
    pieces = _CODE.split(markdown)
    return "".join(
        piece if i % 2 else _MATH.sub(lambda match: wrap(_formula_to_mathml(match)), piece)
        for i, piece in enumerate(pieces)
    )


def sanitise_outputs(outputs: list) -> list:
    """A code cell's ``outputs`` made safe to embed: ``text/html``, ``text/markdown`` and
    ``text/latex`` cleaned with bleach (elements outside :data:`OUTPUT_TAGS` stripped, their text
    kept as text), every type outside :data:`SAFE_OUTPUT_TYPES` and those three dropped."""
    cleaner = SanitizeHTML(
        tags=sorted(OUTPUT_TAGS),
        attributes=OUTPUT_ATTRIBUTES,
        strip=True,
        safe_output_keys=set(SAFE_OUTPUT_TYPES),
        sanitized_output_types={"text/html", "text/markdown", "text/latex"},
    )
    return cleaner.sanitize_code_outputs(outputs)


def notebook_body(notebook_path: Path) -> str:
    """HTML body of one executed notebook (nbconvert ``basic`` template), formulas as MathML.

    Each formula is swapped for a placeholder word before markdown is rendered, and for its
    MathML after, so markdown never reads inside a formula. Saved widget state is dropped: the
    report has no kernel to drive widgets, and the notebooks show static tables there.
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    notebook.metadata.pop("widgets", None)  # the state of explorer widgets: nothing to show without a kernel
    formulas: list[str] = []

    def hold(mathml: str) -> str:
        formulas.append(mathml)
        return f"cfutilsformula{len(formulas) - 1}x"

    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = math_to_mathml(cell.source, hold)
        elif cell.cell_type == "code":
            cell.outputs = sanitise_outputs(cell.outputs)
    body, _ = HTMLExporter(template_name="basic").from_notebook_node(notebook)
    return re.sub(r"cfutilsformula(\d+)x", lambda m: formulas[int(m.group(1))], body)


def _cell(value: Any) -> str:
    """One table cell: numbers right-aligned to 4 decimals (an interval ``[lo, hi]`` too), None as an empty cell."""
    if isinstance(value, list) and value and all(isinstance(v, float) for v in value):
        return f'<td class="number">[{", ".join(f"{v:.4f}" for v in value)}]</td>'
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"<td>{html.escape('' if value is None else str(value))}</td>"
    text = f"{value:,}" if isinstance(value, int) else f"{value:.4f}"
    return f'<td class="number">{text}</td>'


def _boxed(table: str) -> str:
    """A table inside its own horizontally scrolling box, so the page never scrolls sideways."""
    return f'<div class="table-box">{table}</div>'


def rows_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], css_class: str = "") -> str:
    """HTML table of ``rows`` (dicts) with ``columns``; a row carrying a ``skipped`` reason shows
    that reason across the columns after the first."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        first = f"<th>{html.escape(str(row.get(columns[0], '')))}</th>"
        if row.get("skipped"):
            rest = f'<td class="skipped" colspan="{len(columns) - 1}">skipped: {html.escape(str(row["skipped"]))}</td>'
        else:
            rest = "".join(_cell(row.get(c)) for c in columns[1:])
        body.append(f"<tr>{first}{rest}</tr>")
    return _boxed(f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>')


def _key_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return "; ".join(f"{html.escape(k)} {_plain(v)}" for k, v in value.items())
    return _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def key_numbers(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """Table of the :data:`KEY_NUMBERS` that the run recorded; empty when none was."""
    rows = [
        f"<tr><th>{html.escape(name)}</th><td>{_key_value(metrics[notebook][name])}</td><td>{html.escape(notebook)}</td></tr>"
        for notebook, name in KEY_NUMBERS
        if name in metrics.get(notebook, {})
    ]
    if not rows:
        return ""
    return "<h3>Key numbers</h3>" + _boxed(
        '<table class="key-numbers"><thead><tr><th>name</th><th>value</th><th>notebook</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def headline_tables(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """The :data:`SUMMARY_TABLES` that the run recorded, each under its notebook's name."""
    parts = []
    for notebook, name, columns in SUMMARY_TABLES:
        rows = metrics.get(notebook, {}).get(name)
        if isinstance(rows, list) and rows:
            parts.append(
                f"<h3>{html.escape(notebook)}: {html.escape(name)}</h3>"
                + rows_table(rows, columns, css_class=f"summary-{name}")
            )
    return "".join(parts)


def winners_tables(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """For each of :data:`WINNER_NOTEBOOKS` that recorded ``winners``: its headline sentence (about the
    segment where models differ) and one row per segment of users (known, new) with the chosen model,
    the best on test with its interval and the models indistinguishable from it."""
    parts = []
    for notebook in WINNER_NOTEBOOKS:
        records = metrics.get(notebook, {})
        if not records.get("winners") or "segment_scores" not in records:
            continue
        rows = []
        for segment, winner in records["winners"].items():
            scores = records["segment_scores"][segment]
            value, lo, hi = scores["models"][winner["best_on_test"]]
            rows.append(
                {
                    "segment": segment,
                    "users": scores["n_users"],
                    "chosen on validation": winner["chosen"],
                    "best on test": winner["best_on_test"],
                    scores["metric"]: value,
                    "95 % interval": [lo, hi],
                    "indistinguishable from the best": ", ".join(winner["indistinguishable"]) or "none",
                }
            )
        sentence = html.escape(headline(records).replace("*", ""))  # markdown emphasis dropped
        parts.append(
            f"<h3>{html.escape(notebook)}: winners on known and new users</h3><p>{sentence}</p>"
            + rows_table(rows, list(rows[0]), css_class="summary-winners")
        )
    return "".join(parts)


def figure_data_uri(path: Path) -> str:
    """``path`` (a PNG) as a ``data:image/png;base64,…`` URI."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def headline_figures(figures_dir: Path, notebooks: Sequence[Path]) -> str:
    """The :data:`HEADLINE_FIGURES` written by this run's ``notebooks``, embedded as data URIs."""
    numbers = {p.name[:2] for p in notebooks}
    parts = [
        f'<figure><img alt="{name}" src="{figure_data_uri(figures_dir / f"{name}.png")}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
        for name in HEADLINE_FIGURES
        if name[:2] in numbers and (figures_dir / f"{name}.png").is_file()
    ]
    return "<h3>Headline figures</h3>" + "".join(parts) if parts else ""


def _folded(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= FOLD_LIMIT:
        return html.escape(text)
    full = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)
    return f"<details><summary>{html.escape(text[: FOLD_LIMIT - 1])}…</summary><pre>{html.escape(full)}</pre></details>"


def metrics_table(metrics: Mapping[str, Mapping[str, Any]], wall_seconds: Mapping[str, float]) -> str:
    """HTML table with one row per recorded value: notebook (and its wall time), name, value;
    a value longer than :data:`FOLD_LIMIT` characters is folded in a ``<details>`` element."""
    rows = []
    for notebook, records in metrics.items():
        wall = wall_seconds.get(notebook)
        label = html.escape(notebook) + (f"<br><small>{wall:.1f} s</small>" if wall is not None else "")
        items = list(records.items()) or [("(nothing recorded)", "")]
        for i, (name, value) in enumerate(items):
            first = f'<th rowspan="{len(items)}">{label}</th>' if i == 0 else ""
            rows.append(f'<tr>{first}<td>{html.escape(name)}</td><td class="value">{_folded(value)}</td></tr>')
    return _boxed(
        '<table class="metrics"><thead><tr><th>notebook</th><th>name</th><th>value</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def summary_section(
    notebooks: Sequence[Path],
    metrics: Mapping[str, Mapping[str, Any]],
    parameters: Mapping[str, Any],
    figures_dir: Path,
) -> str:
    """``<section id="summary">``: parameters, key numbers, headline tables and figures, contents."""
    params = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>" for k, v in parameters.items()
    )
    toc = "".join(f'<li><a href="#nb-{html.escape(p.stem)}">{html.escape(p.stem)}</a></li>' for p in notebooks)
    skipped = "".join(
        f"<li>{html.escape(name)}: {html.escape(str(records['skipped']))}</li>"
        for name, records in metrics.items()
        if set(records) == {"skipped"}
    )
    return (
        '<section id="summary"><h1>Run report</h1><h2>Summary</h2>'
        f"<h3>Parameters</h3>{_boxed(f'<table class=parameters><tbody>{params}</tbody></table>')}"
        f"{key_numbers(metrics)}{winners_tables(metrics)}{headline_tables(metrics)}"
        f"{headline_figures(figures_dir, notebooks)}"
        + (f"<h3>Skipped notebooks</h3><ul>{skipped}</ul>" if skipped else "")
        + f'<h3>Notebooks</h3><ol>{toc}</ol><p><a href="#records">Every recorded value</a></p></section>'
    )


def write_report(
    path: str | Path,
    notebooks: Sequence[Path],
    metrics: Mapping[str, Mapping[str, Any]],
    wall_seconds: Mapping[str, float],
    parameters: Mapping[str, Any],
    figures_dir: str | Path | None = None,
) -> Path:
    """Write :func:`report_html` to ``path`` (under a temporary name, then renamed: never a cut
    file) and return it. ``figures_dir`` defaults to ``figures`` next to ``path``."""
    path = Path(path)
    figures = Path(figures_dir) if figures_dir is not None else path.parent / "figures"
    write_files({path: report_html(notebooks, metrics, wall_seconds, parameters, figures)})
    return path


def report_html(
    notebooks: Sequence[Path],
    metrics: Mapping[str, Mapping[str, Any]],
    wall_seconds: Mapping[str, float],
    parameters: Mapping[str, Any],
    figures: Path,
) -> str:
    """The run's HTML report.

    ``notebooks`` are the executed notebooks in run order, ``metrics`` maps a notebook name to its
    deterministic records, ``wall_seconds`` a notebook name to its wall time, ``parameters`` are
    the run's shared parameters, ``figures`` the folder of the saved figures. Summary first, then
    the notebooks, then every recorded value.
    """
    sections = "".join(
        f'<section class="notebook" id="nb-{html.escape(p.stem)}"><h1>{html.escape(p.stem)}</h1>'
        f'<p><a class="back" href="#summary">↑ back to the summary</a></p>{notebook_body(p)}'
        f'<p><a class="back" href="#summary">↑ back to the summary</a></p></section>'
        for p in notebooks
    )
    style = _CSS + HtmlFormatter().get_style_defs(".highlight")
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>cfutils run report</title><style>{style}</style></head><body>"
        f"{summary_section(notebooks, metrics, parameters, figures)}{sections}"
        f'<section id="records"><h2>Every recorded value</h2>'
        f'<p>The same as metrics.json. <a class="back" href="#summary">↑ back to the summary</a></p>'
        f"{metrics_table(metrics, wall_seconds)}</section></body></html>\n"
    )
    return document
