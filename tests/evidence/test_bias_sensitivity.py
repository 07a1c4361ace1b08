"""Egger, trim-and-fill, subgroups, leave-one-out and cumulative analyses."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from vertebro.evidence import RMA, cumulative, egger, leave_one_out, subgroups, trimfill

from .tolerances import TOL


def test_egger_lm_is_classic_regression(bcg):
    # Egger et al. 1997: regress the standard normal deviate on precision; intercept = asymmetry
    sei = np.sqrt(bcg.vi)
    classic = sm.OLS(bcg.yi / sei, sm.add_constant(1 / sei)).fit()
    e = egger(bcg.yi, bcg.vi, model="lm")
    # yi ~ sei with weights 1/vi is the same model: slope on sei == intercept of the classic form
    assert abs(e.slope - classic.params[0]) < 1e-10
    assert abs(e.pval - classic.pvalues[0]) < 1e-10
    assert e.dist == "t(11)"


def test_trimfill_symmetric_funnel_fills_nothing():
    rng = np.random.default_rng(3)
    se = rng.uniform(0.05, 0.5, 12)
    y = np.concatenate([0.2 + 1.0 * se, 0.2 - 1.0 * se])
    v = np.concatenate([se**2, se**2])
    t = trimfill(y, v, method="EE")
    assert t.k0 == 0
    assert abs(t.fit.estimate - RMA("EE").fit(y, v).estimate) < 1e-12


def test_trimfill_fills_missing_side_and_mirrors():
    se = np.linspace(0.05, 0.6, 16)
    y = 0.3 + np.where(np.arange(16) % 2 == 0, 1.2, -0.3) * se  # small studies pushed right
    v = se**2
    t = trimfill(y, v, method="EE")
    assert t.side == "left" and t.k0 > 0
    beta0 = RMA("EE").fit(np.sort(y)[: len(y) - t.k0], v[np.argsort(y)][: len(y) - t.k0]).estimate
    # filled effects are mirror images of the k0 largest effects about the trimmed estimate
    largest = np.sort(y)[len(y) - t.k0 :]
    assert np.allclose(np.sort(t.yi_fill), np.sort(2 * beta0 - largest), atol=1e-10)
    assert t.fit.estimate < RMA("EE").fit(y, v).estimate
    r0 = trimfill(y, v, method="EE", estimator="R0")
    assert r0.k0 >= 0


def test_leave_one_out_and_cumulative_equal_single_fits(bcg, bcg_rows):
    loo = leave_one_out(bcg.yi, bcg.vi, method="DL")
    for i in range(13):
        keep = np.arange(13) != i
        f = RMA("DL").fit(bcg.yi[keep], bcg.vi[keep])
        assert abs(loo.estimate[i] - f.estimate) < TOL["batch"]
    years = [int(r["year"]) for r in bcg_rows]
    cum, order = cumulative(bcg.yi, bcg.vi, years, method="REML")
    assert list(np.array(years)[order]) == sorted(years)
    full = RMA("REML").fit(bcg.yi, bcg.vi)
    assert abs(cum.estimate[-1] - full.estimate) < TOL["batch"]
    assert cum.k[0] == 1 and abs(cum.estimate[0] - bcg.yi[order[0]]) < 1e-12


def test_subgroup_difference_test(bcg, bcg_rows):
    alloc = [r["alloc"] for r in bcg_rows]
    s = subgroups(bcg.yi, bcg.vi, alloc, method="REML")
    est = np.array([s.fits[g].estimate for g in s.order])
    w = 1 / np.array([s.fits[g].se for g in s.order]) ** 2
    mu = np.sum(w * est) / np.sum(w)
    assert abs(s.q_between - np.sum(w * (est - mu) ** 2)) < TOL["closed_form"]
    assert s.df == 2 and 0 < s.pval < 1
    assert sorted(i for g in s.order for i in s.indices[g]) == list(range(13))
    # the same test from a common-effect fit of the subgroup estimates
    fe = RMA("EE").fit(est, 1 / w)
    assert abs(fe.q - s.q_between) < 1e-10
    with pytest.raises(Exception, match="one label per study"):
        subgroups(bcg.yi, bcg.vi, alloc[:-1])
