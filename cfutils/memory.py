"""Memory budgets: check before a heavy step, so it fails clearly instead of exhausting the machine.

Every heavy step in cfutils estimates the bytes it is about to allocate and
calls :func:`check_budget` first. The error names the parameter to change.
"""

from __future__ import annotations

import re
import resource
from pathlib import Path

import psutil

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")

MiB = 1024**2
GiB = 1024**3

#: Default working-memory budget of one heavy step (block products, feature batches).
DEFAULT_BUDGET_BYTES = 2 * GiB


class MemoryBudgetError(MemoryError):
    """A step would need more memory than its budget allows."""


def check_budget(required_bytes: float, budget_bytes: float, what: str, parameter: str) -> None:
    """Raise :class:`MemoryBudgetError` if ``required_bytes > budget_bytes``.

    ``what`` describes the allocation, ``parameter`` names the knob the user can turn
    (for example ``"budget_bytes"`` or ``"SAMPLE_USERS"``).
    """
    if required_bytes > budget_bytes:
        raise MemoryBudgetError(
            f"{what} needs about {format_bytes(required_bytes)}, more than the budget of "
            f"{format_bytes(budget_bytes)}. Raise `{parameter}` or make the input smaller."
        )


def format_bytes(n_bytes: float) -> str:
    """Human-readable size with binary units, e.g. ``1.5 GiB``."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def current_rss_bytes() -> int:
    """Resident set size of this process now."""
    return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process since start or the last :func:`reset_peak_rss`.

    Reads ``VmHWM`` from ``/proc/self/status`` on Linux; elsewhere falls back to
    ``ru_maxrss``, which cannot be reset.
    """
    try:
        match = re.search(r"VmHWM:\s+(\d+) kB", _STATUS.read_text())
    except OSError:
        match = None
    if match:
        return int(match.group(1)) * 1024
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def reset_peak_rss() -> bool:
    """Reset the peak-RSS mark so the next reading covers one stage only (Linux >= 4.0).

    Returns False where the kernel does not allow it; the peak then covers the whole run.
    """
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True
