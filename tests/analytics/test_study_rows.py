"""The registry cohort as study rows: values on a hand-built cohort, agreement with the
outcomes report and the quality audit, role scoping, the CSV round trip, pooling with the
curated literature, and invariants on random record streams."""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
from typing import Any, Literal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._cli import run
from tests.evidence.tolerances import TOL
from vertebro import analytics as an
from vertebro import evidence as ev
from vertebro.analytics import procedures_from_export, registry_procedures
from vertebro.errors import InvalidInput
from vertebro.registry import Registry
from vertebro.registry.vocab import INTERVALS as REGISTRY_INTERVALS

from .conftest import add_patient

DAY = dt.date(2026, 1, 5)


def rows_for(reg: Registry, actor: str, by: Literal["site", "all"] = "site") -> list[ev.StudyRow]:
    return an.registry_study_rows(registry_procedures(reg, actor), exported_on=DAY, by=by)


def cell(rows: list[ev.StudyRow], study: str, arm: str, outcome: str, interval: str | None):
    found = [
        r
        for r in rows
        if (r.study, r.technique, r.outcome, r.interval) == (study, arm, outcome, interval)
    ]
    assert len(found) <= 1
    return found[0] if found else None


def test_intervals_are_the_registry_bins() -> None:
    # the registry's codes are the study format's codes (Sorensen-SpineJ-2019 Table 2)
    assert tuple(ev.INTERVALS) == REGISTRY_INTERVALS


# Each case: (study, arm, outcome, interval, values per patient), read off the pool_cohort
# docstring by hand: the baseline closest to the procedure; in an interval, the value nearest
# its planned day (< 4 weeks: day 14), the earlier on a tie.
CASES = [
    ("registry:A", "PVP", "pain_vas", "preop", [9, 7, 7]),  # A1's closest baseline is 9, not 8
    ("registry:A", "PVP", "pain_vas", "lt4w", [3, 4, 5]),  # A1: day 7 NRS 5, day 20 NRS 3
    ("registry:A", "PVP", "pain_vas", "le6w", [2]),
    ("registry:A", "PVP", "kps", "preop", [60, 60]),
    ("registry:A", "PVP", "kps", "lt4w", [70, 80]),
    ("registry:A", "PVP", "odi", "preop", [80]),  # 40/50 (ODI v2.1a: sum / (5 x 10) x 100)
    ("registry:A", "PVP", "odi", "lt4w", [40, 20]),
    ("registry:A", "KP", "pain_vas", "preop", [9, 6]),
    ("registry:A", "KP", "pain_vas", "lt4w", [2]),  # not A5's NRS 1 after its 2nd procedure
    ("registry:B", "PVP", "pain_vas", "preop", [8, 6]),
    ("registry:B", "PVP", "pain_vas", "lt4w", [2, 3, 3]),  # B1: day 14 NRS 2, not day 21 NRS 3
    ("registry:B", "KP", "pain_vas", "preop", [7]),
]


def test_rows_by_site_on_a_hand_built_cohort(pool_cohort: Registry) -> None:
    rows = rows_for(pool_cohort, "rita")
    outcome_rows = [r for r in rows if r.outcome != "cement_leakage"]
    assert len(outcome_rows) == len(CASES)
    for study, arm, outcome, interval, values in CASES:
        r = cell(rows, study, arm, outcome, interval)
        assert r is not None, (study, arm, outcome, interval)
        assert r.n == len(values)  # patients, not visits
        assert r.mean == pytest.approx(statistics.mean(values), abs=TOL["closed_form"])
        if len(values) < 2 or len(set(values)) == 1:
            assert r.sd is None  # n < 2, or every value equal: the format needs sd > 0
        else:
            assert r.sd == pytest.approx(np.std(values, ddof=1), abs=TOL["closed_form"])
        assert (r.statistic, r.unit, r.design, r.loe, r.population) == (
            "mean", "patient", "prospective", "IV", "cancer"
        )  # fmt: skip
        assert r.year == 2026 and "2026-01-05" in r.source and "vertebro" in r.source


def test_visits_are_counted_in_the_note_but_not_in_n(pool_cohort: Registry) -> None:
    r = cell(rows_for(pool_cohort, "rita"), "registry:A", "PVP", "pain_vas", "lt4w")
    assert r is not None and r.n == 3
    assert "(3 patients, 4 visits)" in (r.note or "")


