import numpy as np
import pytest

from cfutils.core.memory import (
    BUDGET_ENV,
    DEFAULT_BUDGET_BYTES,
    MIN_DEFAULT_BUDGET_BYTES,
    GiB,
    MemoryBudgetError,
    budget_from_gib,
    check_budget,
    current_rss_bytes,
    format_bytes,
    machine_budget_bytes,
    peak_rss_bytes,
    reset_peak_rss,
)


def test_check_budget_allows_exactly_the_budget_and_refuses_one_byte_more():
    assert check_budget(1 * GiB, 1 * GiB, "a block", "budget_bytes") is None
    with pytest.raises(MemoryBudgetError):
        check_budget(1 * GiB + 1, 1 * GiB, "a block", "budget_bytes")


@pytest.mark.parametrize(
    "available, expected",
    [(22 * GiB, int(0.2 * 22 * GiB)), (8 * GiB, int(1.6 * GiB)), (2 * GiB, MIN_DEFAULT_BUDGET_BYTES)],
)
def test_machine_budget_is_a_fifth_of_available_memory_with_a_floor(available, expected, monkeypatch):
    monkeypatch.delenv(BUDGET_ENV, raising=False)
    assert machine_budget_bytes(available) == expected


def test_machine_budget_can_be_pinned_by_the_environment(monkeypatch):
    monkeypatch.setenv(BUDGET_ENV, "6")
    assert machine_budget_bytes(100 * GiB) == 6 * GiB
    monkeypatch.setenv(BUDGET_ENV, "lots")
    with pytest.raises(ValueError, match=BUDGET_ENV):
        machine_budget_bytes()


def test_check_budget_names_the_parameter_and_sizes():
    with pytest.raises(MemoryBudgetError, match=r"a block needs about 3\.0 GiB.*2\.0 GiB.*`budget_bytes`"):
        check_budget(3 * GiB, 2 * GiB, "a block", "budget_bytes")


@pytest.mark.parametrize("n, text", [(0, "0.0 B"), (1536, "1.5 KiB"), (5 * GiB, "5.0 GiB"), (2048 * GiB, "2.0 TiB")])
def test_format_bytes(n, text):
    assert format_bytes(n) == text


def test_rss_readings_are_plausible():
    assert 0 < current_rss_bytes() <= peak_rss_bytes() * 1.5


def test_reset_peak_rss_forgets_a_freed_allocation():
    block = np.ones(50_000_000 // 8 * 8)  # ~400 MB touched
    with_block = peak_rss_bytes()
    del block
    if not reset_peak_rss():
        pytest.skip("this kernel does not allow resetting the peak RSS")
    assert peak_rss_bytes() < with_block - 200 * 2**20


def test_budget_from_gib_converts_and_defaults_to_the_machine_budget():
    assert budget_from_gib(1.5) == 1.5 * 1024**3
    assert budget_from_gib(None) == DEFAULT_BUDGET_BYTES
