"""Data in: readers and writers (io), the generated sample (synth), data sets and splits. Imports core.

Modules::

    io       the ratings, titles and Prize file formats (package)
    synth    the deterministic Netflix-like sample and its ground truth (package)
    split    named splits (SplitMethod objects: global time, per-user time, random, probe, given), validation cuts
    dataset  load_dataset: ratings, titles, probe, qualifying; MovieLens 100K's .base/.test folds
"""

from __future__ import annotations

from cfutils.data.dataset import (
    EMBEDDED,
    GIVEN_SUFFIXES,
    Dataset,
    find_beside,
    find_titles,
    load_dataset,
    read_given,
    source_path,
)
from cfutils.data.io import DataFormatError, read_probe, read_qualifying, read_ratings, read_titles
from cfutils.data.split import (
    GIVEN,
    GLOBAL_TIME,
    HASH_MASK,
    HASH_MULTIPLIER,
    HELD_OUT_SPLITS,
    PER_USER_TIME,
    PROBE,
    RANDOM,
    SPLIT_METHODS,
    SPLITS,
    Split,
    SplitMethod,
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
    split_method,
    temporal_split,
    validation_cut,
    validation_folds,
    validation_split_for,
)
from cfutils.data.synth import Truth

__all__ = [
    "DataFormatError",
    "Dataset",
    "EMBEDDED",
    "GIVEN",
    "GIVEN_SUFFIXES",
    "GLOBAL_TIME",
    "HASH_MASK",
    "HASH_MULTIPLIER",
    "HELD_OUT_SPLITS",
    "PER_USER_TIME",
    "PROBE",
    "RANDOM",
    "SPLIT_METHODS",
    "SPLITS",
    "Split",
    "SplitMethod",
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
    "read_given",
    "read_qualifying",
    "read_ratings",
    "read_titles",
    "sample_ids",
    "sample_ratings",
    "sample_rows",
    "split_method",
    "source_path",
    "temporal_split",
    "Truth",
    "validation_cut",
    "validation_folds",
    "validation_split_for",
]
