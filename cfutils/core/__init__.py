"""The bottom layer: what every stage shares. Imports no other layer.

Modules::

    memory      memory budgets, the guard that stops a step before it exhausts the machine
    progress    progress bars that stay quiet in batch runs
    parallel    worker processes for independent fits
    matrix      the ratings as CSR with compact indices (one id-to-index mapping: index_of)
    train_data  TrainData: one training frame, its matrix and what stages derive from it, built once
    similarity  top-k similarity (package)
    text        data strings made inert for HTML and figure labels
"""

from __future__ import annotations

from cfutils.core.matrix import RatingMatrix, index_of, with_data
from cfutils.core.memory import (
    DEFAULT_BUDGET_BYTES,
    GiB,
    MemoryBudgetError,
    MiB,
    budget_from_gib,
    check_budget,
    current_rss_bytes,
    format_bytes,
    machine_budget_bytes,
    peak_rss_bytes,
    reset_peak_rss,
)
from cfutils.core.parallel import default_workers, parallel_map
from cfutils.core.progress import batch_environment, interactive, progress_bar
from cfutils.core.similarity import cosine_top_k, shrinkage_factor, similarity_top_k
from cfutils.core.text import escape_html, literal_mathtext, styled_table
from cfutils.core.train_data import SIDES, TrainData, as_train_data

__all__ = [
    "escape_html",
    "literal_mathtext",
    "styled_table",
    "DEFAULT_BUDGET_BYTES",
    "GiB",
    "MemoryBudgetError",
    "MiB",
    "RatingMatrix",
    "SIDES",
    "TrainData",
    "as_train_data",
    "batch_environment",
    "budget_from_gib",
    "check_budget",
    "cosine_top_k",
    "current_rss_bytes",
    "default_workers",
    "format_bytes",
    "index_of",
    "interactive",
    "machine_budget_bytes",
    "parallel_map",
    "peak_rss_bytes",
    "progress_bar",
    "reset_peak_rss",
    "shrinkage_factor",
    "similarity_top_k",
    "with_data",
]
