"""Deterministic Netflix-Prize-like data, written in the exact Kaggle file format.

The default run of the project needs no download: it generates a sample with this
package and reads it back with the real reader (:func:`cfutils.data.io.read_ratings`), so the
reader is exercised every time. The same generator scales to full Netflix size
(:data:`NETFLIX`) with bounded memory.

Two rooms: :mod:`~cfutils.data.synth.model` (the generative model of users and movies, with its
sampler in :mod:`~cfutils.data.synth.sampler` and its titles in :mod:`~cfutils.data.synth.titles`)
and :mod:`~cfutils.data.synth.writer` (the files, their marker and the Prize's hold-out);
:mod:`~cfutils.data.synth.truth` gives back what the files hide: every user's true expected rating of
every movie, and how exposure was drawn;
:mod:`~cfutils.data.synth.cli` is ``python -m cfutils.data.synth``.
The public names are importable from here.
"""

from cfutils.data.synth.cli import main
from cfutils.data.synth.model import FIRST_DAY, LAST_DAY, MAX_CUSTOMER_ID, MODEL, N_DAYS, STAR_SHARES, Model
from cfutils.data.synth.truth import Truth
from cfutils.data.synth.writer import (
    GENERATOR_VERSION,
    MARKER_NAME,
    NETFLIX,
    PRIZE_FILE_NAMES,
    SAMPLE,
    TINY,
    TITLES_NAME,
    Preset,
    default_sample_dir,
    format_rating_lines,
    write_netflix,
    write_preset,
    write_sample,
)

__all__ = [
    "FIRST_DAY",
    "GENERATOR_VERSION",
    "LAST_DAY",
    "MARKER_NAME",
    "MAX_CUSTOMER_ID",
    "MODEL",
    "NETFLIX",
    "N_DAYS",
    "PRIZE_FILE_NAMES",
    "SAMPLE",
    "STAR_SHARES",
    "TINY",
    "TITLES_NAME",
    "Truth",
    "Model",
    "Preset",
    "default_sample_dir",
    "format_rating_lines",
    "main",
    "write_netflix",
    "write_preset",
    "write_sample",
]
