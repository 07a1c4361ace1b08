"""metafor's published results for the BCG vaccine trials (dat.bcg, log risk ratios).

Values from issue 4 / ../shared/reference/README.md (metafor tests), plus the results printed in
metafor's documentation for the same data (rma help page and confint / regtest examples).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vertebro.evidence import RMA, data_text, egger, trimfill

from .tolerances import TOL

P4 = TOL["published_4dp"]
P2 = TOL["published_2dp"]


def close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


def test_shipped_reference_equals_shared_copy():
    shared = Path(__file__).resolve().parents[3] / "shared" / "reference" / "bcg.csv"
    if not shared.exists():
        pytest.skip("shared reference folder not present")
    assert data_text("reference/bcg.csv") == shared.read_text(encoding="utf-8")


def test_yi_first_trial(bcg):
    # log((4/123)/(11/139)) ; metafor escalc("RR") for Aronson 1948
    assert close(bcg.yi[0], -0.8893, P4)
    assert close(bcg.vi[0], 0.3256, P4)


def test_common_effect(bcg):
    # issue 4: common effect -0.4303 (-0.5097, -0.3509), Q(12) = 152.2330
    f = RMA("EE").fit(bcg.yi, bcg.vi)
    assert close(f.estimate, -0.4303, P4)
    assert close(f.ci_lb, -0.5097, P4)
    assert close(f.ci_ub, -0.3509, P4)
    assert close(f.q, 152.2330, P4)
    assert f.q_df == 12
    assert f.tau2 == 0.0
    assert RMA("FE").fit(bcg.yi, bcg.vi).estimate == f.estimate


def test_dl(bcg):
    # issue 4: DL -0.7141 (-1.0644, -0.3638), z -3.9952, tau^2 0.3088, I^2 92.1173%
    f = RMA("DL").fit(bcg.yi, bcg.vi)
    assert close(f.estimate, -0.7141, P4)
    assert close(f.ci_lb, -1.0644, P4)
    assert close(f.ci_ub, -0.3638, P4)
    assert close(f.zval, -3.9952, P4)
    assert close(f.tau2, 0.3088, P4)
    assert close(f.i2, 92.1173, P4)
    assert close(f.q, 152.2330, P4)


def test_reml(bcg):
    # issue 4: REML -0.7145, SE 0.1798, (-1.0669, -0.3622), tau^2 0.3132, I^2 92.22%, H^2 12.86
    f = RMA("REML").fit(bcg.yi, bcg.vi)
    assert close(f.estimate, -0.7145, P4)
    assert close(f.se, 0.1798, P4)
    assert close(f.ci_lb, -1.0669, P4)
    assert close(f.ci_ub, -0.3622, P4)
    assert close(f.tau2, 0.3132, P4)
    assert close(f.i2, 92.22, P2)
    assert close(f.h2, 12.86, P2)


def test_se_of_tau2(bcg):
    # metafor print.rma.uni for dat.bcg: tau^2 0.3132 (SE = 0.1664) with REML,
    # 0.3088 (SE = 0.2299) with DL
    assert close(RMA("REML").fit(bcg.yi, bcg.vi).se_tau2, 0.1664, P4)
    assert close(RMA("DL").fit(bcg.yi, bcg.vi).se_tau2, 0.2299, P4)


def test_reml_qprofile_ci(bcg):
    # metafor confint(rma(yi, vi, data=dat.bcg)): tau^2 0.3132 [0.1197, 1.1115]
    f = RMA("REML").fit(bcg.yi, bcg.vi)
    assert close(f.tau2_ci[0], 0.1197, P4)
    assert close(f.tau2_ci[1], 1.1115, P4)
    assert close(f.tau, 0.5597, P4)


def test_reml_knha(bcg):
    # metafor rma(..., test="knha"): -0.7145, se 0.1808, t -3.9522, p 0.0019, CI -1.1084 to -0.3206
    f = RMA("REML", test="knha").fit(bcg.yi, bcg.vi)
    assert close(f.se, 0.1808, P4)
    assert close(f.zval, -3.9522, P4)
    assert close(f.pval, 0.0019, P4)
    assert close(f.ci_lb, -1.1084, P4)
    assert close(f.ci_ub, -0.3206, P4)
    assert f.dist == "t(12)"


def test_meta_regression_absolute_latitude(bcg, bcg_rows):
    # metafor rma(yi, vi, mods = ~ ablat, data=dat.bcg): intercept 0.2515, slope -0.0291,
    # tau^2 0.0763, QM(1) 16.3582, residual QE(11) 30.7331
    ablat = [float(r["ablat"]) for r in bcg_rows]
    f = RMA("REML").fit(bcg.yi, bcg.vi, mods=ablat)
    assert close(f.beta[0], 0.2515, P4)
    assert close(f.beta[1], -0.0291, P4)
    assert close(f.se_beta[1], 0.0072, P4)
    assert close(f.tau2, 0.0763, P4)
    assert close(f.qm, 16.3582, P4)
    assert close(f.q, 30.7331, P4)
    assert close(f.r2, 75.63, P2)  # R^2 (amount of heterogeneity accounted for)


def test_egger_regtest(bcg):
    # metafor regtest(rma(yi, vi, data=dat.bcg)): z = -0.8033, p = 0.4218; limit b = -0.5104
    e = egger(bcg.yi, bcg.vi, method="REML")
    assert close(e.stat, -0.8033, P4)
    assert close(e.pval, 0.4218, P4)
    assert close(e.limit, -0.5104, P4)


def test_trimfill_bcg_reml(bcg):
    # Duval & Tweedie L0 on dat.bcg (REML): one study filled on the right
    t = trimfill(bcg.yi, bcg.vi, method="REML")
    assert t.side == "right"
    assert t.k0 == 1
    assert t.fit.k == 14
    assert t.fit.estimate > RMA("REML").fit(bcg.yi, bcg.vi).estimate  # filling on the right
