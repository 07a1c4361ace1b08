"""Paired change statistics checked against independent computations: statsmodels for the t
interval, the tie-corrected normal form and a full enumeration of sign patterns for the
Wilcoxon signed-rank test, and the AJNR-instrumented case (11 patients, all improved)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.weightstats import DescrStatsW

from vertebro.analytics import EXACT_MAX_N, mean_ci, paired_change, wilcoxon_signed_rank
from vertebro.errors import InvalidInput

TOL = {"ci": 1e-10, "p": 1e-10, "p_exact": 1e-12}

BASE = [8, 7, 9, 6, 8, 7, 10, 5]
AFTER = [3, 4, 2, 5, 4, 2, 6, 5]  # changes -5 -3 -7 -1 -4 -5 -4 0: one zero, ties


def _normal_p(d: list[float]) -> float:
    """Tie-corrected normal approximation, zeros dropped, no continuity correction (closed
    form: Lehmann, Nonparametrics 1975, section 3.2)."""
    x = np.asarray([v for v in d if v != 0], dtype=float)
    n = len(x)
    ranks = stats.rankdata(np.abs(x))
    t_plus = ranks[x > 0].sum()
    _, counts = np.unique(np.abs(x), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - (counts**3 - counts).sum() / 48
    z = (t_plus - n * (n + 1) / 4) / math.sqrt(var)
    return float(2 * stats.norm.sf(abs(z)))


def _enumerated_p(d: list[float]) -> float:
    """Exact two-sided p by enumerating every sign pattern (distinct, non-zero d)."""
    ranks = stats.rankdata(np.abs(d))
    observed = ranks[np.asarray(d) > 0].sum()
    total = ranks.sum()
    mean = total / 2
    extreme = sum(
        abs(sum(r for r, s in zip(ranks, signs, strict=True) if s) - mean)
        >= abs(observed - mean) - 1e-9
        for signs in itertools.product([False, True], repeat=len(d))
    )
    return extreme / 2 ** len(d)


def test_mean_change_and_t_interval_match_statsmodels() -> None:
    c = paired_change(BASE, AFTER)
    d = np.subtract(AFTER, BASE)
    assert c.n == 8 and c.mean == pytest.approx(-29 / 8)
    assert c.median == pytest.approx(-4.0)
    lo, hi = DescrStatsW(d).tconfint_mean(alpha=0.05)
    assert c.ci95 == pytest.approx((lo, hi), abs=TOL["ci"])
    assert c.baseline_mean == pytest.approx(np.mean(BASE))
    assert c.follow_up_mean == pytest.approx(np.mean(AFTER))


def test_wilcoxon_with_zero_and_ties_is_exact_given_the_midranks() -> None:
    w = paired_change(BASE, AFTER).wilcoxon
    d = list(np.subtract(AFTER, BASE).astype(float))
    assert (w.method, w.zeros, w.n_ranked, w.ties) == ("exact", 1, 7, True)
    # every change but the zero is negative: T+ = 0, the most extreme of 2**7 patterns
    assert w.p_value == pytest.approx(_enumerated_p([v for v in d if v != 0]), abs=TOL["p_exact"])
    assert w.p_value == pytest.approx(2 / 2**7, abs=TOL["p_exact"])


def test_wilcoxon_exact_when_distinct_and_non_zero() -> None:
    d = [-4.5, -3.0, -2.0, -6.0, 1.0, -0.5, -7.0]
    w = wilcoxon_signed_rank(d)
    assert w.method == "exact" and w.zeros == 0 and not w.ties
    assert w.p_value == pytest.approx(_enumerated_p(d), abs=TOL["p_exact"])


def test_ajnr_instrumented_eleven_improved() -> None:
    # AJNR-instrumented, Results: 11 patients, every VAS lower after (P = .003 by the normal
    # form, as SPSS prints it). With 11 distinct changes the exact p is 2 / 2**11; the normal
    # form is what the product's reproduction checks (vertebro evidence reproduce).
    d = [-float(k) for k in range(1, 12)]
    w = wilcoxon_signed_rank(d)
    assert w.method == "exact" and w.p_value == pytest.approx(2 / 2**11, abs=TOL["p_exact"])
    assert _normal_p(d) == pytest.approx(0.0033, abs=5e-5)


def test_large_samples_use_the_normal_form() -> None:
    d = [float(k) * (-1) ** k for k in range(1, EXACT_MAX_N + 2)]
    w = wilcoxon_signed_rank(d)
    assert w.method == "normal approximation" and not w.ties
    assert w.p_value == pytest.approx(_normal_p(d), abs=TOL["p"])


def test_every_change_zero_has_no_p() -> None:
    c = paired_change([5, 5, 5], [5, 5, 5])
    assert c.mean == 0 and c.ci95 == (0.0, 0.0)
    assert (c.wilcoxon.p_value, c.wilcoxon.method, c.wilcoxon.zeros) == (None, None, 3)


def test_one_pair_has_no_interval() -> None:
    c = paired_change([8], [3])
    assert c.n == 1 and c.mean == -5 and c.ci95 is None and c.sd is None
    assert c.wilcoxon.method == "exact" and c.wilcoxon.p_value == pytest.approx(1.0)


def test_bad_input_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="follow_up"):
        paired_change([1, 2], [1])
    with pytest.raises(InvalidInput, match="baseline"):
        paired_change([], [])
    with pytest.raises(InvalidInput, match="values"):
        mean_ci([])


scores = st.integers(0, 10).map(float)


@given(st.lists(st.tuples(scores, scores), min_size=2, max_size=40))
def test_properties(pairs: list[tuple[float, float]]) -> None:
    before = [b for b, _ in pairs]
    after = [a for _, a in pairs]
    c = paired_change(before, after)
    assert c.ci95 is not None
    assert c.ci95[0] - 1e-9 <= c.mean <= c.ci95[1] + 1e-9  # the CI contains the mean change
    swapped = paired_change(after, before)
    assert swapped.mean == pytest.approx(-c.mean, abs=1e-12)  # swapping flips the sign
    assert swapped.ci95 == pytest.approx((-c.ci95[1], -c.ci95[0]), abs=1e-9)
    assert swapped.wilcoxon.p_value == c.wilcoxon.p_value  # a two-sided test does not care
    assert c.wilcoxon.n_ranked + c.wilcoxon.zeros == c.n


def test_a_zero_change_is_dropped_and_the_rest_tested_exactly() -> None:
    d = [0.0, -1.0, -2.0, -3.0, -4.0, 5.0]
    w = wilcoxon_signed_rank(d)
    assert (w.method, w.zeros, w.n_ranked, w.ties) == ("exact", 1, 5, False)
    assert w.p_value == pytest.approx(_enumerated_p(d[1:]), abs=TOL["p_exact"])
    ref = stats.wilcoxon(d[1:], method="exact").pvalue
    assert w.p_value == pytest.approx(ref, abs=TOL["p_exact"])


# The reviewer's cases: integer scores, small groups, all tied or zero-free ties. The normal
# form gave 0.0394 and 0.0656, below the smallest p the sign patterns allow (2 / 2**n).
@pytest.mark.parametrize(
    ("d", "p"),
    [
        ([-4, -4, -4, -5, -3], 2 / 2**5),  # T+ = 0 is the extreme pattern
        ([-50, -50, -40, -52], 2 / 2**4),
    ],
)
def test_small_tied_groups_get_the_exact_p(d: list[float], p: float) -> None:
    w = wilcoxon_signed_rank(d)
    assert w.method == "exact" and w.ties
    assert w.p_value == pytest.approx(p, abs=TOL["p_exact"])
    assert w.p_value == pytest.approx(_enumerated_p(d), abs=TOL["p_exact"])
    perm = stats.wilcoxon(d, method=stats.PermutationMethod(n_resamples=math.inf)).pvalue
    assert w.p_value == pytest.approx(perm, abs=TOL["p_exact"])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-1000, 1000).filter(bool), min_size=1, max_size=EXACT_MAX_N, unique_by=abs)
)
def test_exact_agrees_with_scipy_without_ties_or_zeros(d: list[int]) -> None:
    w = wilcoxon_signed_rank(d)
    assert w.method == "exact" and not w.ties and w.zeros == 0
    ref = stats.wilcoxon(d, method="exact")
    assert w.p_value == pytest.approx(float(ref.pvalue), abs=TOL["p_exact"])
    assert w.statistic == pytest.approx(float(ref.statistic))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(-4, 4), min_size=2, max_size=12).filter(any))
def test_exact_agrees_with_the_full_permutation_test_with_ties_and_zeros(d: list[int]) -> None:
    w = wilcoxon_signed_rank(d)
    assert w.method == "exact"
    # n_resamples=inf: scipy enumerates every sign pattern (at most 2**12 here)
    ref = stats.wilcoxon(d, method=stats.PermutationMethod(n_resamples=math.inf))
    assert w.p_value == pytest.approx(float(ref.pvalue), abs=TOL["p_exact"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-6, 6), min_size=1, max_size=EXACT_MAX_N).filter(any))
def test_exact_p_is_never_below_the_smallest_attainable(d: list[int]) -> None:
    w = wilcoxon_signed_rank(d)
    assert w.p_value is not None and w.method == "exact"
    assert 2 / 2**w.n_ranked - 1e-15 <= w.p_value <= 1


@pytest.mark.parametrize("n", range(1, EXACT_MAX_N + 1))
def test_all_tied_and_one_signed_is_the_smallest_attainable_p(n: int) -> None:
    # n equal changes, all negative: only 2 of the 2**n sign patterns are as extreme
    w = wilcoxon_signed_rank([-3.0] * n)
    assert w.method == "exact" and w.p_value == pytest.approx(min(1.0, 2 / 2**n), rel=1e-12)
