import pytest

from cfutils.memory import (
    GiB,
    MemoryBudgetError,
    check_budget,
    current_rss_bytes,
    format_bytes,
    peak_rss_bytes,
    reset_peak_rss,
)


def test_check_budget_passes_within_budget():
    check_budget(1 * GiB, 1 * GiB, "a block", "budget_bytes")


def test_check_budget_names_the_parameter_and_sizes():
    with pytest.raises(MemoryBudgetError, match=r"a block needs about 3\.0 GiB.*2\.0 GiB.*`budget_bytes`"):
        check_budget(3 * GiB, 2 * GiB, "a block", "budget_bytes")


def test_memory_budget_error_is_a_memory_error():
    assert issubclass(MemoryBudgetError, MemoryError)


@pytest.mark.parametrize("n, text", [(0, "0.0 B"), (1536, "1.5 KiB"), (5 * GiB, "5.0 GiB"), (2048 * GiB, "2.0 TiB")])
def test_format_bytes(n, text):
    assert format_bytes(n) == text


def test_rss_readings_are_plausible():
    assert 0 < current_rss_bytes() <= peak_rss_bytes() * 1.5


def test_reset_peak_rss_forgets_a_freed_allocation():
    import numpy as np

    block = np.ones(50_000_000 // 8 * 8)  # ~400 MB touched
    with_block = peak_rss_bytes()
    del block
    if not reset_peak_rss():
        pytest.skip("this kernel does not allow resetting the peak RSS")
    assert peak_rss_bytes() < with_block - 200 * 2**20
