"""Least privilege on PostgreSQL (issue 15.4): an owner role runs the migrations, the
application role runs vertebro, and the database itself refuses what the application must not
do (DDL, TRUNCATE, changing audit rows or assessments, another site's rows).

The rules are data (:mod:`vertebro.registry.roles`) checked on every store; the roles and
policies are tested on the throwaway cluster of ``scripts/with_postgres.sh``: the test creates
an owner and an application role, migrates as the owner, grants, then connects as the
application role and tries what it must not do.
"""

from __future__ import annotations

import datetime as dt
import importlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from vertebro.errors import DatabaseError
from vertebro.registry import Registry
from vertebro.registry.db import downgrade, normalise_url
from vertebro.registry.models import Patient
from vertebro.registry.roles import (
    APP_PRIVILEGES,
    RLS_TABLES,
    grant_app_role,
    grant_statements,
    schema_tables,
)
from vertebro.registry.verify import verify

from .conftest import PG_URL, populate_users
from .helpers import patient_with_procedure

POLICIES = {**importlib.import_module(
    "vertebro.registry.migrations.versions.0005_row_level_security").POLICIES,
    **importlib.import_module(
    "vertebro.registry.migrations.versions.0006_follow_up_choice").POLICIES}
CLINICAL = tuple(RLS_TABLES)
needs_pg = pytest.mark.skipif(
    not PG_URL, reason="roles and row-level security are PostgreSQL's (run under "
    "scripts/with_postgres.sh); a SQLite store is protected by its file's mode 0600")


# ----------------------------------------------------------------------------- the rules
def test_every_table_has_exactly_one_privilege_rule() -> None:
    assert sorted(APP_PRIVILEGES) == schema_tables()


def test_the_rules_leave_audit_and_assessments_insert_only_and_never_truncate() -> None:
    for table in ("audit_log", "assessment", "account_event"):
        assert set(APP_PRIVILEGES[table]) == {"SELECT", "INSERT"}, table
    for privileges in APP_PRIVILEGES.values():
        assert set(privileges) <= {"SELECT", "INSERT", "UPDATE", "DELETE"}
    sql = "\n".join(grant_statements("app", "registry"))
    for forbidden in ("TRUNCATE", "ALL PRIVILEGES", "REFERENCES", "TRIGGER", "CREATE ON",
                      "BYPASSRLS", "GRANT ALL"):
        assert forbidden not in sql.replace("REVOKE CREATE ON", ""), forbidden


def test_policies_cover_every_clinical_table() -> None:
    assert set(POLICIES) == set(RLS_TABLES)
    assert set(RLS_TABLES) == {"patient", "assessment", "procedure", "procedure_level",
                               "complication", "follow_up", "follow_up_choice"}


def test_role_names_are_quoted_and_unknown_tables_refused() -> None:
    sql = grant_statements('a"b; DROP TABLE x', "db")
    assert all('"a""b; DROP TABLE x"' in s for s in sql if " TO " in s or " FROM \"" in s)
    with pytest.raises(DatabaseError, match="no privilege rule for table"):
        grant_statements("app", "db", ["patient", "new_table"])


@settings(max_examples=60)
@given(st.text(min_size=1, max_size=63).filter(lambda n: "\x00" not in n))
def test_any_role_name_stays_one_quoted_identifier(name: str) -> None:
    quoted = '"' + name.replace('"', '""') + '"'
    for sql in grant_statements(name, "registry"):
        # the grantee closes every statement, quoted whole, so no name can end or extend it
        assert sql.endswith((f" TO {quoted}", f" FROM {quoted}", " FROM PUBLIC")), sql


def test_granting_on_sqlite_is_refused_with_the_reason(empty_registry: Registry) -> None:
    if empty_registry.engine.dialect.name != "sqlite":
        pytest.skip("the SQLite case")
    with pytest.raises(DatabaseError, match="file's permissions"):
        grant_app_role(empty_registry.engine, "app")


# ----------------------------------------------------------------------------- PostgreSQL
@dataclass
class Store:
    owner_url: str
    app_url: str
    app_role: str
    owner_role: str


