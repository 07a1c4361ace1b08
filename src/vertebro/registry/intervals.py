"""Binning follow-ups into the intervals of Sorensen-SpineJ-2019 Table 2 (DESIGN.md section 6).

Table 2 reports outcomes preoperatively and at < 4 weeks, <= 6 weeks, < 6 months, < 1 year
and >= 1 year. A registry visit is binned by whole days since its procedure:

=========  ===================  ==================
code       label                days since procedure
=========  ===================  ==================
preop      preoperative         baseline visit (on or before the procedure day)
lt4w       < 4 weeks            0 - 27
le6w       <= 6 weeks           28 - 42
lt6m       < 6 months           43 - 182
lt1y       < 1 year             183 - 364
ge1y       >= 1 year            365 and more
=========  ===================  ==================

The "due" targets are the days a visit is planned for within each interval (2 weeks, 6 weeks,
3 months, 6 months, 1 year): a common registry schedule, chosen here so that each target lies
inside its bin; they are configuration, not a published number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["SCHEDULE", "ScheduledVisit", "bin_days"]

# upper bounds (exclusive) in days, following Sorensen-SpineJ-2019 Table 2 column headings
_BOUNDS: Final = (("lt4w", 28), ("le6w", 43), ("lt6m", 183), ("lt1y", 365))


def bin_days(days: int, *, baseline: bool = False) -> str:
    """The interval code for a visit ``days`` after its procedure."""
    if baseline:
        return "preop"
    if days < 0:
        raise ValueError("a follow-up cannot precede its procedure")
    for code, upper in _BOUNDS:
        if days < upper:
            return code
    return "ge1y"


@dataclass(frozen=True)
class ScheduledVisit:
    interval: str
    target_day: int  # planned day after the procedure
    opens_day: int  # first day of the bin (the visit counts from here)
    closes_day: int | None  # last day of the bin; None = open-ended


SCHEDULE: Final[tuple[ScheduledVisit, ...]] = (
    ScheduledVisit("lt4w", 14, 0, 27),
    ScheduledVisit("le6w", 42, 28, 42),
    ScheduledVisit("lt6m", 91, 43, 182),
    ScheduledVisit("lt1y", 183, 183, 364),
    ScheduledVisit("ge1y", 365, 365, None),
)
