"""The registry cohort as study rows: values on a hand-built cohort, role scoping, the CSV
round trip, pooling with the curated literature, and invariants on random record streams."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any, Literal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vertebro import evidence as ev
from vertebro.analytics import procedures_from_export
from vertebro.errors import EvidenceError
from vertebro.registry import Registry
from vertebro.registry.vocab import INTERVALS as REGISTRY_INTERVALS

from .tolerances import TOL

DAY = dt.date(2026, 1, 5)


def rows_for(reg: Registry, actor: str, by: Literal["site", "all"] = "site") -> list[ev.StudyRow]:
    return ev.registry_study_rows(ev.registry_records(reg, actor), exported_on=DAY, by=by)


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


# Each case: (study, arm, outcome, interval, values per patient (the last in the interval)),
# read off the pool_cohort docstring by hand.
CASES = [
    ("registry:A", "PVP", "pain_vas", "preop", [9, 7, 7]),  # A1's last baseline is 9, not 8
    ("registry:A", "PVP", "pain_vas", "lt4w", [3, 4, 5]),  # A1: last of 5, 3
    ("registry:A", "PVP", "pain_vas", "le6w", [2]),
    ("registry:A", "PVP", "kps", "preop", [60, 60]),
    ("registry:A", "PVP", "kps", "lt4w", [70, 80]),
    ("registry:A", "PVP", "odi", "preop", [80]),  # 40/50 (ODI v2.1a: sum / (5 x 10) x 100)
    ("registry:A", "PVP", "odi", "lt4w", [40, 20]),
    ("registry:A", "KP", "pain_vas", "preop", [9, 6]),
    ("registry:A", "KP", "pain_vas", "lt4w", [2]),  # not A5's NRS 1 after its 2nd procedure
    ("registry:B", "PVP", "pain_vas", "preop", [8, 6]),
    ("registry:B", "PVP", "pain_vas", "lt4w", [3, 3, 3]),  # B1: last of 2, 3
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
    records = ev.registry_records(pool_cohort, "rita")
    audit = procedures_from_export(records)
    rows = ev.registry_study_rows(records, exported_on=DAY)
    short = {"vertebroplasty": "PVP", "kyphoplasty": "KP"}
    for r in (r for r in rows if r.outcome == "cement_leakage"):
        mine = [
            p
            for p in audit
            if f"registry:{p.site}" == r.study and short[p.technique] == r.technique
        ]
        assert r.denominator == len(mine)
        assert r.events == sum(any(c.type == "cement_leak" for c in p.complications) for p in mine)


def test_whole_registry_as_one_study(pool_cohort: Registry) -> None:
    rows = rows_for(pool_cohort, "rita", by="all")
    assert {r.study for r in rows} == {"registry:all"}
    r = cell(rows, "registry:all", "PVP", "pain_vas", "lt4w")
    assert r is not None and r.n == 6
    assert r.mean == pytest.approx(statistics.mean([3, 4, 5, 3, 3, 3]))
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
    assert ev.registry_study_rows([], exported_on=DAY) == []


def test_synthetic_patients_are_flagged() -> None:
    records = [
        {"record_type": "patient", "site": "S", "patient": "P1", "synthetic": "true"},
        {"record_type": "procedure", "site": "S", "patient": "P1", "procedure": "1"},
        {"record_type": "level", "site": "S", "patient": "P1", "procedure": "1",
         "technique": "vertebroplasty"},
    ]  # fmt: skip
    (row,) = ev.registry_study_rows(records, exported_on=DAY)
    assert (row.note or "").startswith("SYNTHETIC demo data: 1 of 1 patients")


# ---------------------------------------------------------------- pooling with the literature
def _registry_csv(pool_cohort: Registry, tmp_path: Any) -> Any:
    path = tmp_path / "registry.csv"
    path.write_text(ev.format_studies(rows_for(pool_cohort, "rita")), encoding="utf-8")
    return path


def _n_weighted(*files: Any) -> dict[tuple[str, str], dict[str, Any]]:
    import json

    from typer.testing import CliRunner

    from vertebro.cli import app

    res = CliRunner().invoke(
        app,
        ["evidence", "pool", *map(str, files), "--n-weighted", "--outcome", "pain_vas",
         "--interval", "lt4w", "--population", "cancer", "--format", "json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return {(c["technique"], c["interval"]): c for c in json.loads(res.stdout)["cells"]}


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
    # per-site means of the hand values above (A: 3, 4, 5; B: 3, 3, 3; KP A: 2).
    pvp = (3.0 * 1147 + np.mean([3, 4, 5]) * 3 + np.mean([3, 3, 3]) * 3) / (1147 + 6)
    kp = (2.96 * 814 + 2 * 1) / (814 + 1)
    for files in ((both,), (curated, reg_csv)):
        cells = _n_weighted(*files)
        assert cells[("PVP", "lt4w")]["mean"] == pytest.approx(pvp, abs=TOL["closed_form"])
        assert cells[("PVP", "lt4w")]["n"] == 1153
        assert cells[("PVP", "lt4w")]["studies"] == ["Sorensen 2019", "registry:A", "registry:B"]
        assert cells[("KP", "lt4w")]["mean"] == pytest.approx(kp, abs=TOL["closed_form"])
    # the registry's PVP patients (mean 3.5) pull the pooled mean up from Sorensen's 3.0
    assert _n_weighted(curated)[("PVP", "lt4w")]["mean"] == pytest.approx(3.0)
    assert pvp > 3.0


def test_registry_rows_pool_by_inverse_variance(pool_cohort: Registry, tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from vertebro.cli import app

    reg_csv = _registry_csv(pool_cohort, tmp_path)
    res = CliRunner().invoke(
        app,
        ["evidence", "pool", str(reg_csv), "--outcome", "pain_vas", "--interval", "preop",
         "--technique", "PVP", "--measure", "MN", "--method", "EE", "--format", "json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
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
    rows = ev.registry_study_rows(records, exported_on=DAY)
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
            for col, outcome in ev.REGISTRY_OUTCOMES.items():
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


def test_bad_stream_is_refused() -> None:
    with pytest.raises(EvidenceError, match="interval"):
        ev.registry_study_rows(
            [{"record_type": "procedure", "site": "S", "patient": "P", "procedure": "1"},
             {"record_type": "follow_up", "site": "S", "patient": "P", "procedure": "1",
              "interval": "lt2w", "nrs": "3"}],
            exported_on=DAY,
        )  # fmt: skip
