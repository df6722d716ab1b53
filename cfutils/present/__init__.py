"""What a person reads: records, figures, the report, the pipeline, the explorers. Imports every layer below.

Modules::

    record    record(name, value) and reading records back
    claims    sentences computed from the records, and the registry a test checks them against
    plotting  figure style and saving
    report    the self-contained HTML report
    explore   the notebook explorers (widgets)
    pipeline  papermill over every notebook: python -m cfutils
"""

from __future__ import annotations

from cfutils.present.claims import CLAIMS, Claim, differing_segment, headline, say, segment_sentences
from cfutils.present.explore import ListExplorer, MovieExplorer, UserExplorer, movie_label, offer, title_matches
from cfutils.present.pipeline import (
    PipelineError,
    build_parser,
    clear_artifacts,
    default_notebooks_at_once,
    discover_notebooks,
    dump_json,
    execute,
    execute_at_once,
    main,
    missing_requirements,
    notebook_parameters,
    parse_value,
    plan,
    resolve_data,
    resolve_output_dir,
    run,
    select_notebooks,
    skip_reason,
)
from cfutils.present.plotting import FigurePath, save_figure, show_inline, use_style
from cfutils.present.record import RECORDED, read_records, to_jsonable
from cfutils.present.report import (
    figure_data_uri,
    headline_figures,
    headline_tables,
    key_numbers,
    math_to_mathml,
    metrics_table,
    notebook_body,
    rows_table,
    summary_section,
    winners_tables,
    write_report,
)

__all__ = [
    "build_parser",
    "Claim",
    "CLAIMS",
    "clear_artifacts",
    "default_notebooks_at_once",
    "differing_segment",
    "discover_notebooks",
    "dump_json",
    "execute",
    "execute_at_once",
    "figure_data_uri",
    "FigurePath",
    "headline",
    "headline_figures",
    "headline_tables",
    "key_numbers",
    "ListExplorer",
    "main",
    "math_to_mathml",
    "metrics_table",
    "missing_requirements",
    "movie_label",
    "MovieExplorer",
    "notebook_body",
    "notebook_parameters",
    "offer",
    "parse_value",
    "PipelineError",
    "plan",
    "read_records",
    "RECORDED",
    "resolve_data",
    "resolve_output_dir",
    "rows_table",
    "run",
    "save_figure",
    "say",
    "segment_sentences",
    "select_notebooks",
    "show_inline",
    "skip_reason",
    "summary_section",
    "title_matches",
    "to_jsonable",
    "use_style",
    "UserExplorer",
    "winners_tables",
    "write_report",
]
