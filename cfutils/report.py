"""One self-contained HTML report of a pipeline run: parameters, the metrics table, then every notebook.

Each executed notebook is rendered with nbconvert's ``basic`` template (HTML body only, figures
embedded as base64 PNG), and the bodies are concatenated under one small stylesheet, so the report
is a single file that opens anywhere. Formulas are typeset by MathJax when the browser is online
and stay readable LaTeX when it is not.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter
from pygments.formatters import HtmlFormatter

#: Longest rendering of one value in the metrics table; metrics.json holds the full value.
VALUE_LIMIT = 300

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
table.metrics { border-collapse: collapse; margin: 1rem 0 2rem; font-size: 0.9rem; }
table.metrics th, table.metrics td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
table.metrics td.value { font-family: ui-monospace, monospace; max-width: 45rem; overflow-wrap: anywhere; }
section.notebook { border-top: 3px solid #446; margin-top: 3rem; padding-top: 1rem; }
.cell { margin: 0.6rem 0; }
.prompt { color: #888; font-family: ui-monospace, monospace; font-size: 0.8rem; }
.input_area, .highlight { background: #f6f7f9; border-radius: 4px; overflow-x: auto; }
.highlight pre, .output_subarea pre { margin: 0; padding: 0.4rem 0.6rem; font-size: 0.85rem; white-space: pre-wrap; }
.output_subarea img { max-width: 100%; }
.output_stderr pre { background: #fff4f4; }
.rendered_html table { border-collapse: collapse; font-size: 0.85rem; }
.rendered_html th, .rendered_html td { border: 1px solid #ddd; padding: 0.15rem 0.5rem; text-align: right; }
"""

_MATHJAX = (
    '<script>window.MathJax = {tex: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]]}};</script>\n'
    '<script async src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>'
)


def format_value(value: Any, limit: int = VALUE_LIMIT) -> str:
    """Compact JSON of a recorded value for the table, cut to ``limit`` characters with an ellipsis."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def metrics_table(metrics: Mapping[str, Mapping[str, Any]], wall_seconds: Mapping[str, float]) -> str:
    """HTML table with one row per recorded value: notebook, name, value (and each notebook's wall time)."""
    rows = []
    for notebook, records in metrics.items():
        wall = wall_seconds.get(notebook)
        label = html.escape(notebook) + (f"<br><small>{wall:.1f} s</small>" if wall is not None else "")
        items = list(records.items()) or [("(nothing recorded)", "")]
        for i, (name, value) in enumerate(items):
            first = f'<th rowspan="{len(items)}">{label}</th>' if i == 0 else ""
            rows.append(
                f"<tr>{first}<td>{html.escape(name)}</td>"
                f'<td class="value">{html.escape(format_value(value))}</td></tr>'
            )
    return (
        '<table class="metrics"><thead><tr><th>notebook</th><th>name</th><th>value</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def notebook_body(notebook_path: Path) -> str:
    """HTML body of one executed notebook (nbconvert ``basic`` template)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    body, _ = HTMLExporter(template_name="basic").from_notebook_node(notebook)
    return body


def write_report(
    path: str | Path,
    notebooks: Sequence[Path],
    metrics: Mapping[str, Mapping[str, Any]],
    wall_seconds: Mapping[str, float],
    parameters: Mapping[str, Any],
) -> Path:
    """Write the run's HTML report to ``path`` and return it.

    ``notebooks`` are the executed notebooks in run order, ``metrics`` maps a notebook name to its
    deterministic records, ``wall_seconds`` a notebook name to its wall time, ``parameters`` are
    the run's shared parameters (shown on top).
    """
    params = ", ".join(f"{html.escape(k)} = {html.escape(json.dumps(v))}" for k, v in parameters.items())
    toc = "".join(f'<li><a href="#nb-{html.escape(p.stem)}">{html.escape(p.stem)}</a></li>' for p in notebooks)
    sections = "".join(
        f'<section class="notebook" id="nb-{html.escape(p.stem)}"><h1>{html.escape(p.stem)}</h1>'
        f"{notebook_body(p)}</section>"
        for p in notebooks
    )
    style = _CSS + HtmlFormatter().get_style_defs(".highlight")
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>cfutils run report</title><style>{style}</style>\n{_MATHJAX}</head><body>"
        f"<h1>Run report</h1><p><code>{params}</code></p><ol>{toc}</ol>"
        f"<h2>Recorded results</h2>{metrics_table(metrics, wall_seconds)}{sections}</body></html>\n"
    )
    path = Path(path)
    path.write_text(document, encoding="utf-8")
    return path
