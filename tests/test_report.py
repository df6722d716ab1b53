"""The HTML report: summary first, real tables, formulas typeset when written, values folded."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cfutils.present import report
from cfutils.present.report import math_to_mathml, rows_table, write_report

METRICS = {
    "05_model_comparison": {
        "results": [
            {"model": "global_mean", "test_rmse": 1.1, "warm_rmse": 1.05, "cold_rmse": 1.2},
            {"model": "xgb_stack", "test_rmse": 0.9, "warm_rmse": 0.85, "cold_rmse": None},
            {"model": "svdpp", "skipped": "over its memory budget"},
        ],
        "stack_gain": {"best_single_model": "svd", "gain": 0.0123},
        "tuning": {"svd": {"best_params": {"n_factors": 50, "lr_all": 0.005, "reg_all": 0.02}, "val_rmse": 0.97}},
    },
}


def test_math_becomes_mathml_outside_code_and_leaves_prices_alone():
    text = math_to_mathml("Inline $\\hat r_{ui}$, display $$\\sum_i x_i$$, code `$x$`, cost $5 and $6.")
    assert text.count('display="inline"') == 1 and text.count('display="block"') == 1
    assert "`$x$`" in text and "$5 and $6" in text
    assert "\\hat" not in text and "\\sum" not in text


def test_rows_table_shows_numbers_and_a_skipped_reason_across_the_row():
    table = rows_table(METRICS["05_model_comparison"]["results"], ("model", "test_rmse", "warm_rmse", "cold_rmse"))
    assert '<td class="number">0.9000</td>' in table
    assert '<td class="skipped" colspan="3">skipped: over its memory budget</td>' in table
    assert table.count("<tr>") == 4


def _executed_notebook(path):
    notebook = new_notebook(
        cells=[
            new_markdown_cell("The mean $\\mu = \\frac{1}{n}\\sum_i r_i$ and\n\n$$\\hat r_{ui} = \\mu + b_u$$"),
            new_code_cell("1 + 1", outputs=[new_output("execute_result", {"text/plain": "2"}, execution_count=1)]),
        ]
    )
    nbformat.write(notebook, path)
    return path


def test_report_opens_with_the_summary_then_notebooks_then_folded_records(tmp_path):
    figures = tmp_path / "figures"
    figures.mkdir()
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
        b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    (figures / "05_test_rmse.png").write_bytes(png)
    (figures / "06_ndcg_and_coverage.png").write_bytes(png)  # from another run: not this run's notebook
    notebook = _executed_notebook(tmp_path / "05_model_comparison.ipynb")
    html = write_report(
        tmp_path / "report.html", [notebook], METRICS, {"05_model_comparison": 2.0}, {"DATA": "sample", "SEED": 0}
    ).read_text(encoding="utf-8")

    body = html.index("<body>")
    assert html.index('<section id="summary">') == body + len("<body>")
    summary = html[html.index('<section id="summary">') : html.index('<section class="notebook"')]
    assert "<th>SEED</th><td>0</td>" in summary
    assert "best_single_model svd; gain 0.0123" in summary
    assert summary.count("data:image/png;base64,") == 1, "only this run's headline figure"
    assert 'class="summary-results"' in summary and "ranking" not in summary
    assert html.index('<section class="notebook"') < html.index('<section id="records">')
    assert 'href="#summary"' in html[html.index('<section class="notebook"') :]
    records = html[html.index('<section id="records">') :]
    assert "<details><summary>" in records and "<td>tuning</td>" in records
    longest_unfolded = max(len(cell) for cell in re.findall(r'<td class="value">([^<]*)</td>', records))
    assert longest_unfolded <= report.FOLD_LIMIT
    assert "<script" not in html and "http" not in html.replace("http://www.w3.org/1998/Math/MathML", "")
    assert html.count("<math") == 2 and "$$" not in html and "\\frac" not in html


@pytest.mark.parametrize("metrics", [{}, {"01_eda": {"n_ratings": 5}}])
def test_a_run_without_05_or_06_has_a_summary_without_their_tables(tmp_path, metrics):
    html = write_report(tmp_path / "report.html", [], metrics, {}, {"DATA": "sample"}).read_text(encoding="utf-8")
    assert '<section id="summary">' in html
    assert "Key numbers" not in html and "summary-results" not in html and "Headline figures" not in html


def test_the_summary_shows_winners_on_known_and_new_users_and_intervals(tmp_path):
    def segment(n_users, models):
        return {"n_users": n_users, "metric": "NDCG@10", "lower_is_better": False, "models": models}

    same = [0.10, 0.08, 0.12]
    scores = {
        "known users": segment(
            98, {"EASE": [0.15, 0.12, 0.18], "popular": [0.18, 0.15, 0.21], "random": [0.01, 0.0, 0.02]}
        ),
        "new users": segment(190, {"EASE": same, "popular": same, "random": same}),
    }
    winners = {
        "known users": {"chosen": "EASE", "best_on_test": "popular", "indistinguishable": []},
        "new users": {"chosen": "EASE", "best_on_test": "EASE", "indistinguishable": ["popular", "random"]},
    }
    ranking = [{"model": "EASE", "ndcg@10": 0.12, "ndcg@10_ci95": [0.1, 0.14], "coverage": 0.1}]
    metrics = {"06_recommendations": {"winners": winners, "segment_scores": scores, "ranking": ranking}}
    html = write_report(tmp_path / "report.html", [], metrics, {}, {"DATA": "sample"}).read_text(encoding="utf-8")
    summary = html[html.index('<section id="summary">') : html.index("</section>")]
    assert "Headline (known users). Models differ on known users: popular is best on test" in summary
    assert "<th>known users</th><td>98</td><td>EASE</td><td>popular</td>" in summary.replace(' class="number"', "")
    assert "<th>new users</th>" in summary and "popular, random" in summary
    assert '<td class="number">[0.1000, 0.1400]</td>' in summary
