"""Effect sizes against metafor's escalc conventions, written out, and statsmodels where the
conventions agree (no zero cells)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gamma
from statsmodels.stats.meta_analysis import effectsize_2proportions

from vertebro.evidence import escalc

from .tolerances import TOL

C = TOL["closed_form"]


def test_two_by_two_against_statsmodels():
    a, n1, c, n2 = (
        np.array([51.0, 12, 30]),
        np.array([63.0, 40, 90]),
        np.array([14.0, 20, 25]),
        np.array([50.0, 41, 88]),
    )
    for ours, theirs in (("RR", "risk-ratio"), ("OR", "odds-ratio"), ("RD", "diff")):
        e = escalc(ours, ai=a, n1i=n1, ci=c, n2i=n2)
        y, v = effectsize_2proportions(a, n1, c, n2, statistic=theirs, zero_correction=0)
        assert np.allclose(e.yi, y, atol=C) and np.allclose(e.vi, v, atol=C), ours


def test_only0_correction_adds_half_to_every_cell_of_that_study():
    # metafor: add=1/2, to="only0": all four cells of a study with a zero cell get 1/2
    e = escalc("OR", ai=[0, 5], bi=[10, 5], ci=[3, 5], di=[7, 5])
    assert abs(e.yi[0] - math.log((0.5 * 7.5) / (10.5 * 3.5))) < C
    assert abs(e.vi[0] - (1 / 0.5 + 1 / 10.5 + 1 / 3.5 + 1 / 7.5)) < C
    assert abs(e.yi[1]) < C  # untouched study without zeros
    rr = escalc("RR", ai=[0], n1i=[10], ci=[3], n2i=[10])
    assert abs(rr.yi[0] - math.log((0.5 / 11) / (3.5 / 11))) < C
    rd = escalc("RD", ai=[0], n1i=[10], ci=[3], n2i=[10])
    assert abs(rd.yi[0] - (0.5 / 11 - 3.5 / 11)) < C
    none = escalc("RD", ai=[0], n1i=[10], ci=[3], n2i=[10], to="none")
    assert abs(none.yi[0] - (0 - 0.3)) < C


def test_single_proportions():
    e = escalc("PR", xi=[30], ni=[40])
    assert abs(e.yi[0] - 0.75) < C and abs(e.vi[0] - 0.75 * 0.25 / 40) < C
    e = escalc("PLO", xi=[30], ni=[40])
    assert abs(e.yi[0] - math.log(3)) < C and abs(e.vi[0] - (1 / 30 + 1 / 10)) < C
    e = escalc("PLO", xi=[0], ni=[20])  # zero events: 0.5 / 20.5
    assert abs(e.yi[0] - math.log(0.5 / 20.5)) < C and abs(e.vi[0] - (1 / 0.5 + 1 / 20.5)) < C
    e = escalc("PR", xi=[20], ni=[20])  # all events: corrected too (metafor)
    assert abs(e.yi[0] - 20.5 / 21) < C
    e = escalc("PAS", xi=[0], ni=[20])  # no correction for PAS
    assert e.yi[0] == 0.0 and abs(e.vi[0] - 1 / 80) < C
    e = escalc("PFT", xi=[3], ni=[11])
    assert abs(e.vi[0] - 1 / 46) < C


def test_means():
    e = escalc("MN", mi=[7.48], sdi=[2.0], ni=[100])
    assert abs(e.yi[0] - 7.48) < C and abs(e.vi[0] - 0.04) < C
    e = escalc("MD", m1i=[12.1], sd1i=[3.6], n1i=[18], m2i=[15.3], sd2i=[4.1], n2i=[16])
    assert abs(e.yi[0] + 3.2) < C and abs(e.vi[0] - (3.6**2 / 18 + 4.1**2 / 16)) < C


def test_smd_hedges_exact_correction():
    m1, s1, n1, m2, s2, n2 = 12.1, 3.6, 18, 15.3, 4.1, 16
    df = n1 + n2 - 2
    sp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / df)
    cm = gamma(df / 2) / (math.sqrt(df / 2) * gamma((df - 1) / 2))  # Hedges 1981
    g = cm * (m1 - m2) / sp
    e = escalc("SMD", m1i=[m1], sd1i=[s1], n1i=[n1], m2i=[m2], sd2i=[s2], n2i=[n2])
    assert abs(e.yi[0] - g) < C
    assert abs(e.vi[0] - (1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2)))) < C


def test_gen_with_sei_and_errors():
    e = escalc("GEN", yi=[-8.4], sei=[0.4])
    assert abs(e.vi[0] - 0.16) < C
    with pytest.raises(Exception, match="measure"):
        escalc("XYZ", yi=[1], vi=[1])
    with pytest.raises(Exception, match="xi"):
        escalc("PLO", xi=[5], ni=[3])
