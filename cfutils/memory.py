"""Memory budgets: check before a heavy step, so it fails clearly instead of exhausting the machine.

Every heavy step in cfutils estimates the bytes it is about to allocate and
calls :func:`check_budget` first. The error names the parameter to change.
"""

from __future__ import annotations

import resource

import psutil

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


def available_bytes() -> int:
    """Memory the OS can still give this process without swapping."""
    return int(psutil.virtual_memory().available)


def current_rss_bytes() -> int:
    """Resident set size of this process now."""
    return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (``ru_maxrss``, KiB on Linux)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