def test_leakage_per_procedure(pool_cohort: Registry) -> None:
    rows = rows_for(pool_cohort, "rita")
    # site A: PVP A1 (leak), A2, A5; KP A3 (leak), A4 (leak), A5's second procedure
    expected = {("registry:A", "PVP"): (1, 3), ("registry:A", "KP"): (2, 3),
                ("registry:B", "PVP"): (1, 3), ("registry:B", "KP"): (0, 1)}  # fmt: skip
    leak = {(r.study, r.technique): r for r in rows if r.outcome == "cement_leakage"}
    assert {k: (r.events, r.denominator) for k, r in leak.items()} == expected
    assert all(r.unit == "session" and r.interval is None for r in leak.values())
    assert leak[("registry:A", "KP")].estimate == pytest.approx(66.67)


def test_arms_and_leaks_agree_with_the_quality_audit(pool_cohort: Registry) -> None:
    procs = registry_procedures(pool_cohort, "rita")
    report = an.audit(procs, by="technique")
    short = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}
    rows = {
        r.technique: r
        for r in an.registry_study_rows(procs, exported_on=DAY, by="all")
        if r.outcome == "cement_leakage"
    }
    assert {short[lk.technique] for lk in report.leakage} == set(rows)
    for lk in report.leakage:
        r = rows[short[lk.technique]]
        assert (r.events, r.denominator) == (lk.events, lk.n)


def test_leaks_are_the_counting_rules_leak_types(pool_cohort: Registry) -> None:
    # the leak types come from the thresholds data (counting_rule.leak_types), not from code
    procs = registry_procedures(pool_cohort, "rita")
    shipped = an.default_thresholds()
    leak_types = set(shipped.counting_rule.leak_types)
    expected: dict[str, tuple[int, int]] = {}
    for p in procs:
        e = expected.setdefault(p.technique, (0, 0))
        leaked = any(c.type in leak_types for c in p.complications)
        expected[p.technique] = (e[0] + leaked, e[1] + 1)
    short = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}

    def leaks(th: an.Thresholds) -> dict[str, tuple[int | None, int | None]]:
        rows = an.registry_study_rows(procs, exported_on=DAY, by="all", thresholds=th)
        return {r.technique or "": (r.events, r.denominator) for r in rows
                if r.outcome == "cement_leakage"}  # fmt: skip

    assert leaks(shipped) == {short[t]: v for t, v in expected.items()}
    # a rule that also calls the haematoma (A2, PVP) a leak moves the PVP count with it
    rule = shipped.counting_rule.model_copy(update={"leak_types": ("cement_leak", "haematoma")})
    wider = shipped.model_copy(update={"counting_rule": rule})
    pvp = expected["vertebroplasty"]
    assert leaks(wider)["PVP"] == (pvp[0] + 1, pvp[1])


def test_whole_registry_as_one_study(pool_cohort: Registry) -> None:
    rows = rows_for(pool_cohort, "rita", by="all")
    assert {r.study for r in rows} == {"registry:all"}
    r = cell(rows, "registry:all", "PVP", "pain_vas", "lt4w")
    assert r is not None and r.n == 6
    assert r.mean == pytest.approx(statistics.mean([3, 4, 5, 2, 3, 3]))
    leak = cell(rows, "registry:all", "KP", "cement_leakage", None)
    assert leak is not None and (leak.events, leak.denominator) == (2, 4)


def test_role_scoping(pool_cohort: Registry) -> None:
    everyone = rows_for(pool_cohort, "rita")
    alice = rows_for(pool_cohort, "alice")
    bob = rows_for(pool_cohort, "bob")
    assert {r.study for r in alice} == {"registry:A"}
    assert {r.study for r in bob} == {"registry:B"}
    # a clinician's rows are exactly the researcher's rows of that site
    assert alice == [r for r in everyone if r.study == "registry:A"]
    assert bob == [r for r in everyone if r.study == "registry:B"]


def test_the_csv_passes_check_and_reads_back(pool_cohort: Registry) -> None:
    rows = rows_for(pool_cohort, "rita")
    back = ev.parse_studies(ev.format_studies(rows), "registry.csv")
    assert [r.model_copy(update={"line": 0}) for r in back] == rows
    assert ev.check_consistency(back) == []


