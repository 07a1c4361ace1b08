"""New fracture with death as the competing event (Aalen-Johansen) in `analytics compare`:
against the estimator written out by hand, ties, properties, and beside Kaplan-Meier in the
report."""

from __future__ import annotations

import datetime as dt
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vertebro.analytics import (
    CompareRecord,
    compare,
    compare_records,
    cumulative_incidence,
    fracture_or_death,
    kaplan_meier,
    km_figure,
    render_compare_text,
)
from vertebro.registry import Registry, demo

TOL = {"cif": 1e-12}
C, F, D = 0, 1, 2  # censored, new fracture, death first


def _by_hand(times: list[int], events: list[int], cause: int) -> dict[int, float]:
    """Aalen & Johansen 1978: CIF_k(t) = sum over times u <= t of S(u-) d_k(u) / n(u), S the
    product-limit of any event; written out here without lifelines."""
    out, s, cif = {}, 1.0, 0.0
    for u in sorted(set(times)):
        n = sum(t >= u for t in times)
        d_k = sum(t == u and e == cause for t, e in zip(times, events, strict=True))
        d_any = sum(t == u and e != C for t, e in zip(times, events, strict=True))
        cif += s * d_k / n
        s *= 1 - d_any / n
        out[u] = cif
    return out


# A small table with a fracture and a death on the same day (2), a death and a censoring on
# the same day (5), and the last patient fracturing. By hand: 1/8 on day 1; 7/8 * 1/7 on day 2;
# 5/8 * 1/4 on day 4; 5/16 * 1 on day 6 -> 0.125, 0.25, 0.40625, 0.71875.
TIMES = [1, 2, 2, 3, 4, 5, 5, 6]
EVENTS = [F, D, F, C, F, D, C, F]


def test_cumulative_incidence_against_the_estimator_by_hand() -> None:
    curve = cumulative_incidence("g", TIMES, EVENTS, [0, 1, 2, 3, 4, 5, 6, 30])
    expected = _by_hand(TIMES, EVENTS, F)
    assert dict(curve.at_days) == pytest.approx(
        {0: 0.0, 1: 0.125, 2: 0.25, 3: 0.25, 4: 0.40625, 5: 0.40625, 6: 0.71875, 30: 0.71875},
        abs=TOL["cif"],
    )
    got = dict(zip(curve.times, curve.incidence, strict=True))
    for u, v in expected.items():
        assert got[u] == pytest.approx(v, abs=TOL["cif"])
    assert set(curve.times) == {0.0, *map(float, TIMES)}  # each tied day reported once
    assert (curve.n, curve.events, curve.competing) == (8, 4, 2)


def test_kaplan_meier_overstates_the_risk_when_death_competes() -> None:
    # the same table with death as censoring: 1 - KM reaches 1 on day 6, the CIF 0.71875
    km = kaplan_meier("g", TIMES, [e == F for e in EVENTS], [])
    cif = cumulative_incidence("g", TIMES, EVENTS, [6])
    assert 1 - km.survival[-1] == pytest.approx(1.0) and cif.at_days[0][1] < 0.72


def test_ties_are_broken_deterministically_without_lifelines_jitter() -> None:
    state = np.random.get_state()[1].copy()  # type: ignore[index]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # lifelines warns when it jitters tied times
        a = cumulative_incidence("g", TIMES, EVENTS, [2, 6])
        b = cumulative_incidence("g", TIMES[::-1], EVENTS[::-1], [2, 6])
    assert a.at_days == b.at_days
    assert np.array_equal(np.random.get_state()[1], state)  # type: ignore[index]


ROWS = st.lists(st.tuples(st.integers(1, 60), st.sampled_from([C, F, D])),
                min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(ROWS)
def test_incidence_is_a_non_decreasing_share_below_one_minus_km(
    rows: list[tuple[int, int]],
) -> None:
    times, events = [t for t, _ in rows], [e for _, e in rows]
    days = sorted(set(times))
    cif = dict(cumulative_incidence("g", times, events, days).at_days)
    death = _by_hand(times, events, D)
    fracture_km = kaplan_meier("g", times, [e == F for e in events], [])
    any_km = kaplan_meier("g", times, [e != C for e in events], [])

    def step(curve_times: tuple[float, ...], values: tuple[float, ...], day: int) -> float:
        seen = [v for t, v in zip(curve_times, values, strict=True) if t <= day]
        return seen[-1] if seen else 1.0

    values = [cif[d] for d in days]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(b >= a - TOL["cif"] for a, b in itertools.pairwise(values))
    for d in days:
        # the two causes share out the all-cause risk exactly
        assert cif[d] + death[d] == pytest.approx(
            1 - step(any_km.times, any_km.survival, d), abs=1e-9)
        # censoring at death never lowers the estimated risk of a fracture
        assert cif[d] <= 1 - step(fracture_km.times, fracture_km.survival, d) + 1e-9


def _record(**kw: object) -> CompareRecord:
    return CompareRecord(technique="kyphoplasty", covariates={}, baseline={}, values={},
                         **kw)  # type: ignore[arg-type]


def test_which_event_comes_first() -> None:
    # fracture recorded: the fracture, even if death followed
    assert fracture_or_death(_record(fracture_days=90, fractured=True, survival_days=200,
                                     died=True)) == (90.0, F)
    # died without a recorded fracture: death competes on its day
    assert fracture_or_death(_record(fracture_days=90, survival_days=150, died=True)) == (
        150.0, D)
    # alive without a fracture: censored at the last check
    assert fracture_or_death(_record(fracture_days=180, survival_days=200)) == (180.0, C)
    # never checked after the procedure: left out, as from the Kaplan-Meier curve
    assert fracture_or_death(_record(survival_days=200, died=True)) is None


@pytest.fixture
def seeded(empty_registry: Registry) -> Registry:
    demo.seed(empty_registry, 60, sites=2, seed=4, as_of=dt.date(2025, 6, 1))
    return empty_registry


def test_report_shows_the_competing_risk_estimate_beside_kaplan_meier(seeded: Registry) -> None:
    records, _ = compare_records(seeded, "researcher")
    report = compare(records)
    groups = {c.group for c in report.new_fracture_incidence}
    assert groups == {r.technique for r in records if fracture_or_death(r) is not None}
    for c in report.new_fracture_incidence:
        rows = [fr for r in records if r.technique == c.group
                and (fr := fracture_or_death(r)) is not None]
        assert c.n == len(rows) and c.competing == sum(e == D for _, e in rows)
    text = " ".join(render_compare_text(report).split())  # prose wraps
    assert "cumulative incidence (Aalen-Johansen) beside 1 - Kaplan-Meier" in text
    assert "1 - Kaplan-Meier overstates the risk of a new fracture" in text
    data = report.to_dict()
    assert data["new_fracture_incidence"] and "Aalen" in data["method"]["new_fracture_incidence"]
    # the plot's new-fracture panel draws 1 - incidence dashed beside each Kaplan-Meier curve
    fig = km_figure(report, [0, 90, 180, 365])
    (ax,) = [a for a in fig.axes if a.get_title().startswith("Free of a recorded new fracture")]
    dashed = {ln.get_label(): ln for ln in ax.get_lines() if ln.get_linestyle() == "--"}
    for c in report.new_fracture_incidence:
        (line,) = [ln for label, ln in dashed.items() if label.startswith(c.group + ":")]
        assert list(line.get_ydata()) == pytest.approx([1.0, *(1 - v for v in c.incidence)])
