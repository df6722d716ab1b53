"""What a person reads: records, figures, the report, the pipeline, the explorers. Imports every layer below.

Modules::

    titles    titles by movie id (TitleTable)
    explain   "because you rated ...": explanations and titled lists from a recommender's output
    record    record(name, value) and reading records back
    robustness  the top-N robustness benchmark's saved runs: its table and the counts the texts state
    claims    sentences computed from the records, and the registry a test checks them against
    plotting  figure style and saving; scores with intervals per segment of users
    report    the self-contained HTML report
    outputs   the run's lock and whole-or-absent final files
    explore   the notebook explorers (widgets)
    pipeline  papermill over every notebook: python -m cfutils
"""

from __future__ import annotations

from cfutils.present.claims import CLAIMS, Claim, differing_segment, headline, say, segment_sentences
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
from cfutils.present.plotting import FigurePath, save_figure, segment_figure, show_inline, use_style
from cfutils.present.record import RECORDED, read_records, to_jsonable
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
    winners_tables,
    write_report,
)
from cfutils.present.robustness import (
    clear_gains_by_cut,
    cuts_clear_on_every_seed,
    load_runs,
    protocol_change,
    robustness_summary,
    robustness_table,
)
from cfutils.present.titles import TitleTable, as_title_table

__all__ = [
    "CLAIMS",
    "Claim",
    "FALLBACK_REASON",
    "FigurePath",
    "LIST_COLUMNS",
    "ListExplorer",
    "MovieExplorer",
    "OutputError",
    "OutputInUseError",
    "PipelineError",
    "RECORDED",
    "TitleTable",
    "UserExplorer",
    "as_title_table",
    "because_text",
    "build_parser",
    "check_ranges",
    "cited",
    "clear_gains_by_cut",
    "cuts_clear_on_every_seed",
    "clear_artifacts",
    "default_notebooks_at_once",
    "differing_segment",
    "discover_notebooks",
    "dump_json",
    "execute",
    "execute_at_once",
    "explained_list",
    "explanations",
    "figure_data_uri",
    "headline",
    "headline_figures",
    "headline_tables",
    "key_numbers",
    "load_runs",
    "main",
    "math_to_mathml",
    "metrics_table",
    "missing_requirements",
    "movie_label",
    "notebook_body",
    "notebook_parameters",
    "offer",
    "output_lock",
    "parse_value",
    "plan",
    "protocol_change",
    "quiet_interrupt",
    "read_records",
    "report_html",
    "resolve_data",
    "resolve_output_dir",
    "robustness_summary",
    "robustness_table",
    "rows_table",
    "run",
    "sanitise_outputs",
    "save_figure",
    "segment_figure",
    "say",
    "segment_sentences",
    "select_notebooks",
    "show_inline",
    "skip_reason",
    "strongest",
    "summary_section",
    "title_matches",
    "to_jsonable",
    "use_style",
    "winners_tables",
    "write_files",
    "write_report",
]
