"""One style for numbers in human output (issue 13 point 8: decimals and intervals)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from vertebro._format import UNKNOWN, estimate, interval, number, percent

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def test_the_issue_example() -> None:
    assert estimate(12.34, (10.06, 14.55)) == "12.3 (95% CI 10.1-14.6)"
    assert estimate(12.3, (10.1, 14.6), unit="%") == "12.3% (95% CI 10.1-14.6)"
    assert estimate(-2.3, (-3.1, -1.5), signed=True) == "-2.3 (95% CI -3.1 to -1.5)"
    assert percent(3.06) == "3.1%" and percent(3.06, None) == "3.06%"


def test_unknown_is_words_never_none() -> None:
    assert number(None) == UNKNOWN and percent(None) == UNKNOWN
    assert estimate(None, (1.0, 2.0)) == UNKNOWN
    assert "None" not in estimate(None, None)


@given(finite, finite, st.sampled_from([None, 0, 1, 2]))
def test_interval_reads_back_to_its_bounds(a: float, b: float, digits: int | None) -> None:
    lo, hi = min(a, b), max(a, b)
    text = interval(lo, hi, digits)
    m = re.fullmatch(r"(\S+?)(?: to |(?<!e)-)(\S+)", text)
    assert m is not None, text
    # the separator never glues a minus sign to the dash
    assert "--" not in text and ("-" not in m[1].replace("e-", "") or " to " in text)
    tol = 0.5 * 10 ** -digits if digits is not None else 1e-9 * max(1.0, abs(lo), abs(hi))
    assert abs(float(m[1]) - lo) <= tol + 1e-9 and abs(float(m[2]) - hi) <= tol + 1e-9


@given(finite, st.integers(0, 3))
def test_decimals_are_fixed(x: float, digits: int) -> None:
    text = number(x, digits)
    assert (len(text.split(".")[1]) if digits else 0) == (digits if "." in text else 0)
