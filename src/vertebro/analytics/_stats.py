"""Exact binomial statistics of the audit: interval, test, funnel-plot control limits.

Pure functions of counts. scipy does the distributions; the one thing written here is the
interpolation of Spiegelhalter's exact limits, which no well-kept Python library provides.

A group's status is decided by the exact binomial tail of its whole-number count, never by the
interpolated limits: those are a smooth curve for drawing the funnel, and a count just above
the curve can still have a tail probability above the level (at n = 100 around 10%, 16 events
lies above the interpolated 15.8% but P(X >= 16) = 0.040 > 0.025).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scipy import stats

from vertebro.errors import InvalidInput

__all__ = [
    "STATUSES",
    "FunnelLimits",
    "Status",
    "classify",
    "clopper_pearson",
    "exceedance_p",
    "first_flagged",
    "funnel_limit",
    "funnel_limits",
]

Status = Literal["within", "alert", "alarm"]
#: in order of concern: classification is monotone in this order
STATUSES: tuple[Status, ...] = ("within", "alert", "alarm")


def _check(events: int, n: int) -> None:
    if n < 1:
        raise InvalidInput.field("n", f"{n!r}: need at least one procedure")
    if not 0 <= events <= n:
        raise InvalidInput.field("events", f"{events!r}: need 0 <= events <= n ({n})")


def _check_rate(p0: float) -> None:
    if not 0 < p0 < 1:
        raise InvalidInput.field("threshold", f"{p0!r}: need a rate strictly between 0 and 1")


def clopper_pearson(events: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) confidence interval of a binomial proportion.

    References
    ----------
    Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case
    of the binomial. Biometrika 1934;26(4):404-13. doi:10.1093/biomet/26.4.404
    """
    _check(events, n)
    ci = stats.binomtest(events, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def exceedance_p(events: int, n: int, p0: float) -> float:
    """One-sided exact binomial p-value of the rate being above ``p0``: P(X >= events | p0)."""
    _check(events, n)
    _check_rate(p0)
    return float(stats.binomtest(events, n, p0, alternative="greater").pvalue)


def funnel_limit(n: int, p0: float, q: float) -> float:
    """The ``q`` control limit of a proportion from ``n`` procedures with target ``p0``.

    The exact binomial ``q`` quantile ``r`` interpolated between ``r - 1`` and ``r`` so that the
    limits move smoothly with ``n``: ``(r - a) / n`` with
    ``a = (F(r) - q) / (F(r) - F(r - 1))``, clipped to [0, 1].

    References
    ----------
    Spiegelhalter DJ. Funnel plots for comparing institutional performance. Stat Med
    2005;24(8):1185-1202 (appendix: exact limits for discrete data). doi:10.1002/sim.1970
    """
    if n < 1:
        raise InvalidInput.field("n", f"{n!r}: need at least one procedure")
    _check_rate(p0)
    if not 0 < q < 1:
        raise InvalidInput.field("q", f"{q!r}: need a probability strictly between 0 and 1")
    dist = stats.binom(n, p0)
    r = float(dist.ppf(q))
    f_r = float(dist.cdf(r))
    f_below = float(dist.cdf(r - 1))
    a = (f_r - q) / (f_r - f_below)
    return min(1.0, max(0.0, (r - a) / n))


@dataclass(frozen=True)
class FunnelLimits:
    """Control limits around the threshold for one group size.

    ``lower_*`` and ``upper_*`` are Spiegelhalter's interpolated limits (proportions), for
    drawing. ``alert`` and ``alarm`` are the one-sided levels; ``alert_events`` and
    ``alarm_events`` the smallest event counts that :func:`classify` flags at this ``n``
    (``None`` when no count can be: too few procedures)."""

    n: int
    threshold: float
    lower_alarm: float
    lower_alert: float
    upper_alert: float
    upper_alarm: float
    alert: float = 0.975
    alarm: float = 0.999
    alert_events: int | None = None
    alarm_events: int | None = None


def _flagged(events: int, n: int, p0: float, level: float) -> bool:
    """The count is beyond the one-sided ``level``: P(X >= events | p0) < 1 - level."""
    return exceedance_p(events, n, p0) < 1 - level


def first_flagged(n: int, p0: float, level: float) -> int | None:
    """The smallest event count out of ``n`` with P(X >= count | p0) < 1 - ``level``, or
    ``None`` if even ``n`` events is not (the tail only shrinks as the count grows)."""
    if not _flagged(n, n, p0, level):
        return None
    lo, hi = 0, n  # hi is flagged; find the first flagged by bisection
    while lo < hi:
        mid = (lo + hi) // 2
        if _flagged(mid, n, p0, level):
            hi = mid
        else:
            lo = mid + 1
    return lo


def funnel_limits(n: int, p0: float, alert: float = 0.975, alarm: float = 0.999) -> FunnelLimits:
    """The two-sided 95% (``alert``) and 99.8% (``alarm``) limits for ``n`` procedures.

    References
    ----------
    Spiegelhalter DJ. Stat Med 2005;24(8):1185-1202.
    """
    return FunnelLimits(
        n=n,
        threshold=p0,
        lower_alarm=funnel_limit(n, p0, 1 - alarm),
        lower_alert=funnel_limit(n, p0, 1 - alert),
        upper_alert=funnel_limit(n, p0, alert),
        upper_alarm=funnel_limit(n, p0, alarm),
        alert=alert,
        alarm=alarm,
        alert_events=first_flagged(n, p0, alert),
        alarm_events=first_flagged(n, p0, alarm),
    )


def classify(events: int, n: int, limits: FunnelLimits) -> Status:
    """``alarm`` when the exact one-sided p, P(X >= events | threshold), is below
    ``1 - limits.alarm`` (0.001), ``alert`` when below ``1 - limits.alert`` (0.025), else
    ``within``. Only the upper side is a concern for a complication rate.

    The whole-number count is judged by its exact binomial tail, not against the interpolated
    limits (drawing only): a count just above the interpolated curve can still be within.

    References
    ----------
    Spiegelhalter DJ. Stat Med 2005;24(8):1185-1202 (exact limits for discrete data).
    """
    _check(events, n)
    if limits.n != n:
        raise InvalidInput.field("n", f"{n}: the limits are for {limits.n} procedures")
    if _flagged(events, n, limits.threshold, limits.alarm):
        return "alarm"
    if _flagged(events, n, limits.threshold, limits.alert):
        return "alert"
    return "within"
