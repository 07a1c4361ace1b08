"""Numbers in human output: one style for a number, a percentage and an interval.

Every text report (``vertebro assess``, ``registry summary``, ``analytics outcomes``/``audit``)
writes a computed value with one decimal, a published value as its source prints it
(``digits=None``), and an interval as ``lo-hi`` (``lo to hi`` when a bound is negative, so a
minus sign is never read as a dash): ``12.3 (95% CI 10.1-14.6)``. An unknown value reads
"not known", never Python's ``None``. The JSON output keeps the raw numbers.
"""

from __future__ import annotations

__all__ = ["UNKNOWN", "estimate", "interval", "number", "percent"]

UNKNOWN = "not known"


def number(x: float | None, digits: int | None = 1, *, signed: bool = False) -> str:
    """``x`` with ``digits`` decimals (``None``: as published, the shortest exact form)."""
    if x is None:
        return UNKNOWN
    if digits is not None:
        return f"{x:{'+' if signed else ''}.{digits}f}"
    text = repr(float(x)).removesuffix(".0")  # shortest exact: 3, 3.06, 100000.5
    return f"+{text}" if signed and x >= 0 else text


def percent(x: float | None, digits: int | None = 1) -> str:
    """A percentage (already times 100): ``12.3%``."""
    return UNKNOWN if x is None else f"{number(x, digits)}%"


def interval(lo: float, hi: float, digits: int | None = 1, *, signed: bool = False) -> str:
    """``10.1-14.6``; ``-3.1 to -1.5`` when a bound is negative."""
    a, b = number(lo, digits, signed=signed), number(hi, digits, signed=signed)
    return f"{a} to {b}" if (a + b).count("-") > (a + b).count("e-") else f"{a}-{b}"


def estimate(
    x: float | None,
    ci: tuple[float, float] | list[float] | None,
    digits: int | None = 1,
    *,
    signed: bool = False,
    unit: str = "",
    level: str = "95% CI",
) -> str:
    """A value with its interval: ``12.3 (95% CI 10.1-14.6)``; ``unit`` follows the value
    (``12.3% (95% CI 10.1-14.6)``); without an interval, the value alone."""
    head = number(x, digits, signed=signed) + ("" if x is None else unit)
    if ci is None or x is None:
        return head
    return f"{head} ({level} {interval(ci[0], ci[1], digits)})"