@pytest.fixture
def store() -> Iterator[Store]:
    assert PG_URL
    server = make_url(normalise_url(PG_URL))
    tag = uuid.uuid4().hex[:10]
    owner, app, name = f"vt_owner_{tag}", f"vt_app_{tag}", f"vt_priv_{tag}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN'))
        conn.execute(text(f'CREATE ROLE "{app}" LOGIN'))
        conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{owner}"'))
    owner_url = server.set(username=owner, database=name).render_as_string(hide_password=False)
    app_url = server.set(username=app, database=name).render_as_string(hide_password=False)
    try:
        reg = Registry.create(owner_url)  # migrations as the owner
        grant_app_role(reg.engine, app)
        reg.close()
        yield Store(owner_url, app_url, app, owner)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{app}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
        admin.dispose()


@pytest.fixture
def app_registry(store: Store) -> Iterator[Registry]:
    reg = Registry(store.app_url)
    try:
        populate_users(reg)  # as the application role
        patient_with_procedure(reg, "alice", "PA")
        patient_with_procedure(reg, "bob", "PB")
        reg.add_follow_up("alice", "PA", {"followed_on": "2025-02-10", "nrs": 3})
        reg.add_follow_up("bob", "PB", {"followed_on": "2025-02-10", "nrs": 4})
        reg.add_complication("bob", "PB", {"type": "cement_leak", "level": "T9",
                                           "leak_site": "disc", "symptomatic": False})
        yield reg
    finally:
        reg.close()


def _site_id(engine: Engine, code: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT id FROM site WHERE code = :c"), {"c": code})
                   .scalar_one())


def _scoped(conn: object, *, site: int | None = None, all_sites: bool = False) -> None:
    from vertebro.registry.db import set_row_scope

    set_row_scope(conn, site_id=site, all_sites=all_sites)  # type: ignore[arg-type]


def _refused(engine: Engine, sql: str, *, site: int | None = None) -> str:
    """Run ``sql`` as the engine's role in its own transaction; it must be refused for lack of
    privilege (SQLSTATE 42501). Returns the server's message."""
    with engine.connect() as conn:
        _scoped(conn, site=site)
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text(sql))
        conn.rollback()
    state = getattr(caught.value.orig, "sqlstate", None)
    assert state == "42501", (sql, state, str(caught.value.orig))
    return str(caught.value.orig)


#: what the application role must not do, each refused by the database itself
FORBIDDEN = [
    "CREATE TABLE intruder (i integer)",
    "CREATE TEMP TABLE intruder (i integer)",
    "CREATE SCHEMA intruder",
    "ALTER TABLE patient ADD COLUMN name text",
    "ALTER TABLE patient DISABLE ROW LEVEL SECURITY",
    "DROP POLICY patient_by_site ON patient",
    "DROP TRIGGER audit_log_no_change ON audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
    "DROP TABLE follow_up",
    "CREATE INDEX ix_intruder ON patient (code)",
    "TRUNCATE audit_log",
    "TRUNCATE follow_up",
    "TRUNCATE patient CASCADE",
    "TRUNCATE follow_up_choice",
    "UPDATE follow_up_choice SET value = 0",
    "DROP POLICY follow_up_choice_by_site ON follow_up_choice",
    "UPDATE audit_log SET actor = 'someone else'",
    "DELETE FROM audit_log",
    "UPDATE assessment SET disposition = 'candidate'",
    "DELETE FROM assessment",
    "DELETE FROM account_event",
    "UPDATE registry_meta SET value = 'x'",
    "INSERT INTO registry_meta (key, value) VALUES ('key', 'mine')",
    "DELETE FROM alembic_version",
    "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), 1)",
    "SET ROLE postgres",
    "ALTER ROLE CURRENT_USER BYPASSRLS",
]


@needs_pg
def test_the_application_role_cannot(store: Store, app_registry: Registry) -> None:
    engine = create_engine(normalise_url(store.app_url))
    try:
        site = _site_id(engine, "A")
        for sql in FORBIDDEN:
            _refused(engine, sql, site=site)
    finally:
        engine.dispose()
    assert verify(app_registry.engine).ok  # nothing got through


