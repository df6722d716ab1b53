"""Strings from data where they meet HTML or a figure: one place that makes them inert.

A movie title comes from a file the user downloaded; it may hold ``<script>``, an ``onerror``
attribute, ``&``, quotes or ``$``. Every place that puts such a string into HTML (the explorers'
headings, a styled table, the report) or into a matplotlib label goes through these functions.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler


def escape_html(value: Any) -> str:
    """``str(value)`` as HTML text: ``<``, ``>``, ``&`` and both quotes escaped, safe in an element
    or in a quoted attribute."""
    return html.escape(str(value), quote=True)


def literal_mathtext(value: Any) -> str:
    """``str(value)`` for a matplotlib label: each ``$`` escaped, so it is drawn as a dollar sign and
    never parsed as mathtext (an unbalanced one would otherwise crash the figure)."""
    return str(value).replace("$", r"\$")


def styled_table(frame: pd.DataFrame, precision: int = 3) -> Styler:
    """``frame`` as a pandas Styler with every cell HTML-escaped (the Styler escapes nothing unless
    told to), floats to ``precision`` decimals, the index hidden."""
    return frame.style.format(precision=precision, escape="html").hide(axis="index")
