"""Interval, test and control limits, each checked against an independent computation:
exact binomial sums in rational arithmetic, closed forms, statsmodels, scipy quantiles."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from vertebro.analytics import (
    STATUSES,
    classify,
    clopper_pearson,
    exceedance_p,
    funnel_limit,
    funnel_limits,
)
from vertebro.errors import InvalidInput

TOL = {"ci": 1e-9, "p": 1e-12, "limit": 1e-12, "tail": 1e-7}


def _cdf(r: int, n: int, p: Fraction) -> Fraction:
    """P(X <= r) for X ~ Bin(n, p), exactly."""
    return sum((math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(r + 1)), Fraction(0))


def _cdf_float(r: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(r + 1))


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (7, 40), (12, 100), (30, 30), (3, 500)])
def test_clopper_pearson_solves_its_defining_equations(k: int, n: int) -> None:
    # Clopper & Pearson 1934: P(X >= k | lo) = 0.025 and P(X <= k | hi) = 0.025
    lo, hi = clopper_pearson(k, n)
    if k > 0:
        assert 1 - _cdf_float(k - 1, n, lo) == pytest.approx(0.025, abs=TOL["tail"])
    else:
        assert lo == 0
    if k < n:
        assert _cdf_float(k, n, hi) == pytest.approx(0.025, abs=TOL["tail"])
    else:
        assert hi == 1
    # and agrees with statsmodels' beta-quantile form
    sm = proportion_confint(k, n, alpha=0.05, method="beta")
    assert (lo, hi) == pytest.approx(sm, abs=TOL["ci"])


@pytest.mark.parametrize("n", [1, 10, 29, 100])
def test_clopper_pearson_closed_forms_at_the_edges(n: int) -> None:
    # with no events the upper limit is 1 - (alpha/2)^(1/n); with all events the lower is
    # (alpha/2)^(1/n) (0/10: 0.3085, the exact form behind the "rule of three")
    assert clopper_pearson(0, n)[1] == pytest.approx(1 - 0.025 ** (1 / n), abs=TOL["ci"])
    assert clopper_pearson(n, n)[0] == pytest.approx(0.025 ** (1 / n), abs=TOL["ci"])
    if n == 10:
        assert clopper_pearson(0, 10)[1] == pytest.approx(0.3085, abs=5e-5)


@pytest.mark.parametrize(("k", "n"), [(0, 20), (2, 20), (5, 20), (16, 100), (25, 150), (9, 40)])
def test_one_sided_p_is_the_exact_upper_tail(k: int, n: int) -> None:
    exact = 1 - _cdf(k - 1, n, Fraction(1, 10)) if k else Fraction(1)
    assert exceedance_p(k, n, 0.10) == pytest.approx(float(exact), abs=TOL["p"])


def test_control_limits_for_100_procedures_at_10_percent() -> None:
    n, p0 = 100, 0.10
    lim = funnel_limits(n, p0)
    for q, limit in (
        (0.975, lim.upper_alert),
        (0.999, lim.upper_alarm),
        (0.025, lim.lower_alert),
        (0.001, lim.lower_alarm),
    ):
        r = int(stats.binom.ppf(q, n, p0))  # the quantile, straight from scipy
        f_r, f_below = _cdf(r, n, Fraction(1, 10)), _cdf(r - 1, n, Fraction(1, 10))
        assert f_below < q <= f_r  # r is the smallest count with P(X <= r) >= q
        a = (f_r - Fraction(q)) / (f_r - f_below)  # Spiegelhalter 2005 interpolation
        assert limit == pytest.approx(float((r - a) / n), abs=TOL["limit"])
        assert (r - 1) / n < limit <= r / n
    # the 97.5% and 99.9% quantiles of Bin(100, 0.1) are 16 and 20 (lower: 5 and 2)
    assert (lim.upper_alert, lim.upper_alarm) == pytest.approx((0.1577, 0.1984), abs=1e-4)
    # The status is the exact tail of the whole count, not the interpolated line: 16 events
    # is above 15.77% but P(X >= 16) = 0.0399 > 0.025, and 20 is above 19.84% but
    # P(X >= 20) = 0.0020 > 0.001. The alert starts at 17 (0.0206), the alarm at 21 (0.0008).
    tail = {k: float(1 - _cdf(k - 1, n, Fraction(1, 10))) for k in (16, 17, 20, 21)}
    assert tail[16] == pytest.approx(0.0399, abs=5e-5) and tail[17] < 0.025
    assert tail[20] == pytest.approx(0.0020, abs=5e-5) and tail[21] < 0.001
    assert [classify(k, n, lim) for k in (10, 15, 16, 17, 19, 20, 21, 100)] == [
        "within",
        "within",
        "within",
        "alert",
        "alert",
        "alert",
        "alarm",
        "alarm",
    ]
    assert (lim.alert_events, lim.alarm_events) == (17, 21)


def test_bad_counts_name_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"^events: 11"):
        clopper_pearson(11, 10)
    with pytest.raises(InvalidInput, match=r"^n: 0"):
        exceedance_p(0, 0, 0.1)
    with pytest.raises(InvalidInput, match=r"^threshold: 1.5"):
        funnel_limit(10, 1.5, 0.975)
    with pytest.raises(InvalidInput, match=r"^n: 20: the limits are for 10"):
        classify(1, 20, funnel_limits(10, 0.1))


# ------------------------------------------------------------------ properties
counts = st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))
rates = st.sampled_from([0.02, 0.05, 0.10, 0.25])


@given(counts, rates)
def test_interval_contains_the_rate_and_p_is_a_probability(kn: tuple[int, int], p0: float) -> None:
    k, n = kn
    lo, hi = clopper_pearson(k, n)
    assert 0 <= lo <= k / n <= hi <= 1
    assert 0 <= exceedance_p(k, n, p0) <= 1


@given(st.integers(1, 400), rates)
def test_limits_are_ordered_and_status_monotone_in_events(n: int, p0: float) -> None:
    lim = funnel_limits(n, p0)
    assert 0 <= lim.lower_alarm <= lim.lower_alert <= lim.upper_alert <= lim.upper_alarm <= 1
    ranks = [STATUSES.index(classify(k, n, lim)) for k in range(n + 1)]
    assert ranks == sorted(ranks)
    ps = [exceedance_p(k, n, p0) for k in range(0, n + 1, max(1, n // 20))]
    assert all(a >= b - 1e-12 for a, b in itertools.pairwise(ps))


@settings(max_examples=60)
@given(st.integers(1, 200), rates, st.sampled_from([(0.975, 0.999), (0.95, 0.99)]))
def test_status_is_the_exact_tail_against_the_levels(
    n: int, p0: float, levels: tuple[float, float]
) -> None:
    alert, alarm = levels
    lim = funnel_limits(n, p0, alert, alarm)
    # the exact one-sided p for every count, summed in fractions from the top: independent
    # of scipy's binomtest
    q = Fraction(str(p0))
    pmf = [math.comb(n, k) * q**k * (1 - q) ** (n - k) for k in range(n + 1)]
    tails = list(itertools.accumulate(reversed(pmf)))[::-1]
    statuses = []
    for k in range(n + 1):
        tail = tails[k]
        expected = "alarm" if tail < 1 - alarm else "alert" if tail < 1 - alert else "within"
        status = classify(k, n, lim)
        if abs(float(tail) - (1 - alert)) > 1e-12 and abs(float(tail) - (1 - alarm)) > 1e-12:
            assert status == expected, (k, float(tail))
        statuses.append(STATUSES.index(status))
    assert statuses == sorted(statuses)  # monotone in events
    for level, first in ((alert, lim.alert_events), (alarm, lim.alarm_events)):
        flagged = [k for k in range(n + 1) if exceedance_p(k, n, p0) < 1 - level]
        assert first == (flagged[0] if flagged else None)
