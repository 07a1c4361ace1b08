"""Exact binomial statistics of the audit: interval, test, funnel-plot control limits.

Pure functions of counts. scipy does the distributions; the one thing written here is the
interpolation of Spiegelhalter's exact limits, which no well-kept Python library provides.
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
    """Control limits around the threshold for one group size (proportions)."""

    n: int
    threshold: float
    lower_alarm: float
    lower_alert: float
    upper_alert: float
    upper_alarm: float


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
    )


def classify(events: int, n: int, limits: FunnelLimits) -> Status:
    """``alarm`` above the upper 99.8% limit, ``alert`` above the upper 95% limit, else
    ``within``. Only the upper side is a concern for a complication rate."""
    _check(events, n)
    if limits.n != n:
        raise InvalidInput.field("n", f"{n}: the limits are for {limits.n} procedures")
    rate = events / n
    if rate > limits.upper_alarm:
        return "alarm"
    if rate > limits.upper_alert:
        return "alert"
    return "within"
