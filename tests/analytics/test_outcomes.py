"""The outcomes report on hand-built records: which value is taken, responders against the
MCIDs of scores/data/mcid.yaml, completeness, and the Sorensen-SpineJ-2019 reference cells."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from vertebro.analytics import (
    FollowUpRecord,
    ProcedureRecord,
    baseline_value,
    interval_value,
    outcomes,
    paired_change,
    sorensen_pooled_means,
)
from vertebro.registry.demo import SORENSEN_2019
from vertebro.registry.vocab import INTERVALS

TOL = {"mean": 1e-12, "ci": 1e-9}


def F(interval: str, day: int, **scores: Any) -> FollowUpRecord:
    return FollowUpRecord(interval=interval, baseline=interval == "preop", day=day, **scores)


def P(
    patient: str, *follow_ups: FollowUpRecord, technique: str = "vertebroplasty", number: int = 1
) -> ProcedureRecord:
    return ProcedureRecord("A", technique, patient=patient, number=number, follow_ups=follow_ups)


# ---------------------------------------------------------------- one value per patient
def test_baseline_is_the_one_closest_to_the_procedure() -> None:
    fus = (F("preop", -20, nrs=9), F("preop", -1, nrs=7, odi=60), F("preop", -1, nrs=8))
    assert baseline_value(fus, "nrs") == 8  # latest day; same day: the last entered
    assert baseline_value(fus, "odi") == 60  # each measure among the visits recording it
    assert baseline_value(fus, "kps") is None


def test_follow_up_is_the_one_nearest_the_planned_day() -> None:
    # lt4w is planned at day 14 (registry.intervals.SCHEDULE)
    fus = (F("lt4w", 3, nrs=1), F("lt4w", 12, nrs=4), F("lt4w", 16, nrs=5), F("lt4w", 27, nrs=0))
    assert interval_value(fus, "nrs", "lt4w", 14) == 4  # 2 days off either side: the earlier
    assert interval_value(fus, "nrs", "le6w", 42) is None
    # never the best or the worst value: the values play no part
    assert interval_value(fus[2:], "nrs", "lt4w", 14) == 5


def test_only_the_index_procedure_is_analysed() -> None:
    first = P("p1", F("preop", 0, nrs=8), F("lt4w", 14, nrs=4))
    second = P("p1", F("preop", 200, nrs=9), F("lt4w", 214, nrs=1), number=2)
    report = outcomes([second, first])
    assert (report.patients, report.later_procedures) == (1, 1)
    iv = report.technique("vertebroplasty").measure("nrs").intervals[0]
    assert iv.change is not None and iv.change.n == 1 and iv.change.mean == -4


# ---------------------------------------------------------------- known changes
COHORT = [
    # NRS: baseline, < 4 weeks; ODI baseline, < 4 weeks; KPS baseline, < 4 weeks
    P("a", F("preop", -1, nrs=8, odi=60, kps=50), F("lt4w", 14, nrs=3, odi=40, kps=70)),
    P("b", F("preop", -1, nrs=7, odi=50, kps=60), F("lt4w", 10, nrs=6, odi=45, kps=60)),
    P("c", F("preop", -2, nrs=3, odi=40, kps=70), F("lt4w", 20, nrs=2, odi=31, kps=75)),
    P("d", F("preop", 0, nrs=4, kps=40), F("lt4w", 14, nrs=3, odi=30, kps=50)),
    P("e", F("lt4w", 14, nrs=5)),  # no baseline: recorded, not paired
    P("f", F("preop", 0, nrs=9)),  # not seen after
]


def test_known_changes() -> None:
    t = outcomes(COHORT).technique("vertebroplasty")
    nrs = t.measure("nrs")
    lt4w = nrs.intervals[0]
    assert lt4w.interval == "lt4w" and lt4w.change is not None
    assert lt4w.change.n == 4
    assert lt4w.change.mean == pytest.approx((-5 - 1 - 1 - 1) / 4, abs=TOL["mean"])
    assert lt4w.change.median == -1
    same = paired_change([8, 7, 3, 4], [3, 6, 2, 3])  # independent of the selection code
    assert lt4w.change.ci95 == pytest.approx(same.ci95, abs=TOL["ci"])
    assert lt4w.level is not None and lt4w.level.n == 5  # e counts here, unpaired
    assert nrs.baseline is not None and nrs.baseline.n == 5


def test_responders_follow_the_mcid_file() -> None:
    t = outcomes(COHORT).technique("vertebroplasty")
    # NRS MCID 2 points or 30% (Ostelo 2008): a 8->3 yes (5 points); b 7->6 no; c 3->2 yes
    # (1 point but 33%); d 4->3 no (25%)
    r = t.measure("nrs").intervals[0].responders
    assert r is not None and (r.events, r.n) == (2, 4)
    lo, hi = proportion_confint(2, 4, alpha=0.05, method="beta")  # Clopper-Pearson
    assert r.ci95 == pytest.approx((lo, hi), abs=1e-9)
    # ODI MCID 10 points: a 60->40 yes, b 50->45 no, c 40->31 no (9 points); d has no baseline
    r = t.measure("odi").intervals[0].responders
    assert r is not None and (r.events, r.n) == (1, 3)
    # KPS MCID 5 points, higher is better (SNIS-2014): a +20 yes, b 0 no, c +5 yes, d +10 yes
    r = t.measure("kps").intervals[0].responders
    assert r is not None and (r.events, r.n) == (3, 4)


def test_completeness_counts() -> None:
    cohort = [
        *COHORT,
        P("g", F("preop", -1, nrs=8), F("lt4w", 9, vital_status="dead")),
        P("h", F("preop", -1, nrs=6), F("lt6m", 100, vital_status="dead")),
    ]
    t = outcomes(cohort).technique("vertebroplasty")
    rows = {c.interval: c for c in t.completeness}
    assert [c.interval for c in t.completeness] == list(INTERVALS)
    assert rows["preop"].seen == 7 and dict(rows["preop"].recorded) == {
        "nrs": 7,
        "odi": 3,
        "kps": 4,
    }
    assert rows["lt4w"].seen == 5  # a death notice is not a visit
    assert dict(rows["lt4w"].recorded) == {"nrs": 5, "odi": 4, "kps": 4}
    assert dict(rows["lt4w"].paired) == {"nrs": 4, "odi": 3, "kps": 4}
    assert [rows[c].died for c in INTERVALS] == [0, 1, 1, 2, 2, 2]
    assert rows["le6w"].seen == 0 and t.measure("nrs").intervals[1].change is None


def test_techniques_are_split_kyphoplasty_if_any_level() -> None:
    kp = P("k", F("preop", 0, nrs=8), F("lt4w", 14, nrs=2), technique="kyphoplasty")
    report = outcomes([*COHORT, kp])
    assert [t.technique for t in report.techniques] == ["vertebroplasty", "kyphoplasty"]
    assert report.technique("kyphoplasty").patients == 1


def test_empty() -> None:
    report = outcomes([])
    assert report.patients == 0 and report.techniques == ()
    assert report.to_dict()["techniques"] == []


# ---------------------------------------------------------------- references
def test_reference_cells_are_sorensen_table2() -> None:
    # Sorensen-SpineJ-2019, Table 2: VAS PVP < 4 weeks 3.00 (1147); ODI KP preop 66.02 (592);
    # KPS (PVP and KP pooled) >= 1 year 79.08 (110)
    refs = sorensen_pooled_means()
    assert (
        refs[("nrs", "vertebroplasty", "lt4w")].mean,
        refs[("nrs", "vertebroplasty", "lt4w")].n,
    ) == (3.0, 1147)
    assert refs[("odi", "kyphoplasty", "preop")].mean == 66.02
    kps = refs[("kps", "kyphoplasty", "ge1y")]
    assert (kps.mean, kps.n, kps.pooled_over) == (79.08, 110, "vertebroplasty and kyphoplasty")
    assert refs[("kps", "vertebroplasty", "ge1y")].mean == 79.08
    assert len(refs) == 3 * 2 * len(INTERVALS)
    t = outcomes(COHORT).technique("vertebroplasty")
    assert t.measure("nrs").baseline_reference == refs[("nrs", "vertebroplasty", "preop")]
    assert t.measure("nrs").intervals[0].reference == refs[("nrs", "vertebroplasty", "lt4w")]


def test_the_three_copies_of_table2_agree() -> None:
    """The curated dataset (read here), rulebook/outcomes.yaml (shown with an assessment) and
    the demo generator's marginals hold the same Table 2; a typo in one would show here."""
    from importlib.resources import files

    rulebook = yaml.safe_load(files("vertebro.rulebook").joinpath("outcomes.yaml").read_text())
    refs = sorensen_pooled_means()
    for tech in ("vertebroplasty", "kyphoplasty"):
        for measure in ("nrs", "odi"):
            cells = [
                (refs[(measure, tech, iv)].mean, refs[(measure, tech, iv)].n) for iv in INTERVALS
            ]
            assert cells == [tuple(v) for v in rulebook["techniques"][tech][measure]["values"]]
            assert cells == list(SORENSEN_2019[measure][tech])
        kps = [(refs[("kps", tech, iv)].mean, refs[("kps", tech, iv)].n) for iv in INTERVALS]
        assert kps == [tuple(v) for v in rulebook["kps"]["values"]] == list(SORENSEN_2019["kps"])


