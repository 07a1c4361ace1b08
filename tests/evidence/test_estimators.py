"""The tau^2 estimators against independent computations: the closed forms written out here,
the (restricted) likelihood maximised numerically with scipy, and statsmodels'
``combine_effects`` (DL = "chi2", PM = "iterated", HKSJ intervals)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import optimize
from statsmodels.stats.meta_analysis import combine_effects

from vertebro.evidence import RMA, rma_batch

from .tolerances import TOL


def _mu(y, v, t2):
    w = [1 / (a + t2) for a in v]
    return sum(wi * yi for wi, yi in zip(w, y, strict=True)) / sum(w)


def test_closed_forms(bcg):
    y, v = list(bcg.yi), list(bcg.vi)
    k = len(y)
    w = [1 / a for a in v]
    mu_fe = _mu(y, v, 0.0)
    q = sum(wi * (yi - mu_fe) ** 2 for wi, yi in zip(w, y, strict=True))
    c = sum(w) - sum(wi * wi for wi in w) / sum(w)
    ybar = sum(y) / k
    rss = sum((yi - ybar) ** 2 for yi in y)
    expected = {
        "DL": max(0.0, (q - (k - 1)) / c),  # DerSimonian & Laird 1986
        "HS": max(0.0, (q - k) / sum(w)),  # Hunter & Schmidt
        "HE": max(0.0, (rss - (k - 1) / k * sum(v)) / (k - 1)),  # Hedges 1983
    }
    t0 = rss / k  # Sidik & Jonkman 2005: one step from var(y)(k-1)/k
    m0 = _mu(y, v, t0)
    expected["SJ"] = (
        t0 * sum((yi - m0) ** 2 / (vi + t0) for yi, vi in zip(y, v, strict=True)) / (k - 1)
    )
    for method, t2 in expected.items():
        assert abs(RMA(method).fit(y, v).tau2 - t2) < TOL["closed_form"], method


@pytest.mark.parametrize("method", ["ML", "REML"])
def test_likelihood_maximum(bcg, method):
    y, v = bcg.yi, bcg.vi

    def negll(t2: float) -> float:
        w = 1 / (v + t2)
        mu = np.sum(w * y) / np.sum(w)
        ll = -0.5 * np.sum(np.log(v + t2)) - 0.5 * np.sum(w * (y - mu) ** 2)
        if method == "REML":
            ll -= 0.5 * math.log(np.sum(w))
        return -float(ll)

    opt = optimize.minimize_scalar(negll, bounds=(0, 5), method="bounded", options={"xatol": 1e-12})
    assert abs(RMA(method).fit(y, v).tau2 - opt.x) < 1e-7


def test_pm_solves_generalised_q(bcg):
    f = RMA("PM").fit(bcg.yi, bcg.vi)
    w = 1 / (bcg.vi + f.tau2)
    mu = np.sum(w * bcg.yi) / np.sum(w)
    assert abs(np.sum(w * (bcg.yi - mu) ** 2) - (f.k - 1)) < 1e-9


@pytest.mark.parametrize(("method", "sm_method"), [("DL", "chi2"), ("PM", "iterated")])
def test_statsmodels_combine_effects(bcg, method, sm_method):
    sm = combine_effects(bcg.yi, bcg.vi, method_re=sm_method)
    for test in ("z", "knha"):
        f = RMA(method, test=test).fit(bcg.yi, bcg.vi)
        assert abs(f.estimate - sm.mean_effect_re) < TOL["statsmodels"]
        assert abs(f.tau2 - sm.tau2) < TOL["statsmodels"]
        # (fe, re, fe_wls, re_wls): plain z interval, or Hartung-Knapp ("wls") with t quantiles
        ci = sm.conf_int(use_t=True)[3] if test == "knha" else sm.conf_int(use_t=False)[1]
        assert abs(f.ci_lb - ci[0]) < TOL["statsmodels"]
        assert abs(f.ci_ub - ci[1]) < TOL["statsmodels"]
    fe = RMA("EE").fit(bcg.yi, bcg.vi)
    assert abs(fe.estimate - sm.mean_effect_fe) < TOL["statsmodels"]
    assert abs(fe.q - sm.q) < TOL["statsmodels"]
    assert abs(fe.i2 - 100 * sm.i2) < TOL["statsmodels"]


def test_statsmodels_random_data():
    """statsmodels 0.14/0.15 does not truncate the DL ("chi2") estimate at 0 (DerSimonian and
    Laird, and metafor, do): where its tau^2 is negative we compare with max(0, tau^2) only."""
    rng = np.random.default_rng(20261123)
    negative = 0
    for _ in range(40):
        k = int(rng.integers(3, 25))
        y = rng.normal(0.3, 0.4, k)
        v = rng.uniform(0.005, 0.5, k)
        for method, sm_method in (("DL", "chi2"), ("PM", "iterated")):
            with warnings.catch_warnings():
                # statsmodels warns (sqrt of a negative variance) when its tau^2 < 0
                warnings.simplefilter("ignore", RuntimeWarning)
                sm = combine_effects(y, v, method_re=sm_method)
            f = RMA(method).fit(y, v)
            assert abs(f.tau2 - max(0.0, sm.tau2)) < 1e-7
            if sm.tau2 < 0:
                negative += 1
                continue
            assert abs(f.estimate - sm.mean_effect_re) < 1e-7
    assert negative > 0  # the case exists in this sample, so the note above is tested


def test_prediction_interval_distribution(bcg):
    z = RMA("REML").fit(bcg.yi, bcg.vi)
    t = RMA("REML", test="knha").fit(bcg.yi, bcg.vi)
    k2 = RMA("REML", pi_df="k-2").fit(bcg.yi, bcg.vi)
    assert z.pi_dist == "z" and t.pi_dist == "t(12)" and k2.pi_dist == "t(11)"
    half = 1.959963984540054 * math.sqrt(z.se**2 + z.tau2)
    assert abs(z.pi_ub - z.estimate - half) < TOL["closed_form"]
    assert k2.pi_ub - k2.pi_lb > z.pi_ub - z.pi_lb


def test_single_study_and_errors():
    f = RMA("REML").fit([0.5], [0.04])
    assert f.tau2 == 0 and abs(f.estimate - 0.5) < 1e-15
    assert (f.q, f.q_pval, f.i2, f.h2) == (0.0, 1.0, 0.0, 1.0)  # as metafor with k = 1
    with pytest.raises(Exception, match="method"):
        RMA("XX")
    with pytest.raises(Exception, match="vi"):
        RMA().fit([1, 2], [0.1, -0.1])


@pytest.mark.parametrize("method", ["EE", "DL", "HE", "HS", "SJ", "PM", "ML", "REML"])
@pytest.mark.parametrize("test", ["z", "knha"])
def test_batch_equals_single(bcg, method, test):
    rng = np.random.default_rng(7)
    Y = np.vstack([bcg.yi, rng.normal(0, 0.5, (40, 13))])
    V = np.vstack([bcg.vi, rng.uniform(0.01, 0.4, (40, 13))])
    Y[5, 3] = np.nan  # an absent study
    b = rma_batch(Y, V, method, test)
    for i in range(Y.shape[0]):
        keep = np.isfinite(Y[i])
        f = RMA(method, test).fit(Y[i][keep], V[i][keep])
        for name in ("estimate", "se", "ci_lb", "ci_ub", "tau2", "pval", "pi_lb", "pi_ub"):
            ours, single = getattr(b, name)[i], getattr(f, name)
            if name.startswith("pi_") and method == "EE":
                # no prediction interval for a common-effect model, in either
                assert np.isnan(ours) and np.isnan(single)
                continue
            assert abs(ours - single) < TOL["batch"], (name, i)
        assert abs(b.i2[i] - f.i2) < 1e-6  # percent scale: 100 * tau2/(vt + tau2)
        assert abs(b.q[i] - f.q) < TOL["batch"]


@pytest.mark.parametrize("value", [0.1, -2.7, 1234.5678])
def test_knapp_hartung_identical_effects_is_infinite(value):
    """Identical effects: the KH s^2 is exactly 0, so se = 0 and |t| = inf (metafor: Inf), in
    the single fit and in the batch (leave-one-out of the oracle's dataset r7 gave 1.5e16 from
    the weighted mean's rounding before)."""
    # variances whose weighted mean of equal values does not round back exactly
    v = np.array([0.013, 0.71, 0.0021, 0.37, 0.09])
    y = np.full(5, value)
    f = RMA("DL", "knha").fit(y, v)
    b = rma_batch(y[None, :], v[None, :], "DL", "knha")
    for se, stat, lb, ub in (
        (f.se, f.zval, f.ci_lb, f.ci_ub),
        (b.se[0], b.zval[0], b.ci_lb[0], b.ci_ub[0]),
    ):
        assert se == 0.0
        assert stat == math.copysign(math.inf, value)
        assert lb == ub == pytest.approx(value, rel=1e-15)


def test_knapp_hartung_identical_effects_slope_is_unknown():
    """With a moderator and identical effects the slope is 0 with se 0: its statistic is 0/0,
    reported as NaN (unknown), not as an infinite t and p = 0."""
    v = np.array([0.013, 0.71, 0.0021, 0.37, 0.09])
    f = RMA("DL", "knha").fit(np.full(5, 0.1), v, mods=[1.0, 3.0, 2.0, 7.0, 5.0])
    assert f.beta[1] == 0.0 and f.se_beta[1] == 0.0
    assert math.isnan(f.stat_beta[1]) and math.isnan(f.pval_beta[1])
    assert math.isnan(f.qm) and math.isnan(f.qm_pval)
    assert f.stat_beta[0] == math.inf
