from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from vertebro.errors import InvalidInput, RegistryError
from vertebro.registry import Registry

from .helpers import engine_output, patient_with_procedure


def _errors(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {e.field: e.reason for e in exc.value.errors}


# ------------------------------------------------------------------ access
def test_clinician_cannot_read_or_change_other_site(registry: Registry) -> None:
    patient_with_procedure(registry, "bob", "B01")
    before = registry.counts()
    with pytest.raises(RegistryError):
        registry.get_patient("alice", "B01")
    with pytest.raises(RegistryError):
        registry.get_patient("alice", "B/B01")
    with pytest.raises(RegistryError):
        registry.timeline("alice", "B01")
    with pytest.raises(RegistryError):
        registry.add_follow_up("alice", "B01", {"followed_on": "2025-02-01", "nrs": 3})
    with pytest.raises(RegistryError):
        registry.update_patient("alice", "B01", {"sex": "male"})
    with pytest.raises(RegistryError):
        registry.add_patient("alice", {"code": "X1", "site": "B"})
    assert [p["patient"] for p in registry.list_patients("alice")] == []
    assert registry.counts() == before
    assert registry.get_patient("bob", "B01")["patient"] == "B01"


def test_researcher_reads_pseudonymised_and_cannot_write(registry: Registry) -> None:
    patient_with_procedure(registry, "alice", "A01")
    registry.add_follow_up("alice", "A01", {"followed_on": "2025-01-20", "nrs": 3})
    before = registry.counts()
    rows = registry.list_patients("rita")
    assert len(rows) == 1
    pseudonym = rows[0]["patient"]
    assert pseudonym != "A01" and pseudonym.startswith("R")
    assert "hospital_number_hashed" not in rows[0]
    timeline = registry.timeline("rita", pseudonym)
    assert all("date" not in e for e in timeline["events"])
    assert [e["day"] for e in timeline["events"] if e["event"] == "follow_up"] == [10]
    for write in (
        lambda: registry.add_patient("rita", {"code": "R1", "site": "A"}),
        lambda: registry.add_follow_up("rita", pseudonym, {"followed_on": "2025-02-01"}),
        lambda: registry.update_patient("rita", pseudonym, {"sex": "male"}),
        lambda: registry.add_user("rita", "eve", "admin", None),
    ):
        with pytest.raises(RegistryError):
            write()
    with pytest.raises(RegistryError):
        registry.audit_trail("rita", pseudonym)
    with pytest.raises(RegistryError):  # researchers do not address patients by their code
        registry.get_patient("rita", "A01")
    assert registry.counts() == before


def test_only_admin_manages_users(registry: Registry) -> None:
    with pytest.raises(RegistryError):
        registry.add_user("alice", "mallory", "admin", None)
    registry.add_user("admin", "carol", "clinician", "A")
    assert "carol" in [u["username"] for u in registry.list_users("admin")]
    registry.deactivate_user("admin", "carol")
    with pytest.raises(RegistryError):
        registry.list_patients("carol")
    with pytest.raises(RegistryError):
        registry.list_patients("nobody")
    with pytest.raises(RegistryError):
        registry.bootstrap("admin2", "C", "Site C")


# ------------------------------------------------------------------ audit
def test_every_change_leaves_exactly_one_audit_row(registry: Registry) -> None:
    registry.add_patient("alice", {"code": "A01", "birth_year": 1950, "sex": "male",
                                   "hospital_number": "MRN-12345"})
    trail = registry.audit_trail("alice", "A01")
    assert [(r["action"], r["table"]) for r in trail] == [("insert", "patient")]
    assert trail[0]["before"] is None and trail[0]["after"]["birth_year"] == 1950
    assert "MRN-12345" not in str(trail)  # only the keyed hash is stored

    registry.update_patient("alice", "A01", {"birth_year": 1951})
    trail = registry.audit_trail("alice", "A01")
    assert len(trail) == 2
    upd = trail[1]
    assert (upd["action"], upd["actor"]) == ("update", "alice")
    assert upd["before"]["birth_year"] == 1950 and upd["after"]["birth_year"] == 1951

    registry.store_assessment("alice", "A01", {"levels": [{"level": "L1"}]},
                              engine_output("candidate", ["L1"]), assessed_on=dt.date(2025, 3, 1))
    proc = registry.add_procedure("alice", "A01", {
        "performed_on": "2025-03-02",
        "levels": [{"level": "L1", "technique": "vertebroplasty"}]})
    fu = registry.add_follow_up("alice", "A01", {"followed_on": "2025-03-20", "nrs": 2,
                                                 "odi_sections": [1, 2, 1, 0, 1, 2, 1, 0, 1, 1]})
    registry.delete_follow_up("alice", fu["follow_up_id"])
    trail = registry.audit_trail("alice", "A01")
    assert [(r["action"], r["table"]) for r in trail] == [
        ("insert", "patient"), ("update", "patient"), ("insert", "assessment"),
        ("insert", "procedure"), ("insert", "procedure_level"), ("insert", "follow_up"),
        ("delete", "follow_up"),
    ]
    assert trail[-1]["before"]["odi"] == 20.0 and trail[-1]["after"] is None
    assert trail[3]["row_id"] == proc["procedure_id"]
    # a no-op update writes nothing
    registry.update_patient("alice", "A01", {"birth_year": 1951})
    assert len(registry.audit_trail("alice", "A01")) == 7


def test_audit_rows_are_append_only(registry: Registry) -> None:
    registry.add_patient("alice", {"code": "A01"})
    with registry.engine.connect() as conn:
        for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"):
                conn.execute(text(sql))
            conn.rollback()
    assert len(registry.audit_trail("admin", "A01")) == 1


def test_assessment_is_immutable(registry: Registry) -> None:
    from vertebro.registry.models import Assessment

    registry.add_patient("alice", {"code": "A01"})
    registry.store_assessment("alice", "A01", {"levels": []}, engine_output("incomplete", []))
    with pytest.raises(RegistryError, match="immutable"), registry.session("alice") as (s, _):
        a = s.query(Assessment).one()
        a.disposition = "candidate"


# ------------------------------------------------------------------ domain validation
def test_follow_up_before_procedure_is_refused(registry: Registry) -> None:
    patient_with_procedure(registry)
    before = registry.counts()
    with pytest.raises(InvalidInput) as exc:
        registry.add_follow_up("alice", "P001", {"followed_on": "2025-01-09", "nrs": 3})
    assert "followed_on" in _errors(exc)
    assert registry.counts() == before
    # a baseline may precede the procedure and is binned as preoperative
    fu = registry.add_follow_up("alice", "P001", {"followed_on": "2025-01-09", "baseline": True,
                                                  "nrs": 8})
    assert fu["interval"] == "preop"


def test_odi_sections_out_of_range_list_every_error(registry: Registry) -> None:
    patient_with_procedure(registry)
    before = registry.counts()
    with pytest.raises(InvalidInput) as exc:
        registry.add_follow_up("alice", "P001", {
            "followed_on": "2025-02-01", "nrs": 11, "kps": 75,
            "odi_sections": [1, 6, 1, 0, 1, 2, -1, 0, 1, 1]})
    fields = set(_errors(exc))
    assert {"odi_sections[1]", "odi_sections[6]", "nrs", "kps"} <= fields
    assert registry.counts() == before


def test_scores_are_computed_and_binned(registry: Registry) -> None:
    patient_with_procedure(registry)
    fu = registry.add_follow_up("alice", "P001", {
        "followed_on": "2025-02-20", "nrs": 3, "kps": 80, "rdq": 7,
        "odi_sections": [2, 2, 2, 2, 2, 2, 2, 2, 2, None]})
    assert fu["odi"] == 40.0 and fu["rdq"] == 7 and fu["kps"] == 80
    assert fu["days_since_procedure"] == 41 and fu["interval"] == "le6w"


def test_treated_level_not_in_assessment(registry: Registry) -> None:
    registry.add_patient("alice", {"code": "A01"})
    registry.store_assessment("alice", "A01", {"levels": [{"level": "T9"}]},
                              engine_output("candidate", ["T9"]), assessed_on=dt.date(2025, 1, 1))
    before = registry.counts()
    with pytest.raises(InvalidInput) as exc:
        registry.add_procedure("alice", "A01", {
            "performed_on": "2025-01-02",
            "levels": [{"level": "T9", "technique": "kyphoplasty"},
                       {"level": "L2", "technique": "vertebroplasty"}]})
    assert "levels[1].level" in _errors(exc)
    assert registry.counts() == before


def test_contraindicated_needs_override_reason(registry: Registry) -> None:
    registry.add_patient("alice", {"code": "A01"})
    registry.store_assessment("alice", "A01", {"levels": [{"level": "T9"}]},
                              engine_output("contraindicated", ["T9"]),
                              assessed_on=dt.date(2025, 1, 1))
    proc = {"performed_on": "2025-01-02", "levels": [{"level": "T9", "technique": "kyphoplasty"}]}
    before = registry.counts()
    with pytest.raises(InvalidInput) as exc:
        registry.add_procedure("alice", "A01", proc)
    assert "override_reason" in _errors(exc)
    assert registry.counts() == before
    stored = registry.add_procedure("alice", "A01", {**proc, "override_reason":
                                                     "infection treated; MDT agreed"})
    assert stored["override_reason"] == "infection treated; MDT agreed"


def test_schema_errors_are_all_listed(registry: Registry) -> None:
    registry.add_patient("alice", {"code": "A01"})
    with pytest.raises(InvalidInput) as exc:
        registry.add_procedure("alice", "A01", {
            "performed_on": "not a date",
            "levels": [{"level": "T13", "technique": "cementoplasty"}]})
    assert {"performed_on", "levels[0].level", "levels[0].technique"} <= set(_errors(exc))


def test_due_and_overdue(registry: Registry) -> None:
    patient_with_procedure(registry)  # procedure on 2025-01-10
    due = registry.due("alice", dt.date(2025, 1, 25))
    assert [(d["interval"], d["status"]) for d in due] == [("lt4w", "due")]
    registry.add_follow_up("alice", "P001", {"followed_on": "2025-01-24", "nrs": 3})
    assert registry.due("alice", dt.date(2025, 1, 25)) == []
    assert registry.due("alice", dt.date(2025, 3, 1)) == []
    due = registry.due("alice", dt.date(2025, 3, 1), include_missed=True)
    assert [(d["interval"], d["status"]) for d in due] == [("le6w", "missed")]
    due = registry.due("alice", dt.date(2025, 4, 5))
    assert [(d["interval"], d["status"]) for d in due] == [("lt6m", "due")]
    assert registry.due("bob", dt.date(2025, 4, 5)) == []
    registry.add_follow_up("alice", "P001", {"followed_on": "2025-03-01", "vital_status": "dead"})
    assert registry.due("alice", dt.date(2025, 6, 1)) == []


def test_timeline(registry: Registry) -> None:
    patient_with_procedure(registry)
    registry.add_complication("alice", "P001", {"type": "cement_leak", "level": "T9",
                                                "leak_site": "venous", "symptomatic": False})
    registry.add_follow_up("alice", "P001", {"followed_on": "2025-01-20", "nrs": 3})
    t = registry.timeline("alice", "P001")
    assert [e["event"] for e in t["events"]] == [
        "assessment", "procedure", "complication", "follow_up"]
    with pytest.raises(InvalidInput) as exc:
        registry.add_complication("alice", "P001", {"type": "cement_leak", "level": "L4"})
    assert "level" in _errors(exc)