@needs_pg
def test_another_sites_rows_are_invisible_and_unwritable(store: Store, app_registry: Registry
                                                         ) -> None:
    engine = create_engine(normalise_url(store.app_url))
    a, b = _site_id(engine, "A"), _site_id(engine, "B")
    try:
        with engine.connect() as conn:
            _scoped(conn, all_sites=True)
            everywhere = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                          for t in CLINICAL}
            conn.rollback()
        assert everywhere == {"patient": 2, "assessment": 2, "procedure": 2,
                              "procedure_level": 2, "complication": 1, "follow_up": 2,
                              "follow_up_choice": 2}
        with engine.connect() as conn:
            _scoped(conn, site=a)
            seen = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                    for t in CLINICAL}
            assert conn.execute(text("SELECT code FROM patient")).scalars().all() == ["PA"]
            # another site's rows: not there to update or delete, even by id
            assert conn.execute(text("UPDATE patient SET sex = 'male' WHERE site_id = :b"),
                                {"b": b}).rowcount == 0
            assert conn.execute(text(
                "DELETE FROM follow_up WHERE procedure_id IN (SELECT p.id FROM procedure p "
                "JOIN patient pa ON pa.id = p.patient_id WHERE pa.site_id = :b)"),
                {"b": b}).rowcount == 0
            conn.rollback()
        assert seen == {"patient": 1, "assessment": 1, "procedure": 1, "procedure_level": 1,
                        "complication": 0, "follow_up": 1, "follow_up_choice": 1}
        # ... nor to add rows to
        msg = _refused(engine, f"INSERT INTO patient (site_id, code, synthetic, created_at) "
                       f"VALUES ({b}, 'SNEAK', false, now())", site=a)
        assert "row-level security" in msg
        with engine.connect() as conn:
            _scoped(conn, all_sites=True)
            b_proc = conn.execute(text(
                "SELECT p.id FROM procedure p JOIN patient pa ON pa.id = p.patient_id "
                "WHERE pa.code = 'PB'")).scalar_one()
            conn.rollback()
        assert "row-level security" in _refused(engine, (
            "INSERT INTO follow_up (procedure_id, followed_on, baseline, days_since_procedure, "
            f"interval, lost_to_follow_up, created_at) VALUES ({b_proc}, '2025-03-01', false, "
            "50, 'lt6m', false, now())"), site=a)
        assert "row-level security" in _refused(engine, (
            "INSERT INTO follow_up_choice (procedure_id, interval, measure, follow_up_id, value) "
            f"VALUES ({b_proc}, 'lt6m', 'nrs', 1, 5)"), site=a)
        # a transaction that names no site sees nothing at all (default deny)
        with engine.connect() as conn:
            assert {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                    for t in CLINICAL} == dict.fromkeys(CLINICAL, 0)
            # and turning row security off is refused rather than silently filtered
            conn.execute(text("SET row_security = off"))
            with pytest.raises(DBAPIError, match="row-level security"):
                conn.execute(text("SELECT count(*) FROM patient"))
    finally:
        engine.dispose()


@needs_pg
def test_the_database_holds_a_clinician_to_their_site_behind_the_service(
    app_registry: Registry,
) -> None:
    # a query that forgot the service layer's site condition still sees one site only
    with app_registry.session("alice") as (s, who):
        assert who is not None and who.site_code == "A"
        assert [p.code for p in s.scalars(select(Patient))] == ["PA"]
    b = _site_id(app_registry.engine, "B")
    with pytest.raises(DatabaseError, match=r"row-level security.*another site"), \
            app_registry.session("alice") as (s, _):
        s.add(Patient(site_id=b, code="SNEAK", synthetic=False,
                      created_at=dt.datetime.now(dt.UTC)))
        s.flush()
    assert app_registry.counts()["patient"] == 2
    # researchers and admins read every site
    with app_registry.session("rita") as (s, _):
        assert sorted(p.code for p in s.scalars(select(Patient))) == ["PA", "PB"]


