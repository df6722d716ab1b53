"""Data in: readers and writers (io), the generated sample (synth), data sets and splits. Imports core.

Modules::

    io       the ratings, titles and Prize file formats (package)
    synth    the deterministic Netflix-like sample and its ground truth (package)
    split    named splits: global time, per-user time, random, probe, and validation cuts
    dataset  load_dataset: ratings, titles, probe, qualifying
"""

from __future__ import annotations

from cfutils.data.dataset import EMBEDDED, Dataset, find_beside, find_titles, load_dataset, source_path
from cfutils.data.io import DataFormatError, read_probe, read_qualifying, read_ratings, read_titles
from cfutils.data.split import (
    HASH_MASK,
    HASH_MULTIPLIER,
    SPLIT_METHODS,
    Split,
    check_fraction,
    chronological_folds,
    file_order_split,
    hashed_split,
    make_split,
    pair_hash,
    per_user_temporal_split,
    probe_split,
    random_split,
    sample_ids,
    sample_ratings,
    sample_rows,
    temporal_split,
    validation_cut,
    validation_split_for,
)
from cfutils.data.synth import Truth

__all__ = [
    "DataFormatError",
    "Dataset",
    "EMBEDDED",
    "HASH_MASK",
    "HASH_MULTIPLIER",
    "SPLIT_METHODS",
    "Split",
    "check_fraction",
    "chronological_folds",
    "file_order_split",
    "find_beside",
    "find_titles",
    "hashed_split",
    "load_dataset",
    "make_split",
    "pair_hash",
    "per_user_temporal_split",
    "probe_split",
    "random_split",
    "read_probe",
    "read_qualifying",
    "read_ratings",
    "read_titles",
    "sample_ids",
    "sample_ratings",
    "sample_rows",
    "source_path",
    "temporal_split",
    "Truth",
    "validation_cut",
    "validation_split_for",
]
