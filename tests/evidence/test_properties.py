"""Invariants of the pooling methods (hypothesis; seeded, no flakes)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vertebro.evidence import RMA, rma_batch

from .tolerances import TOL

METHODS = ["EE", "DL", "HE", "HS", "SJ", "PM", "ML", "REML"]

studies = st.integers(min_value=2, max_value=15).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.floats(0.005, 2.0, allow_nan=False), min_size=k, max_size=k),
    )
)
SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(studies)
def test_common_effect_within_range(data):
    y, v = data
    f = RMA("EE").fit(y, v)
    assert min(y) - 1e-12 <= f.estimate <= max(y) + 1e-12


@SETTINGS
@given(studies, st.sampled_from(METHODS))
def test_tau2_nonnegative_and_i2_in_range(data, method):
    y, v = data
    f = RMA(method).fit(y, v)
    assert f.tau2 >= 0
    assert 0 <= f.i2 <= 100
    assert f.h2 >= 1 - 1e-12 or method == "EE"
    assert f.ci_lb <= f.estimate <= f.ci_ub
    if method == "EE":  # a common-effect model has no prediction interval
        assert np.isnan(f.pi_lb) and np.isnan(f.pi_ub)
    else:
        assert f.pi_lb <= f.ci_lb + 1e-12 and f.pi_ub >= f.ci_ub - 1e-12
    lo, hi = f.tau2_ci if method != "EE" else (0.0, 0.0)
    assert lo <= hi


@SETTINGS
@given(studies, st.sampled_from(METHODS), st.randoms(use_true_random=False))
def test_permutation_invariance(data, method, rnd):
    y, v = data
    idx = list(range(len(y)))
    rnd.shuffle(idx)
    a = RMA(method).fit(y, v)
    b = RMA(method).fit([y[i] for i in idx], [v[i] for i in idx])
    assert abs(a.estimate - b.estimate) < 1e-9
    assert abs(a.tau2 - b.tau2) < 1e-9


@SETTINGS
@given(studies, st.sampled_from(METHODS), st.floats(-5, 5))
def test_shift_equivariance(data, method, shift):
    y, v = data
    a = RMA(method).fit(y, v)
    b = RMA(method).fit([x + shift for x in y], v)
    assert abs(b.estimate - a.estimate - shift) < 1e-8
    assert abs(a.tau2 - b.tau2) < 1e-8


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    st.lists(studies, min_size=1, max_size=6),
    st.sampled_from(METHODS),
    st.sampled_from(["z", "knha"]),
)
def test_batch_equals_one_at_a_time(sets, method, test):
    kmax = max(len(y) for y, _ in sets)
    Y = np.full((len(sets), kmax), np.nan)
    V = np.full((len(sets), kmax), np.nan)
    for i, (y, v) in enumerate(sets):
        Y[i, : len(y)] = y
        V[i, : len(v)] = v
    b = rma_batch(Y, V, method, test)
    for i, (y, v) in enumerate(sets):
        f = RMA(method, test).fit(y, v)
        assert abs(b.estimate[i] - f.estimate) < TOL["batch"]
        assert abs(b.tau2[i] - f.tau2) < TOL["batch"]
        assert abs(b.se[i] - f.se) < TOL["batch"]
