"""The counting rule (analytics/data/thresholds.yaml, counting_rule) on hand-built cohorts.

Unknown is never no: a complication whose status is not recorded widens the event range and
is never counted as absent.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vertebro.analytics import (
    ComplicationRecord,
    ProcedureRecord,
    audit,
    clinically_evident,
    default_thresholds,
    procedure_event,
    procedures_from_export,
    render_text,
)
from vertebro.errors import InvalidInput

RULE = default_thresholds().counting_rule
C = ComplicationRecord


@pytest.mark.parametrize(
    ("complication", "expected"),
    [
        # symptomatic: counts, whatever the type or grade
        (C("cement_leak", True, 1), True),
        (C("cement_leak", True, None), True),
        (C("infection", True, None), True),
        # grade 2+ means an intervention was indicated (CTCAE v5.0): counts without symptoms
        (C("pulmonary_embolism", False, 2), True),
        (C("cement_leak", False, 3), True),
        (C("haematoma", None, 2), True),
        (C("death", None, 5), True),
        # asymptomatic and grade 1: not an event
        (C("cement_leak", False, 1), False),
        (C("rib_fracture", False, 1), False),
        # asymptomatic and ungraded: a silent leak is leakage, reported separately ...
        (C("cement_leak", False, None), False),
        # ... but another complication may have needed treatment: unknown
        (C("pulmonary_embolism", False, None), None),
        # symptomatic status unknown: grade 1 allows mild symptoms, so still unknown
        (C("cement_leak", None, 1), None),
        (C("cement_leak", None, None), None),
        (C("haematoma", None, None), None),
    ],
)
def test_each_kind_of_complication(complication: ComplicationRecord, expected: bool | None) -> None:
    assert clinically_evident(complication, RULE) is expected


def _proc(
    *complications: ComplicationRecord,
    site: str = "A",
    technique: str = "vertebroplasty",
    followed_up: bool = True,
) -> ProcedureRecord:
    return ProcedureRecord(site, technique, complications, followed_up)


def test_procedure_is_kleene_or_of_its_complications() -> None:
    silent, unknown, evident = C("cement_leak", False), C("haematoma"), C("infection", True)
    assert procedure_event(_proc(), RULE) is False
    assert procedure_event(_proc(silent, silent), RULE) is False
    assert procedure_event(_proc(silent, unknown), RULE) is None
    assert procedure_event(_proc(unknown, evident), RULE) is True


def test_cohort_counts_and_range() -> None:
    procs = [
        _proc(C("infection", True)),  # known event
        _proc(C("cement_leak", False), C("haematoma", None, 3)),  # known event (grade 3)
        _proc(C("haematoma")),  # unknown
        _proc(C("pulmonary_embolism", False)),  # unknown (asymptomatic, ungraded)
        _proc(C("cement_leak", None, 1)),  # unknown
        _proc(C("cement_leak", False, 1)),  # not an event
        _proc(followed_up=False),
        _proc(followed_up=False),
        _proc(),
        _proc(),
    ]
    report = audit(procs)
    g = report.cohort
    assert (g.n, g.events_known, g.events_possible, g.events_unknown) == (10, 2, 5, 3)
    assert g.no_follow_up == 2
    assert g.known is not None and g.possible is not None
    assert (g.known.events, g.possible.events) == (2, 5)
    assert (g.known.rate, g.possible.rate) == (0.2, 0.5)
    # cement leakage counts every recorded leak (3 procedures), symptomatic or not
    assert [(lk.events, lk.n) for lk in report.leakage] == [(3, 10)]


def test_groups_by_site_and_technique() -> None:
    procs = [
        _proc(site="B"),
        _proc(C("x", True), site="A"),
        _proc(site="A", technique="kyphoplasty"),
    ]
    assert [(g.group, g.n, g.events_known) for g in audit(procs).groups] == [
        ("A", 2, 1),
        ("B", 1, 0),
    ]
    by_tech = audit(procs, by="technique")
    assert [(g.group, g.n) for g in by_tech.groups] == [("vertebroplasty", 2), ("kyphoplasty", 1)]
    ref = by_tech.groups[0].reference
    # Sorensen-SpineJ-2019, Table 1: symptomatic complications 35 (N 2024) with PVP
    assert ref is not None and (ref.events, ref.n) == (35, 2024)


def test_bad_grouping_names_the_field() -> None:
    with pytest.raises(InvalidInput, match=r"^by: 'ward' is not one of site, technique"):
        audit([], by="ward")


def test_empty_cohort_is_not_a_division_by_zero() -> None:
    report = audit([])
    assert report.cohort.n == 0 and report.cohort.known is None and report.leakage == ()


def test_records_from_the_export_stream() -> None:
    base = {"site": "A", "patient": "P1"}
    records = [
        {"record_type": "patient", **base},
        {"record_type": "procedure", **base, "procedure": "1"},
        {"record_type": "level", **base, "procedure": "1", "technique": "vertebroplasty"},
        {"record_type": "level", **base, "procedure": "1", "technique": "kyphoplasty"},
        {
            "record_type": "complication",
            **base,
            "procedure": "1",
            "complication_type": "cement_leak",
            "symptomatic": "",
            "severity_grade": "",
        },
        {"record_type": "follow_up", **base, "procedure": "1", "baseline": "true"},
        {"record_type": "procedure", **base, "procedure": "2"},
        {"record_type": "level", **base, "procedure": "2", "technique": "vertebroplasty"},
        {
            "record_type": "complication",
            **base,
            "procedure": "2",
            "complication_type": "infection",
            "symptomatic": "true",
            "severity_grade": "3",
        },
        {"record_type": "follow_up", **base, "procedure": "2", "baseline": "false"},
    ]
    first, second = procedures_from_export(records)
    assert first.technique == "kyphoplasty" and not first.followed_up
    assert first.complications == (C("cement_leak", None, None),)
    assert second.technique == "vertebroplasty" and second.followed_up
    assert second.complications == (C("infection", True, 3),)


# ------------------------------------------------------------------ property: unknown is never no
complications = st.builds(
    ComplicationRecord,
    type=st.sampled_from(["cement_leak", "haematoma", "pulmonary_embolism"]),
    symptomatic=st.sampled_from([True, False, None]),
    severity_grade=st.sampled_from([None, 1, 2, 3, 4, 5]),
)
procedures = st.builds(
    ProcedureRecord,
    site=st.sampled_from(["A", "B"]),
    technique=st.sampled_from(["vertebroplasty", "kyphoplasty"]),
    complications=st.lists(complications, max_size=3).map(tuple),
    followed_up=st.booleans(),
)


def _complete(c: ComplicationRecord, evident: bool) -> ComplicationRecord:
    """A way the unknown facts of ``c`` could turn out."""
    if clinically_evident(c, RULE) is not None:
        return c
    return C(c.type, True, c.severity_grade) if evident else C(c.type, False, 1)


@given(st.lists(procedures, max_size=40), st.integers(0, 2**32 - 1))
def test_every_completion_of_the_unknowns_falls_in_the_range(
    procs: list[ProcedureRecord], seed: int
) -> None:
    g = audit(procs).cohort
    assert 0 <= g.events_known <= g.events_possible <= g.n == len(procs)
    assert 0 <= g.no_follow_up <= g.n

    def completed(choose: Callable[[], bool]) -> int:
        done = [
            ProcedureRecord(
                p.site,
                p.technique,
                tuple(_complete(c, choose()) for c in p.complications),
                p.followed_up,
            )
            for p in procs
        ]
        flags = [procedure_event(p, RULE) for p in done]
        assert None not in flags  # every unknown was filled in
        return flags.count(True)

    rng = random.Random(seed)
    assert completed(lambda: False) == g.events_known  # the low end is attained
    assert completed(lambda: True) == g.events_possible  # and the high end
    assert g.events_known <= completed(lambda: rng.random() < 0.5) <= g.events_possible


def _sites(events_per_site: dict[str, tuple[int, int]]) -> list[ProcedureRecord]:
    procs = []
    for site, (events, n) in events_per_site.items():
        procs += [_proc(C("x", True), site=site) for _ in range(events)]
        procs += [_proc(site=site) for _ in range(n - events)]
    return procs


def test_glance_line_names_the_cohort_when_only_the_cohort_is_flagged() -> None:
    # 14/100 at each site is within (P(X >= 14) = 0.12 at 10%), but 42/300 for the cohort is
    # an alert (P(X >= 42) = 0.019 < 0.025)
    report = audit(_sites({"A": (14, 100), "B": (14, 100), "C": (14, 100)}))
    assert report.cohort.known is not None and report.cohort.known.status == "alert"
    assert all(g.known is not None and g.known.status == "within" for g in report.groups)
    glance = render_text(report).split("\n\n")[1]
    assert " ".join(glance.split()) == "Alarm: none. Alert: all procedures."


def test_glance_line_lists_the_cohort_before_the_sites() -> None:
    report = audit(_sites({"A": (30, 100), "B": (10, 100)}))
    glance = " ".join(render_text(report).split("\n\n")[1].split())
    assert glance == "Alarm: all procedures, site A. Alert: none."


def test_limits_line_gives_the_flagged_counts_and_the_drawn_lines() -> None:
    report = audit(_sites({"A": (16, 100)}))
    site = render_text(report, width=200).split("All procedures you may see")[1]
    # 16/100 is above the drawn 15.8% line, but P(X >= 16) = 0.040: within
    assert "alert from 17 events (17.0%), alarm from 21 events (21.0%)" in site
    assert "funnel lines at 15.8% and 19.8%" in site
    assert "within limits" in site
