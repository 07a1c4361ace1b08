"""De-identified research data (issue 15, "Re-identification"): no free text in any research
export, researcher views equal to the research export, spreadsheet formula escaping; and
nothing half-written (issue 13.2)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests._cli import run
from vertebro.errors import InvalidInput, RegistryError
from vertebro.registry import Registry, io
from vertebro.registry.csvio import _unescape, spreadsheet_safe
from vertebro.registry.models import Complication, Patient, ProcedureLevel
from vertebro.registry.transfer import export_records

from .conftest import populate_users
from .helpers import engine_output

#: free text a clinician might type, or an older vertebro stored verbatim
SECRETS = ("Mr John Smith", "MRN 0012345", "Dr Who's cement", "Renal - Dr Jones",
           "adenocarcinoma, called his wife", "MDT overruled by Prof X", "needle from Ward 7",
           "given morphine by nurse Kay")


def _patient_with_free_text(reg: Registry) -> None:
    reg.add_patient("alice", {"code": "A01", "birth_year": 1950, "hospital_number": "H-9",
                              "primary_cancer": "renal"})
    reg.store_assessment("alice", "A01", {"note": "Mr John Smith, MRN 0012345",
                                          "patient": {"primary_cancer": "Renal - Dr Jones"},
                                          "levels": [{"level": "T9"}]},
                         engine_output("contraindicated", ["T9"]),
                         assessed_on=dt.date(2025, 1, 5))
    reg.add_procedure("alice", "A01", {
        "performed_on": "2025-01-10", "biopsy_taken": True,
        "biopsy_result": "adenocarcinoma, called his wife",
        "override_reason": "MDT overruled by Prof X",
        "levels": [{"level": "T9", "technique": "vertebroplasty", "cement_type": "PMMA",
                    "needle": "needle from Ward 7", "cement_volume_ml": 3.5}]})
    reg.add_complication("alice", "A01", {"type": "cement_leak", "level": "T9",
                                          "leak_site": "venous", "treatment": "analgesia"})
    reg.add_follow_up("alice", "A01", {"followed_on": "2025-02-09", "nrs": 2})
    # what an older vertebro stored as free text (written through the audited ORM path)
    with reg.session("admin") as (s, _):
        lv = s.scalars(select(ProcedureLevel)).one()
        lv.cement_type = "Dr Who's cement"
        c = s.scalars(select(Complication)).one()
        c.treatment = "given morphine by nurse Kay"
        s.scalars(select(Patient)).one().primary_cancer = "Renal - Dr Jones"


def _texts(path: Path) -> str:
    if path.is_dir():
        return "\n".join(p.read_text(encoding="utf-8") for p in sorted(path.iterdir()))
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["csv", "redcap", "fhir"])
def test_research_exports_carry_no_free_text(registry: Registry, tmp_path: Path,
                                             fmt: str) -> None:
    _patient_with_free_text(registry)
    full = tmp_path / "full"
    io.export(registry, "admin", fmt, full / ("x" if fmt == "redcap" else f"x.{fmt}"))
    assert "Dr Who's cement" in _texts(full / ("x" if fmt == "redcap" else f"x.{fmt}"))
    out = tmp_path / ("r" if fmt == "redcap" else f"r.{fmt}")
    io.export(registry, "rita", fmt, out, research=True)
    text = _texts(out)
    for secret in SECRETS:
        assert secret not in text, secret
        assert json.dumps(secret)[1:-1] not in text, secret
    assert "1950" not in text and "2025-" not in text
    if fmt == "fhir":
        bundle = json.loads(text)
        procs = [e["resource"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "Procedure"]
        assert procs and all("note" not in p for p in procs)  # Procedure.note: no text at all
        assert procs[0]["usedCode"][0]["coding"][0]["code"] == "other"
    if fmt == "csv":
        with out.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        level = next(r for r in rows if r["record_type"] == "level")
        comp = next(r for r in rows if r["record_type"] == "complication")
        pat = next(r for r in rows if r["record_type"] == "patient")
        assert (level["cement_type"], level["needle"], comp["treatment"],
                pat["primary_cancer"]) == ("other", "other", "other", "other")
        assessment = next(r for r in rows if r["record_type"] == "assessment")
        assert "note" not in json.loads(assessment["input_json"])


def test_new_writes_use_the_vocabularies(registry: Registry) -> None:
    registry.add_patient("alice", {"code": "A01"})
    registry.store_assessment("alice", "A01", {"levels": [{"level": "T9"}]},
                              engine_output("candidate", ["T9"]),
                              assessed_on=dt.date(2025, 1, 5))
    before = registry.counts()
    with pytest.raises(InvalidInput) as exc:
        registry.add_procedure("alice", "A01", {
            "performed_on": "2025-01-10",
            "levels": [{"level": "T9", "technique": "kyphoplasty", "cement_type": "my own"}]})
    assert [e.field for e in exc.value.errors] == ["levels[0].cement_type"]
    assert "'pmma'" in exc.value.errors[0].reason and "'other'" in exc.value.errors[0].reason
    out = registry.add_procedure("alice", "A01", {
        "performed_on": "2025-01-10",
        "levels": [{"level": "T9", "technique": "kyphoplasty", "cement_type": "PMMA"}]})
    assert out["levels"][0]["cement_type"] == "pmma"
    for data, field in (({"type": "cement_leak", "treatment": "gave him tea"}, "treatment"),
                        ({"type": "it hurt, Mr Smith"}, "type")):
        with pytest.raises(InvalidInput) as exc:
            registry.add_complication("alice", "A01", data)
        assert [e.field for e in exc.value.errors] == [field]
    assert registry.counts()["complication"] == before["complication"]


def test_researcher_views_show_exactly_the_research_export(registry: Registry,
                                                           tmp_path: Path) -> None:
    _patient_with_free_text(registry)
    rows = list(export_records(registry, "rita", research=True))
    pat = next(r for r in rows if r["record_type"] == "patient")
    listed = registry.list_patients("rita")
    assert listed == [{"patient": pat["patient"], "site": "A", "age_at_index": 75,
                       "sex": None, "primary_cancer": "other", "synthetic": False}]
    assert registry.get_patient("rita", pat["patient"]) == listed[0]
    timeline = registry.timeline("rita", pat["patient"])
    flat = json.dumps(timeline)
    for secret in SECRETS:
        assert secret not in flat
    for key in ("birth_year", "override_reason", "biopsy_result", "date"):
        assert f'"{key}"' not in flat, key
    proc = next(e for e in timeline["events"] if e["event"] == "procedure")
    level = next(r for r in rows if r["record_type"] == "level")
    assert {k: str(v) for k, v in proc["levels"][0].items() if v is not None} == {
        k: level[k] for k in ("level", "technique", "needle", "cement_type", "cement_volume_ml")}
    comp = next(e for e in timeline["events"] if e["event"] == "complication")
    assert (comp["type"], comp["treatment"]) == ("cement_leak", "other")
    # the CLI prints what the service returns
    db = ("--db", registry.engine.url.render_as_string(hide_password=False))
    for args in (("list",), ("show", pat["patient"])):
        code, out, err = run("registry", *args, "--as", "rita", *db)
        assert code == 0, err
        assert "1950" not in out and "Prof X" not in out and "Jones" not in out
    assert "age at index" in run("registry", "list", "--as", "rita", *db)[1]
    # a clinician still sees their own records in full
    assert registry.list_patients("alice")[0]["birth_year"] == 1950


# ------------------------------------------------------------------ formula escaping
FORMULAS = ("=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\tTAB", "\rCR", "'=already quoted")


@pytest.mark.parametrize("fmt", ["csv", "redcap"])
def test_exports_escape_spreadsheet_formulas_and_round_trip(
    registry: Registry, other_db_url: str, tmp_path: Path, fmt: str
) -> None:
    registry.add_patient("alice", {"code": "A01", "birth_year": 1950})
    registry.store_assessment("alice", "A01", {"levels": [{"level": "T9"}]},
                              engine_output("contraindicated", ["T9"]),
                              assessed_on=dt.date(2025, 1, 5))
    for i, formula in enumerate(FORMULAS):
        registry.add_procedure("alice", "A01", {
            "performed_on": f"2025-01-{10 + i}", "biopsy_result": formula,
            "override_reason": f"{formula} reason",
            "levels": [{"level": "T9", "technique": "vertebroplasty", "needle": formula}]})
    registry.add_follow_up("alice", "A01", {"followed_on": "2025-01-02", "baseline": True,
                                            "nrs": 7})
    target = tmp_path / ("one" if fmt == "redcap" else "one.csv")
    io.export(registry, "admin", fmt, target)
    data = target / "records.csv" if fmt == "redcap" else target
    with data.open(newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert any(c == "-8" for c in cells)  # numbers stay numbers (the baseline's day)
    for c in cells:
        assert not c or (c[0] not in "=+@\t\r" and (c[0] != "-" or c.lstrip("-").isdigit())), c
    other = Registry.create(other_db_url)
    try:
        populate_users(other)
        io.import_(other, "admin", fmt, target)
        again = tmp_path / ("two" if fmt == "redcap" else "two.csv")
        io.export(other, "admin", fmt, again)
    finally:
        other.close()
    two = again / "records.csv" if fmt == "redcap" else again
    assert data.read_bytes() == two.read_bytes()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=12))
def test_spreadsheet_escaping_is_exact_and_safe(value: str) -> None:
    safe = spreadsheet_safe(value)
    assert _unescape(safe) == value
    if safe and safe[0] in "=+-@\t\r":
        float(safe)  # only a plain number may lead with a sign


# ------------------------------------------------------------------ nothing half-written
@pytest.mark.parametrize("fmt", ["csv", "redcap", "fhir"])
def test_refused_export_leaves_no_file(registry: Registry, tmp_path: Path, fmt: str) -> None:
    _patient_with_free_text(registry)
    db = ("--db", registry.engine.url.render_as_string(hide_password=False))
    for who, extra, code in (("rita", (), 1), ("nobody", (), 1)):
        out = tmp_path / who / ("x" if fmt == "redcap" else f"x.{fmt}")
        result = run("registry", "export", "--format", fmt, "--out", str(out), "--as", who,
                     *extra, *db)
        assert result[0] == code, result
        assert not (tmp_path / who).exists()
    with pytest.raises(RegistryError):
        io.export(registry, "rita", fmt, tmp_path / "direct" / "x")
    assert not (tmp_path / "direct").exists()


@pytest.mark.parametrize("fmt", ["csv", "redcap", "fhir"])
def test_export_failing_midway_leaves_the_old_file_or_none(registry: Registry, tmp_path: Path,
                                                           fmt: str) -> None:
    for code in ("A01", "A02", "A03"):
        registry.add_patient("alice", {"code": code})

    def boom(phase: str, done: int, total: int) -> None:
        if done == 2:
            raise OSError("disk full")

    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / ("x" if fmt == "redcap" else f"x.{fmt}")
    with pytest.raises(OSError):
        io.export(registry, "alice", fmt, target, progress=boom)
    assert list(folder.iterdir()) == []
    io.export(registry, "alice", fmt, target)
    first = _texts(target)
    with pytest.raises(OSError):
        io.export(registry, "alice", fmt, target, progress=boom)
    assert _texts(target) == first
    assert not [p for p in (target if target.is_dir() else folder).iterdir()
                if p.name.endswith(".tmp")]


def test_researcher_assessment_is_the_research_export_record(registry: Registry) -> None:
    """A researcher opening a stored assessment reads what the research export's assessment
    record holds: the engine's real output echoes a free-text primary cancer
    (``noms.oncologic.primary``, the prognostic scores' notes), and neither shows it."""
    import vertebro
    from vertebro.registry.research import research_input, research_output

    data = json.loads((Path(__file__).parents[2] / "examples" / "aospine_case.json")
                      .read_text(encoding="utf-8"))
    data["patient"]["primary_cancer"] = "Renal - Dr Jones"
    data["note"] = "Mr John Smith, MRN 0012345"
    registry.add_patient("alice", {"code": "A01", "birth_year": 1950})
    stored = registry.store_assessment("alice", "A01", data, vertebro.assess(data),
                                       assessed_on=dt.date(2025, 1, 5))
    assert "Dr Jones" in json.dumps(stored)  # the clinician's own record is verbatim
    registry.add_procedure("alice", "A01", {"performed_on": "2025-01-10", "levels": [
        {"level": data["levels"][0]["level"], "technique": "vertebroplasty"}]})
    rec = next(r for r in export_records(registry, "rita", research=True)
               if r["record_type"] == "assessment")
    seen = registry.get_assessment("rita", stored["assessment_id"])
    assert set(seen) == {"assessment_id", "patient", "site", "day", "guideline", "disposition",
                         "rulebook_version", "engine_version", "input", "output"}
    assert (seen["input"], seen["output"]) == (json.loads(rec["input_json"]),
                                               json.loads(rec["output_json"]))
    assert {k: str(seen[k]) for k in ("patient", "site", "day", "guideline", "disposition")} == {
        k: rec[k] for k in ("patient", "site", "day", "guideline", "disposition")}
    flat = json.dumps(seen)
    for secret in ("Dr Jones", "John Smith", "0012345", "1950", "2025-", "alice"):
        assert secret not in flat, secret
    assert seen["output"]["noms"]["oncologic"]["primary"] == "other"
    # a known cancer is left as it is (nothing to code)
    assert research_output({"x": "lung"}, research_input({"patient": {"primary_cancer":
                                                                       "lung"}})) == {"x": "lung"}


def test_researcher_cli_json_equals_the_research_export(registry: Registry,
                                                        tmp_path: Path) -> None:
    """``registry list/show --format json`` as a researcher: the export's patient fields,
    exactly, and no birth year, hospital-number flag, date or free text anywhere."""
    _patient_with_free_text(registry)
    db = ("--db", registry.engine.url.render_as_string(hide_password=False))
    out = tmp_path / "r.csv"
    assert run("registry", "export", "--format", "csv", "--out", str(out), "--research",
               "--as", "rita", *db)[0] == 0
    with out.open(newline="", encoding="utf-8") as fh:
        rec = next(r for r in csv.DictReader(fh) if r["record_type"] == "patient")
    exported = {k: v for k, v in rec.items() if v and k != "record_type"}
    code, listed, err = run("registry", "list", "--as", "rita", "--format", "json", *db)
    assert code == 0, err
    code, shown, err = run("registry", "show", exported["patient"], "--as", "rita",
                           "--format", "json", *db)
    assert code == 0, err
    shown_head = {k: v for k, v in json.loads(shown).items() if k != "events"}
    for answer in (json.loads(listed)[0], shown_head):
        assert {k: str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in answer.items() if v is not None} == exported
    for key in ("birth_year", "hospital_number_hashed", "override_reason", "biopsy_result",
                "date"):
        assert f'"{key}"' not in listed + shown, key
    for secret in (*SECRETS, "1950", "2025-"):
        assert secret not in listed + shown, secret
