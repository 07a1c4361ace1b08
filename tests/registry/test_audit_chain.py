"""The audit trail holds below the application (issue 15, "Audit bypass").

Each test names the bullet of the review it answers. Both stores: SQLite by default, the
throwaway PostgreSQL cluster under scripts/with_postgres.sh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import DBAPIError

from tests._cli import run
from vertebro.errors import RegistryError
from vertebro.registry import Registry, audit, db
from vertebro.registry.models import AuditLog, Patient
from vertebro.registry.verify import verify

from .conftest import populate_users
from .helpers import patient_with_procedure


def _fill(reg: Registry) -> None:
    patient_with_procedure(reg, "alice", "A01")
    reg.add_follow_up("alice", "A01", {"followed_on": "2025-02-01", "nrs": 3, "kps": 70})
    reg.add_complication("alice", "A01", {"type": "cement_leak", "level": "T9",
                                          "leak_site": "disc", "symptomatic": False})
    reg.update_patient("alice", "A01", {"sex": "male"})


def _sql(reg: Registry, *statements: str) -> None:
    with reg.engine.begin() as conn:
        for s in statements:
            conn.execute(text(s))


def _problems(reg: Registry) -> list[str]:
    return [str(p) for p in verify(reg.engine).problems]


def test_chain_links_every_row_with_sha256(registry: Registry) -> None:
    _fill(registry)
    with registry.engine.connect() as conn:
        rows = conn.execute(select(AuditLog).order_by(AuditLog.id)).mappings().all()
    assert len(rows) > 10
    prev = "0" * 64
    for r in rows:
        assert r["prev_hash"] == prev
        prev = r["hash"]
    # recomputed independently of audit.row_hash: SHA-256 of the canonical JSON
    r = rows[-1]
    at = r["at"]
    if at.tzinfo is not None:  # PostgreSQL gives the zone back, SQLite does not
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    blob = json.dumps({"prev": r["prev_hash"], "at": at.isoformat(timespec="microseconds"),
                       "actor": r["actor"], "action": r["action"], "table": r["table_name"],
                       "row_id": r["row_id"], "patient_id": r["patient_id"],
                       "before": r["before"], "after": r["after"]},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(blob.encode()).hexdigest() == r["hash"]
    assert verify(registry.engine).ok


def test_direct_sql_update_of_clinical_table_is_reported(registry: Registry) -> None:
    # "a direct UPDATE of a clinical table writes no audit row and nothing notices"
    _fill(registry)
    assert _problems(registry) == []
    _sql(registry, "UPDATE follow_up SET nrs = 9 WHERE nrs = 3")
    problem, derived = _problems(registry)
    assert problem.startswith("tables: follow_up id ")
    assert "nrs is 9.0, its audit history" in problem and "says 3.0" in problem
    # the derived choice was not rewritten by the direct UPDATE either: named apart
    assert derived.startswith("derived: follow_up_choice procedure ")
    assert "holds 3.0" in derived and "give 9.0" in derived


def test_direct_sql_insert_and_delete_are_reported(registry: Registry) -> None:
    _fill(registry)
    _sql(registry, "INSERT INTO site (code, name) VALUES ('Z', 'Ghost')",
         "DELETE FROM complication")
    problems = _problems(registry)
    assert len(problems) == 2
    assert any("site id" in p and "no audit history" in p for p in problems)
    assert any("complication id" in p and "deleted outside" in p for p in problems)


def test_audit_rows_refused_by_the_database(registry: Registry) -> None:
    # "PostgreSQL allows TRUNCATE audit_log": now refused on both stores where it exists
    _fill(registry)
    statements = ["UPDATE audit_log SET actor = 'eve'", "DELETE FROM audit_log",
                  "UPDATE assessment SET disposition = 'candidate'", "DELETE FROM assessment",
                  "DELETE FROM patient"]
    if registry.engine.dialect.name == "postgresql":
        statements += ["TRUNCATE audit_log", "TRUNCATE patient CASCADE", "TRUNCATE follow_up"]
    for s in statements:
        with pytest.raises(DBAPIError):
            _sql(registry, s)
    assert verify(registry.engine).ok


def _drop_trigger(reg: Registry, name: str, table: str) -> None:
    if reg.engine.dialect.name == "postgresql":
        _sql(reg, f"DROP TRIGGER {name} ON {table}")
    else:
        _sql(reg, f"DROP TRIGGER {name}")


def test_edited_or_removed_audit_row_breaks_the_chain(registry: Registry) -> None:
    _fill(registry)
    pg = registry.engine.dialect.name == "postgresql"
    trigger = ("audit_log_no_change", "audit_log") if pg else ("audit_log_no_update",
                                                               "audit_log")
    _drop_trigger(registry, *trigger)
    if not pg:
        _drop_trigger(registry, "audit_log_no_delete", "audit_log")
    _sql(registry, "UPDATE audit_log SET actor = 'eve' WHERE id = 3",
         "DELETE FROM audit_log WHERE id = 6")
    problems = _problems(registry)
    assert any(p.startswith("triggers: trigger audit_log_no_") for p in problems)
    assert "chain: audit_log id 3: its content does not match its hash: the audit row was " \
           "changed" in problems
    assert "chain: audit_log id 7: does not link to id 5: an audit row was removed, " \
           "inserted or reordered before it" in problems


def test_missing_trigger_warned_by_db_upgrade_and_current(db_url: str) -> None:
    # "a dropped trigger persists and db upgrade / db current do not notice"
    reg = Registry.create(db_url)
    try:
        _drop_trigger(reg, "assessment_immutable" if reg.engine.dialect.name == "postgresql"
                      else "assessment_no_update", "assessment")
    finally:
        reg.close()
    for cmd in ("upgrade", "current"):
        code, _out, err = run("db", cmd, "--db", db_url)
        assert code == 0
        assert "warning: trigger assessment_" in err and "is missing" in err
    code, out, _ = run("db", "verify", "--db", db_url)
    assert code == 1 and "triggers: trigger assessment_" in out


def test_db_verify_cli_clean_store(registry: Registry, db_url: str) -> None:
    _fill(registry)
    code, out, _ = run("db", "verify", "--db", db_url, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["ok"] and data["problems"] == [] and data["audit_rows"] == data["rows_checked"] \
        + 1  # the update of the patient is one more audit row than rows


def test_patient_with_assessment_cannot_be_deleted_through_a_raw_session(
        registry: Registry) -> None:
    # "deleting a patient through the session API cascades to an immutable assessment"
    _fill(registry)
    before = registry.counts()
    with pytest.raises(RegistryError, match="immutable"), \
            registry.session("alice", resolve=False) as (s, _):
        s.delete(s.scalars(select(Patient)).one())
    assert registry.counts() == before
    assert verify(registry.engine).ok


def test_deleting_a_patient_writes_one_audit_row_per_removed_row(registry: Registry) -> None:
    registry.add_patient("alice", {"code": "A02"})
    registry.add_procedure("alice", "A02", {"performed_on": "2025-01-10", "levels": [
        {"level": "T9", "technique": "vertebroplasty"}, {"level": "T10",
                                                          "technique": "kyphoplasty"}]})
    registry.add_follow_up("alice", "A02", {"followed_on": "2025-02-01", "nrs": 2})
    registry.add_complication("alice", "A02", {"type": "cement_leak", "level": "T9"})
    before = registry.counts()
    with registry.session("alice", resolve=False) as (s, _):
        s.delete(s.scalars(select(Patient).where(Patient.code == "A02")).one())
    after = registry.counts()
    removed = {"patient": 1, "procedure": 1, "procedure_level": 2, "follow_up": 1,
               "complication": 1}
    for table, n in removed.items():
        assert before[table] - after[table] == n, table
    assert after["audit_log"] - before["audit_log"] == sum(removed.values())
    with registry.engine.connect() as conn:
        deletes = conn.execute(select(AuditLog.table_name).where(AuditLog.action == "delete")
                               ).scalars().all()
    assert sorted(deletes) == sorted(t for t, n in removed.items() for _ in range(n))
    assert verify(registry.engine).ok


def test_bulk_orm_delete_is_refused(registry: Registry) -> None:
    _fill(registry)
    with pytest.raises(RegistryError, match="bypass the audit trail"), \
            registry.session("alice", resolve=False) as (s, _):
        s.execute(delete(Patient))


def test_audit_event_is_chained(registry: Registry) -> None:
    with registry.session("alice", resolve=False) as (s, _):
        audit.event(s, "alice", "sign_in", {"ip": "127.0.0.1"})
    with registry.engine.connect() as conn:
        last = conn.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(1)
                            ).mappings().one()
    assert (last["table_name"], last["action"], last["after"]) == (
        "event", "sign_in", {"ip": "127.0.0.1"})
    assert verify(registry.engine).ok
    with pytest.raises(RegistryError), registry.session("alice", resolve=False) as (s, _):
        audit.event(s, "alice", "x" * 33)


def test_concurrent_writers_keep_one_linear_chain(registry: Registry) -> None:
    for k in range(4):
        registry.add_patient("alice", {"code": f"C{k}"})
        registry.add_procedure("alice", f"C{k}", {"performed_on": "2025-01-10", "levels": [
            {"level": "T9", "technique": "vertebroplasty"}]})
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for day in range(1, 6):
                registry.add_follow_up("alice", f"C{k}", {"followed_on": f"2025-02-0{day}",
                                                          "nrs": day})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = verify(registry.engine)
    assert report.ok, report.problems
    assert registry.counts()["follow_up"] == 20


def test_bulk_import_is_chained(registry: Registry, other_db_url: str, tmp_path: Path) -> None:
    from vertebro.registry.csvio import read_csv, write_csv
    from vertebro.registry.transfer import export_records, import_records

    _fill(registry)
    write_csv(tmp_path / "a.csv", export_records(registry, "alice"))
    other = Registry.create(other_db_url)
    try:
        populate_users(other)
        import_records(other, "alice", read_csv(tmp_path / "a.csv"))
        report = verify(other.engine)
        assert report.ok, report.problems
        assert report.rows_checked > 10
    finally:
        other.close()


def test_upgrade_chains_rows_written_before_the_chain(db_url: str) -> None:
    engine = db.make_engine(db_url, migrate=False, create=True)
    db.upgrade(engine, "0001")
    with engine.begin() as conn:
        for k in range(3):
            conn.execute(text(
                "INSERT INTO audit_log (at, actor, action, table_name, row_id, after) "
                "VALUES (:at, 'admin', 'insert', 'site', :k, NULL)"),
                {"at": audit.now(), "k": k + 1})
    db.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(AuditLog).order_by(AuditLog.id)).mappings().all()
    assert [r["prev_hash"] for r in rows][1:] == [r["hash"] for r in rows][:-1]
    report = verify(engine)
    # the chain is whole; the three sites it names were never in the table
    assert [p.check for p in report.problems] == ["tables"] * 3
    engine.dispose()


def test_deleting_a_procedure_audits_its_levels_follow_ups_and_complications(
        registry: Registry) -> None:
    from vertebro.registry.models import Procedure

    _fill(registry)
    before = registry.counts()
    with registry.session("alice", resolve=False) as (s, _):
        proc = s.scalars(select(Procedure)).one()
        assert len(proc.levels) == 1  # the collection is loaded when the procedure goes
        s.delete(proc)
    after = registry.counts()
    removed = sum(before[t] - after[t] for t in ("procedure", "procedure_level", "follow_up",
                                                  "complication"))
    assert removed == 4
    assert after["audit_log"] - before["audit_log"] == removed
    assert after["follow_up"] == after["complication"] == after["procedure"] == 0
    report = verify(registry.engine)
    assert report.ok, report.problems
