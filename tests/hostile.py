"""Hostile movie titles shared by the safety tests: each payload, if it ran, would set ``window.pwned``."""

from __future__ import annotations

#: Titles carrying script, an event handler, ``&``, a quote and ``$`` (an unbalanced mathtext).
HOSTILE_TITLES = (
    "<script>window.pwned = 1</script>",
    '<img src=x onerror="window.pwned = 2">',
    'Tom & Jerry "quoted" <b>bold</b>',
    "Price $x^$ tag",
    "<svg onload=window.pwned=3>",
)


def has_live_markup(html: str) -> bool:
    """Whether ``html`` holds one of the payloads as markup (not escaped text)."""
    return any(tag in html for tag in ("<script", "<img", "<svg", "<b>"))