@needs_pg
def test_the_whole_service_runs_as_the_application_role(app_registry: Registry, store: Store,
                                                        tmp_path: Path) -> None:
    from vertebro.analytics import registry_audit, registry_outcomes
    from vertebro.registry import demo
    from vertebro.registry.csvio import read_csv, write_csv
    from vertebro.registry.transfer import export_records, import_records

    reg = app_registry
    summary = reg.summary("rita")
    assert summary["patients"] == 2
    assert reg.summary("alice")["patients"] == 1
    assert {d["patient"] for d in reg.due("alice", dt.date(2025, 4, 10))} == {"PA"}
    fu = reg.add_follow_up("alice", "PA", {"followed_on": "2025-03-10", "nrs": 2})
    reg.delete_follow_up("alice", fu["follow_up_id"])  # audited delete: allowed
    reg.update_patient("alice", "PA", {"sex": "male"})
    # the bulk import (COPY on PostgreSQL) under row-level security, as a clinician and as
    # an admin (the demo seed)
    write_csv(tmp_path / "a.csv", export_records(reg, "alice"))
    other = (tmp_path / "a.csv").read_text().replace(",PA,", ",PA2,")
    (tmp_path / "b.csv").write_text(other)
    counts = import_records(reg, "alice", read_csv(tmp_path / "b.csv"))
    assert counts["patient"] == 1 and counts["follow_up"] == 1
    demo.seed(reg, 30, sites=2, seed=3, as_of=dt.date(2025, 6, 1))
    assert reg.counts()["patient"] == 33
    assert registry_audit(reg, "rita").cohort.n >= 33
    assert registry_outcomes(reg, "alice").patients == 2
    report = verify(reg.engine)
    assert report.ok, report.problems
    # the owner still bypasses nothing it should not: the owner's own view is whole
    owner = create_engine(normalise_url(store.owner_url))
    with owner.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM patient")).scalar_one() == 33
    owner.dispose()


@needs_pg
def test_migrations_need_the_owner(store: Store) -> None:
    owner = Registry(store.owner_url)
    downgrade(owner.engine, "0004")
    owner.close()
    with pytest.raises(DatabaseError, match="owner role"):
        Registry.create(store.app_url)
    Registry.create(store.owner_url).close()


@needs_pg
def test_grant_refuses_roles_that_would_bypass_it(store: Store) -> None:
    engine = create_engine(normalise_url(store.owner_url))
    try:
        with pytest.raises(DatabaseError, match=r"owns .*patient"):
            grant_app_role(engine, store.owner_role)
        with pytest.raises(DatabaseError, match="superuser"):
            grant_app_role(engine, "postgres")
        with pytest.raises(DatabaseError, match="no role"):
            grant_app_role(engine, "nobody_" + uuid.uuid4().hex[:6])
        # granting again (after an upgrade) is idempotent
        assert grant_app_role(engine, store.app_role) == grant_app_role(engine, store.app_role)
    finally:
        engine.dispose()


@needs_pg
def test_verify_names_a_dropped_policy(store: Store, app_registry: Registry) -> None:

    assert verify(app_registry.engine).ok
    owner = create_engine(normalise_url(store.owner_url))
    with owner.begin() as conn:
        conn.execute(text("DROP POLICY follow_up_by_site ON follow_up"))
        conn.execute(text("ALTER TABLE complication DISABLE ROW LEVEL SECURITY"))
    owner.dispose()
    problems = verify(app_registry.engine).problems
    assert [p.where for p in problems if p.check == "policies"] == [
        "row level security on complication (disabled)", "policy follow_up_by_site on follow_up"]
    # with its policy gone (row security still on) the application role sees no follow-up
    # at all, and the replay says so rather than passing
    assert {p.where for p in problems if p.check == "tables"} == {"follow_up id 1",
                                                                  "follow_up id 2"}


@needs_pg
def test_the_cli_grants_and_prints(store: Store) -> None:
    from typer.testing import CliRunner

    from vertebro.cli import app

    res = CliRunner().invoke(app, ["db", "grant", store.app_role, "--db", store.owner_url])
    assert res.exit_code == 0, res.output
    assert "granted" in res.output
    res = CliRunner().invoke(app, ["db", "grant", store.app_role, "--print",
                                   "--db", store.owner_url])
    assert res.exit_code == 0 and 'GRANT SELECT, INSERT ON "audit_log"' in res.output
    res = CliRunner().invoke(app, ["db", "grant", "postgres", "--db", store.owner_url])
    assert res.exit_code == 2 and "superuser" in res.output