# ---------------------------------------------------------------- property
visits = st.builds(
    FollowUpRecord,
    interval=st.sampled_from(INTERVALS),
    day=st.integers(-5, 500),
    nrs=st.one_of(st.none(), st.integers(0, 10).map(float)),
    odi=st.one_of(st.none(), st.integers(0, 50).map(lambda k: 2.0 * k)),
    kps=st.one_of(st.none(), st.integers(0, 10).map(lambda k: 10.0 * k)),
).map(lambda f: FollowUpRecord(**{**f.__dict__, "baseline": f.interval == "preop"}))
patients = st.lists(
    st.tuples(st.sampled_from(["vertebroplasty", "kyphoplasty"]), st.lists(visits, max_size=6)),
    max_size=15,
)


@given(patients)
def test_counts_nest(cases: list[tuple[str, list[FollowUpRecord]]]) -> None:
    procs = [P(f"p{i}", *fus, technique=tech) for i, (tech, fus) in enumerate(cases)]
    report = outcomes(procs)
    assert report.patients == len(procs)
    for t in report.techniques:
        base = {c.interval: c for c in t.completeness}["preop"]
        assert base.seen <= t.patients
        for m in t.measures:
            assert (m.baseline.n if m.baseline else 0) == base.recorded[m.measure]
            for iv, c in zip(m.intervals, t.completeness[1:], strict=True):
                paired = iv.change.n if iv.change else 0
                recorded = iv.level.n if iv.level else 0
                responders = iv.responders.events if iv.responders else 0
                # responders <= paired n <= baseline n, and paired n <= recorded n
                assert responders <= paired <= base.recorded[m.measure]
                assert paired <= recorded == c.recorded[m.measure] <= t.patients
                assert paired == c.paired[m.measure]
                if iv.change and iv.change.ci95:
                    assert iv.change.ci95[0] - 1e-9 <= iv.change.mean <= iv.change.ci95[1] + 1e-9
