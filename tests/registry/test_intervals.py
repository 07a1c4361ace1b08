from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vertebro.registry.intervals import SCHEDULE, bin_days
from vertebro.registry.vocab import INTERVALS


@pytest.mark.parametrize(("days", "interval"), [
    (0, "lt4w"), (27, "lt4w"), (28, "le6w"), (42, "le6w"), (43, "lt6m"), (182, "lt6m"),
    (183, "lt1y"), (364, "lt1y"), (365, "ge1y"), (2000, "ge1y"),
])
def test_sorensen_table2_bins(days: int, interval: str) -> None:
    assert bin_days(days) == interval


@given(st.integers(0, 5000), st.integers(0, 5000))
def test_bins_are_ordered(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert INTERVALS.index(bin_days(lo)) <= INTERVALS.index(bin_days(hi))


def test_baseline_and_negative_days() -> None:
    assert bin_days(-3, baseline=True) == "preop"
    with pytest.raises(ValueError):
        bin_days(-1)


def test_schedule_targets_lie_in_their_bins() -> None:
    for visit in SCHEDULE:
        assert bin_days(visit.target_day) == visit.interval
        assert bin_days(visit.opens_day) == visit.interval
        if visit.closes_day is not None:
            assert bin_days(visit.closes_day) == visit.interval
