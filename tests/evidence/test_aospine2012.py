"""AOSpine-EBSJ-2012 (seed 000): Kose and Fourney pain scores, Lee/Bouza/Mendel leakage."""

from __future__ import annotations

from vertebro.evidence import RMA, check_consistency, effects_from_studies, load_curated


def _rows(study, outcome):
    return [r for r in load_curated() if r.study == study and r.outcome == outcome]


def test_kose_table2():
    # AOSpine-EBSJ-2012, Table 2: Kose composite VAS, VP 37.8 +/- 3.3 -> 13.5 +/- 2.9 at 1 y
    rows = {
        (r.technique, r.interval): (r.mean, r.sd, r.n)
        for r in _rows("Kose 2006", "pain_vas_composite50")
        if r.statistic == "mean"
    }
    assert rows[("PVP", "preop")] == (37.8, 3.3, 16)
    assert rows[("KP", "preop")] == (36.0, 4.5, 18)
    assert rows[("PVP", "ge1y")] == (13.5, 2.9, 16)
    assert rows[("KP", "ge1y")] == (9.7, 2.4, 18)
    assert len(rows) == 8


def test_fourney_medians_and_extrusion():
    # AOSpine-EBSJ-2012, Table 2 (medians from a figure) and Complications: extrusion 6/34
    med = {(r.technique, r.interval): r.estimate for r in _rows("Fourney 2003", "pain_vas")}
    assert med[("PVP", "preop")] == 8 and med[("KP", "lt1y")] == 4
    (ext,) = [r for r in _rows("Fourney 2003", "cement_extrusion") if r.technique == "PVP"]
    assert (ext.events, ext.denominator, ext.estimate) == (6, 34, 17.6)


def test_leakage_tables_and_source_inconsistencies_flagged():
    # AOSpine-EBSJ-2012, Table 4: Lee 601/760 (79.07%) PV, 13/214 (6.07%) KP
    lee = {r.technique: (r.events, r.denominator) for r in _rows("Lee 2009", "cement_leakage")}
    assert lee == {"PVP": (601, 760), "KP": (13, 214)}
    (bouza,) = [r for r in _rows("Bouza 2009", "cement_leakage") if r.timepoint is None]
    assert (bouza.estimate, bouza.ci_lower, bouza.ci_upper) == (5.8, 1.96, 9.64)
    warnings = check_consistency(load_curated())
    # printed percentages that contradict their own counts are flagged, not silently used
    assert any("Lee 2009 cement_leakage_symptomatic" in w for w in warnings)
    assert any("Mendel 2009 cement_leakage (KP)" in w for w in warnings)
    assert any("canal_leak" in w for w in warnings)
    assert len(warnings) == 3


def test_pool_per_level_leakage_by_technique():
    rows = [
        r
        for r in load_curated()
        if r.outcome == "cement_leakage" and r.unit == "level" and r.events is not None
    ]
    eff, used = effects_from_studies(rows, "PLO")
    assert {r.study for r in used} == {"Lee 2009", "Mendel 2009"}
    fit = RMA("REML").fit(eff.yi, eff.vi, measure="PLO", ni=eff.ni)
    assert 0 < fit.transformed["estimate"] < 1
