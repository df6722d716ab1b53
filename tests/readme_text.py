"""README text as the record tests read it: whitespace folded to single spaces, so that a sentence matches
wherever the README wraps its lines."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def flat(text: str) -> str:
    return " ".join(text.split())


def flat_file(relative: str) -> str:
    """``flat`` of a file of the repository, by its path from the root (e.g. ``"benchmarks/README.md"``)."""
    return flat((ROOT / relative).read_text())