def test_empty_stream_gives_no_rows() -> None:
    assert an.registry_study_rows([], exported_on=DAY) == []


def test_synthetic_patients_are_flagged() -> None:
    records = [
        {"record_type": "patient", "site": "S", "patient": "P1", "synthetic": "true"},
        {"record_type": "procedure", "site": "S", "patient": "P1", "procedure": "1"},
        {"record_type": "level", "site": "S", "patient": "P1", "procedure": "1",
         "technique": "vertebroplasty"},
    ]  # fmt: skip
    (row,) = an.registry_study_rows(procedures_from_export(records), exported_on=DAY)
    assert (row.note or "").startswith("SYNTHETIC demo data: 1 of 1 patients")


# ---------------------------------------------------------------- pooling with the literature
def _registry_csv(pool_cohort: Registry, tmp_path: Any) -> Any:
    path = tmp_path / "registry.csv"
    path.write_text(ev.format_studies(rows_for(pool_cohort, "rita")), encoding="utf-8")
    return path


def _n_weighted(*files: Any) -> dict[tuple[str, str], dict[str, Any]]:
    code, out, err = run(
        "evidence", "pool", *map(str, files), "--n-weighted", "--outcome", "pain_vas",
        "--interval", "lt4w", "--population", "cancer", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    return {(c["technique"], c["interval"]): c for c in json.loads(out)["cells"]}


def test_registry_rows_pool_with_the_curated_studies(pool_cohort: Registry, tmp_path) -> None:
    reg_csv = _registry_csv(pool_cohort, tmp_path)
    curated = tmp_path / "studies.csv"
    curated.write_text(ev.data_text("studies.csv"), encoding="utf-8")
    # one file: the curated CSV with the registry rows appended (header dropped)
    both = tmp_path / "both.csv"
    reg_lines = reg_csv.read_text(encoding="utf-8").splitlines(keepends=True)[1:]
    both.write_text(curated.read_text(encoding="utf-8") + "".join(reg_lines), encoding="utf-8")

    # Independent N-weighted means (Sorensen-SpineJ-2019, Methods: study means weighted by N):
    # Sorensen Table 2 NRS < 4 weeks, PVP 3.0 (N 1147), KP 2.96 (N 814), and the registry's
    # per-site means of the hand values above (A: 3, 4, 5; B: 2, 3, 3; KP A: 2).
    pvp = (3.0 * 1147 + np.mean([3, 4, 5]) * 3 + np.mean([2, 3, 3]) * 3) / (1147 + 6)
    kp = (2.96 * 814 + 2 * 1) / (814 + 1)
    for files in ((both,), (curated, reg_csv)):
        cells = _n_weighted(*files)
        assert cells[("PVP", "lt4w")]["mean"] == pytest.approx(pvp, abs=TOL["closed_form"])
        assert cells[("PVP", "lt4w")]["n"] == 1153
        assert cells[("PVP", "lt4w")]["studies"] == ["Sorensen 2019", "registry:A", "registry:B"]
        assert cells[("KP", "lt4w")]["mean"] == pytest.approx(kp, abs=TOL["closed_form"])
    # the registry's PVP patients (mean 3.33) pull the pooled mean up from Sorensen's 3.0
    assert _n_weighted(curated)[("PVP", "lt4w")]["mean"] == pytest.approx(3.0)
    assert pvp > 3.0


def test_registry_rows_pool_by_inverse_variance(pool_cohort: Registry, tmp_path) -> None:
    reg_csv = _registry_csv(pool_cohort, tmp_path)
    code, stdout, err = run(
        "evidence", "pool", str(reg_csv), "--outcome", "pain_vas", "--interval", "preop",
        "--technique", "PVP", "--measure", "MN", "--method", "EE", "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    out = json.loads(stdout)
    # common effect: inverse-variance weights n / sd^2 (closed form)
    a, b = [9, 7, 7], [8, 6]
    w = [len(v) / np.var(v, ddof=1) for v in (a, b)]
    est = (w[0] * np.mean(a) + w[1] * np.mean(b)) / sum(w)
    assert out["estimate"] == pytest.approx(est, abs=1e-9)


# ---------------------------------------------------------------- properties
_SITES = ("A", "B")
_TECH = ("vertebroplasty", "kyphoplasty")


@st.composite
def streams(draw: st.DrawFn) -> list[dict[str, str]]:
    records: list[dict[str, str]] = []
    for site in draw(st.lists(st.sampled_from(_SITES), min_size=1, max_size=2, unique=True)):
        for p in range(draw(st.integers(1, 5))):
            patient = f"P{p}"
            records.append({"record_type": "patient", "site": site, "patient": patient})
            for proc in range(1, draw(st.integers(1, 2)) + 1):
                key = {"site": site, "patient": patient, "procedure": str(proc)}
                records.append({"record_type": "procedure", **key})
                for t in draw(st.lists(st.sampled_from(_TECH), min_size=1, max_size=3)):
                    records.append({"record_type": "level", **key, "technique": t})
                for ctype in draw(st.lists(st.sampled_from(("cement_leak", "haematoma")),
                                           max_size=3)):  # fmt: skip
                    records.append(
                        {"record_type": "complication", **key, "complication_type": ctype}
                    )
                score = st.one_of(st.none(), st.integers(0, 10).map(str))
                kps = st.one_of(st.none(), st.integers(0, 10).map(lambda k: str(10 * k)))
                for _ in range(draw(st.integers(0, 6))):
                    records.append(
                        {"record_type": "follow_up", **key,
                         "day": str(draw(st.integers(-3, 400))),
                         "interval": draw(st.sampled_from(tuple(ev.INTERVALS))),
                         "nrs": draw(score) or "", "odi": draw(score) or "",
                         "kps": draw(kps) or ""}
                    )  # fmt: skip
    return records


@given(streams())
def test_invariants_on_random_streams(records: list[dict[str, str]]) -> None:
    rows = an.registry_study_rows(procedures_from_export(records), exported_on=DAY)
    # index-procedure patients per (study, arm), and every value recorded per cell
    arms: dict[tuple[str, str], set[str]] = {}
    inputs: dict[tuple[str, str, str, str], list[float]] = {}
    techs: dict[tuple[str, str, str], set[str]] = {}
    for r in records:
        if r["record_type"] == "level":
            techs.setdefault((r["site"], r["patient"], r["procedure"]), set()).add(r["technique"])
    arm_of = {k: "KP" if "kyphoplasty" in v else "PVP" for k, v in techs.items()}
    for (site, patient, proc), arm in arm_of.items():
        if proc == "1":
            arms.setdefault((f"registry:{site}", arm), set()).add(patient)
    for r in records:
        if r["record_type"] == "follow_up" and r["procedure"] == "1":
            arm = arm_of[(r["site"], r["patient"], "1")]
            for col, outcome in an.REGISTRY_OUTCOMES.items():
                if r[col]:
                    key = (f"registry:{r['site']}", arm, outcome, r["interval"])
                    inputs.setdefault(key, []).append(float(r[col]))
    n_sum: dict[tuple[str, str, str], int] = {}
    for row in rows:
        assert row.technique is not None
        if row.outcome == "cement_leakage":
            assert row.events is not None and row.denominator is not None
            assert 0 <= row.events <= row.denominator
            continue
        assert row.n is not None and row.mean is not None and row.interval is not None
        values = inputs[(row.study, row.technique, row.outcome, row.interval)]
        assert min(values) - 1e-9 <= row.mean <= max(values) + 1e-9
        assert row.n <= len(arms[(row.study, row.technique)])  # one value per patient
        assert row.sd is None or row.sd > 0
        k = (row.study, row.technique, row.outcome)
        n_sum[k] = n_sum.get(k, 0) + row.n
    for (study, arm, _), total in n_sum.items():
        assert total <= len(arms[(study, arm)]) * len(ev.INTERVALS)
    # every procedure is in exactly one leakage denominator
    assert sum(r.denominator or 0 for r in rows if r.outcome == "cement_leakage") == len(arm_of)
    ev.parse_studies(ev.format_studies(rows))  # what is written passes `evidence check`


def test_bad_by_is_refused() -> None:
    with pytest.raises(InvalidInput, match="by"):
        an.registry_study_rows([], exported_on=DAY, by="country")  # type: ignore[arg-type]


# ---------------------------------------------------------------- one answer: outcomes report
def _agree(procs: list[an.ProcedureRecord]) -> int:
    """Assert that the outcomes report and the study rows (one study) give the same n and mean
    in every cell; return the number of cells compared."""
    report = an.outcomes(procs)
    rows = {
        (r.technique, r.outcome, r.interval): r
        for r in an.registry_study_rows(procs, exported_on=DAY, by="all")
        if r.outcome != "cement_leakage"
    }
    short = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}
    compared = 0
    for t in report.techniques:
        for m in t.measures:
            cells = [("preop", m.baseline)] + [(iv.interval, iv.level) for iv in m.intervals]
            for interval, level in cells:
                key = (short[t.technique], an.REGISTRY_OUTCOMES[m.measure], interval)
                row = rows.pop(key, None)
                if level is None:
                    assert row is None, (t.technique, m.measure, interval)
                    continue
                assert row is not None, (t.technique, m.measure, interval)
                assert row.n == level.n, (t.technique, m.measure, interval)
                assert row.mean == pytest.approx(level.mean, abs=TOL["closed_form"])
                compared += 1
    assert rows == {}  # no row the report does not have
    return compared


def test_outcomes_report_and_study_rows_agree_on_several_visits_per_interval(
    registry: Registry,
) -> None:
    # the reviewer's case: NRS on day 60 (2) and day 170 (7), both "< 6 months" (days 43-182);
    # the planned day is 3 months (day 90), so both reports take day 60's value
    for code in ("R1", "R2", "R3"):
        add_patient(registry, "alice", code)
        registry.add_follow_up("alice", code, {"followed_on": "2025-01-09", "baseline": True,
                                               "nrs": 8})  # fmt: skip
        registry.add_follow_up("alice", code, {"followed_on": "2025-03-11", "nrs": 2})  # day 60
        registry.add_follow_up("alice", code, {"followed_on": "2025-06-29", "nrs": 7})  # day 170
    procs = registry_procedures(registry, "rita")
    lt6m = an.outcomes(procs).technique("vertebroplasty").measure("nrs").intervals
    level = next(iv.level for iv in lt6m if iv.interval == "lt6m")
    assert level is not None and (level.n, level.mean) == (3, 2.0)
    row = cell(an.registry_study_rows(procs, exported_on=DAY, by="all"),
               "registry:all", "PVP", "pain_vas", "lt6m")  # fmt: skip
    assert row is not None and (row.n, row.mean) == (3, 2.0)
    assert _agree(procs) == 2  # preop and < 6 months


def test_outcomes_report_and_study_rows_agree_on_a_busy_cohort(registry: Registry) -> None:
    # seeded: several baselines and visits per interval, both techniques, every measure
    rng = random.Random(2026)
    start = dt.date(2025, 1, 10)
    for i in range(16):
        code = f"Q{i}"
        actor = "alice" if i % 2 else "bob"
        add_patient(registry, actor, code, ("L1", rng.choice(("vertebroplasty", "kyphoplasty"))))
        for _ in range(rng.randint(0, 2)):
            day = start - dt.timedelta(days=rng.randint(0, 6))
            registry.add_follow_up(actor, code, {"followed_on": day.isoformat(),
                                                 "baseline": True, **_scores(rng)})  # fmt: skip
        for _ in range(rng.randint(1, 10)):
            day = start + dt.timedelta(days=rng.randint(1, 500))
            registry.add_follow_up(actor, code, {"followed_on": day.isoformat(), **_scores(rng)})
    procs = registry_procedures(registry, "rita")
    assert _agree(procs) >= 20


def _scores(rng: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rng.random() < 0.8:
        out["nrs"] = rng.randint(0, 10)
    if rng.random() < 0.5:
        out["kps"] = 10 * rng.randint(3, 10)
    if rng.random() < 0.5:
        out["odi_sections"] = [rng.randint(0, 5) for _ in range(10)]
    return out


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False,
                                 allow_subnormal=False) | st.integers(0, 100).map(float),
                       st.integers(1, 40), min_size=1, max_size=12))
def test_mean_and_sd_of_a_frequency_table_equal_statistics_of_the_list(
        counts: dict[float, int]) -> None:
    """The study rows' mean and sd from counts (a million patients are a few hundred
    values) are bit for bit ``statistics.fmean`` and ``statistics.stdev`` of the list."""
    from vertebro.analytics._study_rows import _mean_sd

    values = [v for v, c in counts.items() for _ in range(c)]
    n, mean, sd = _mean_sd(counts)
    assert (n, mean) == (len(values), statistics.fmean(values))
    assert sd == (statistics.stdev(values) if len(values) > 1 else None)
