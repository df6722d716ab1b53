"""Memory budgets: check before a heavy step, so it fails clearly instead of exhausting the machine.

Every heavy step in cfutils estimates the bytes it is about to allocate and
calls :func:`check_budget` first. The error names the parameter to change.
"""

from __future__ import annotations

import os
import re
import resource
from pathlib import Path

import psutil

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")

MiB = 1024**2
GiB = 1024**3

#: Environment variable that fixes the default step budget, in GiB (e.g. ``CFUTILS_STEP_BUDGET_GB=6``).
BUDGET_ENV = "CFUTILS_STEP_BUDGET_GB"
#: Share of the memory available when cfutils is imported that one heavy step may use by default.
STEP_SHARE_OF_AVAILABLE = 0.2
#: The default budget never goes below this, so a busy machine still runs small data.
MIN_DEFAULT_BUDGET_BYTES = 1 * GiB


def machine_budget_bytes(available_bytes: float | None = None) -> int:
    r"""The default working-memory budget of one heavy step, derived from the machine.

    .. math:: B = \max\big(1\,\text{GiB},\; 0.2 \cdot M_{\text{available}}\big)

    A fifth of the available memory leaves room for the data the step works on (the
    ratings frame, CSR and CSC copies: about 40 bytes per rating) and for the rest of a
    notebook's state: a full Netflix run peaks at about 15 GiB with 3 GiB steps
    (``benchmarks/README.md``). On a 24 GB machine with about 22 GiB free this gives
    about 4.4 GiB; on an 8 GB laptop about 1.2 GiB. ``CFUTILS_STEP_BUDGET_GB`` overrides the
    rule (a positive number of GiB), so a run can be pinned to the same budget anywhere.
    """
    override = os.environ.get(BUDGET_ENV)
    if override:
        try:
            gib = float(override)
        except ValueError:
            gib = -1.0
        if not gib > 0:
            raise ValueError(f"{BUDGET_ENV}={override!r}: expected a positive number of GiB")
        return int(gib * GiB)
    if available_bytes is None:
        available_bytes = psutil.virtual_memory().available
    return int(max(MIN_DEFAULT_BUDGET_BYTES, STEP_SHARE_OF_AVAILABLE * available_bytes))


#: Default working-memory budget of one heavy step (block products, feature batches, model
#: fits), fixed when cfutils is imported: see :func:`machine_budget_bytes`.
DEFAULT_BUDGET_BYTES = machine_budget_bytes()


def budget_from_gib(gib: float | None) -> float:
    """A budget given in GiB, in bytes; ``None`` gives :data:`DEFAULT_BUDGET_BYTES`."""
    return DEFAULT_BUDGET_BYTES if gib is None else gib * GiB


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
