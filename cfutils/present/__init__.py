"""What a person reads: records, figures, the report, the pipeline, the explorers. Imports every layer below.

Modules::

    titles    titles by movie id (TitleTable)
    explain   "because you rated ...": explanations and titled lists from a recommender's output
    record    record(name, value) and reading records back
    plotting  figure style and saving
    report    the self-contained HTML report
    outputs   the run's lock and whole-or-absent final files
    explore   the notebook explorers (widgets)
    pipeline  papermill over every notebook: python -m cfutils
"""

from __future__ import annotations

from cfutils.present.explain import (
    FALLBACK_REASON,
    LIST_COLUMNS,
    because_text,
    cited,
    explained_list,
    explanations,
    strongest,
)
from cfutils.present.explore import ListExplorer, MovieExplorer, UserExplorer, movie_label, offer, title_matches
from cfutils.present.outputs import OutputError, OutputInUseError, output_lock, write_files
from cfutils.present.pipeline import (
    PipelineError,
    build_parser,
    check_ranges,
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
    quiet_interrupt,
    resolve_data,
    resolve_output_dir,
    run,
    select_notebooks,
    skip_reason,
)
from cfutils.present.plotting import FigurePath, save_figure, show_inline, use_style
from cfutils.present.record import read_records, to_jsonable
from cfutils.present.report import (
    figure_data_uri,
    headline_figures,
    headline_tables,
    key_numbers,
    math_to_mathml,
    metrics_table,
    notebook_body,
    report_html,
    rows_table,
    sanitise_outputs,
    summary_section,
    write_report,
)
from cfutils.present.titles import TitleTable, as_title_table

__all__ = [
    "FALLBACK_REASON",
    "LIST_COLUMNS",
    "TitleTable",
    "as_title_table",
    "because_text",
    "cited",
    "explained_list",
    "explanations",
    "strongest",
    "OutputError",
    "OutputInUseError",
    "output_lock",
    "write_files",
    "report_html",
    "quiet_interrupt",
    "FigurePath",
    "ListExplorer",
    "MovieExplorer",
    "PipelineError",
    "UserExplorer",
    "build_parser",
    "check_ranges",
    "clear_artifacts",
    "default_notebooks_at_once",
    "discover_notebooks",
    "dump_json",
    "execute",
    "execute_at_once",
    "figure_data_uri",
    "headline_figures",
    "headline_tables",
    "key_numbers",
    "main",
    "math_to_mathml",
    "sanitise_outputs",
    "metrics_table",
    "missing_requirements",
    "movie_label",
    "notebook_body",
    "notebook_parameters",
    "offer",
    "parse_value",
    "plan",
    "read_records",
    "resolve_data",
    "resolve_output_dir",
    "rows_table",
    "run",
    "save_figure",
    "select_notebooks",
    "show_inline",
    "skip_reason",
    "summary_section",
    "title_matches",
    "to_jsonable",
    "use_style",
    "write_report",
]
