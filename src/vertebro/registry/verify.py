"""``vertebro db verify``: does the database still hold what its audit trail says?

Four checks, each naming what differs:

- **triggers**: the append-only and immutability triggers of migration 0003 exist and are
  enabled (a dropped or disabled trigger is how a database owner would start a quiet edit);
- **chain**: every audit row's hash matches its content and links to the row before it (an
  edited, removed, inserted or reordered audit row breaks the chain at that row);
- **tables**: replaying the audit rows gives, for every audited table, exactly the rows it
  holds now with the values it holds now (a direct SQL ``UPDATE``, ``INSERT`` or ``DELETE``
  that wrote no audit row shows up here);
- **derived**: ``follow_up_choice`` (the chosen value per procedure, interval and measure,
  :mod:`vertebro.registry.choices`) equals a fresh computation from the follow-ups; it is
  not audited, so a difference is repaired by ``vertebro db rebuild-derived``, not traced.

What it cannot see: rows removed from the *end* of the log together with the changes they
recorded, or a rewrite of the whole log by someone holding the database owner's rights.
Keeping backups elsewhere (``vertebro db backup``) and comparing the last hash with one
recorded outside the database closes that gap (docs/registry.md, threat model).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    Table,
    select,
    text,
)

from . import choices
from .audit import GENESIS, row_hash, utc_text
from .models import AuditLog, Base

__all__ = ["AUDITED", "Problem", "Report", "expected_triggers", "missing_triggers", "verify"]

#: tables whose every row change is audited, in the order they are compared
AUDITED: Final = ("site", "app_user", "patient", "assessment", "procedure", "procedure_level",
                  "complication", "follow_up")

_SQLITE_TRIGGERS: Final = {
    "audit_log_no_update": "audit_log", "audit_log_no_delete": "audit_log",
    "assessment_no_update": "assessment", "assessment_no_delete": "assessment",
}
_PG_TRIGGERS: Final = {
    "audit_log_no_change": "audit_log", "audit_log_no_truncate": "audit_log",
    "assessment_immutable": "assessment",
    **{f"{t}_no_truncate": t for t in AUDITED},
}


@dataclass(frozen=True)
class Problem:
    check: str  # policies | triggers | chain | tables | derived
    where: str  # e.g. "audit_log id 17", "follow_up id 12", "trigger audit_log_no_truncate"
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.where}: {self.detail}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    audit_rows: int = 0
    rows_checked: int = 0
    triggers: int = 0
    last_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "audit_rows": self.audit_rows, "rows_checked": self.rows_checked,
                "triggers": self.triggers, "last_hash": self.last_hash,
                "problems": [{"check": p.check, "where": p.where, "detail": p.detail}
                             for p in self.problems]}


def expected_triggers(dialect: str) -> dict[str, str]:
    """Trigger name -> table, for the schema at head."""
    return dict(_PG_TRIGGERS if dialect == "postgresql" else _SQLITE_TRIGGERS)


def missing_triggers(conn: Connection) -> list[str]:
    """Expected triggers that are absent (or, on PostgreSQL, disabled)."""
    expected = expected_triggers(conn.dialect.name)
    if conn.dialect.name == "postgresql":
        present = {name: (table, enabled != "D") for name, table, enabled in conn.execute(text(
            "SELECT t.tgname, c.relname, t.tgenabled FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"))}
    else:
        present = {name: (table, True) for name, table in conn.execute(text(
            "SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"))}
    return [f"{name} on {table}" + (" (disabled)" if name in present else "")
            for name, table in expected.items()
            if present.get(name) != (table, True)]


def verify(engine: Engine) -> Report:
    """Run the checks on the database behind ``engine`` (read only)."""
    report = Report()
    from .db import set_row_scope
    from .roles import missing_policies

    with engine.connect() as conn:
        set_row_scope(conn, site_id=None, all_sites=True)  # every site's rows are checked
        report.problems += [Problem("policies", m, "missing: the application role is no longer "
                                    "held to its site by the database")
                            for m in missing_policies(conn)]
        missing = missing_triggers(conn)
        report.triggers = len(expected_triggers(conn.dialect.name)) - len(missing)
        report.problems += [Problem("triggers", f"trigger {m}", "missing: the database no "
                                    "longer refuses this change by itself") for m in missing]
        state = _replay_chain(conn, report)
        for name in AUDITED:
            _compare_table(conn, Base.metadata.tables[name], state, report)
        report.problems += [
            Problem("derived", f"follow_up_choice {where}", f"{detail}: derived data out of "
                    f"step with the follow-ups (rebuild it: `vertebro db rebuild-derived`)")
            for where, detail in choices.differences(conn)]
    return report


# (table, row id) -> (audit id of the last change, its columns, digest) or None once deleted
_State = dict[tuple[str, int], tuple[int, frozenset[str], bytes] | None]


def _norm(coltype: Any, v: Any) -> Any:
    """A column value as one comparable JSON value, whichever way it was stored or audited
    (ORM objects, rows built by SQL, SQLite's zone-less timestamps, ints in float columns)."""
    if v is None:
        return None
    if isinstance(coltype, DateTime):
        return utc_text(v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(v))
    if isinstance(coltype, Date):
        return v.isoformat() if isinstance(v, dt.date) else str(v)
    if isinstance(coltype, Boolean):
        return bool(v)
    if isinstance(coltype, Float):
        return float(v)
    if isinstance(coltype, Integer):
        return int(v)
    if isinstance(coltype, JSON):
        return v
    return str(v)


def _digest(table: Table, keys: frozenset[str], values: dict[str, Any]) -> bytes:
    normed = {k: _norm(table.c[k].type, values.get(k)) for k in sorted(keys)}
    return hashlib.blake2b(json.dumps(normed, sort_keys=True).encode(), digest_size=16).digest()


def _stream(conn: Connection, stmt: Any) -> Iterator[Any]:
    yield from conn.execution_options(stream_results=True, yield_per=2000).execute(stmt)


def _replay_chain(conn: Connection, report: Report) -> _State:
    state: _State = {}
    tables = Base.metadata.tables
    keysets: dict[frozenset[str], frozenset[str]] = {}  # one shared key set per shape
    prev, prev_id = GENESIS, None
    for r in _stream(conn, select(AuditLog.__table__).order_by(AuditLog.id)):
        row = r._mapping
        report.audit_rows += 1
        where = f"audit_log id {row['id']}"
        if row["prev_hash"] != prev:
            report.problems.append(Problem("chain", where, (
                f"does not link to id {prev_id}" if prev_id is not None
                else "the first row does not start the chain")
                + ": an audit row was removed, inserted or reordered before it"))
        if row_hash(row["prev_hash"], row) != row["hash"]:
            report.problems.append(Problem("chain", where, "its content does not match its "
                                           "hash: the audit row was changed"))
        prev, prev_id = row["hash"], row["id"]
        name = row["table_name"]
        if name not in AUDITED or row["row_id"] is None:
            continue
        key = (name, int(row["row_id"]))
        if row["action"] == "delete":
            state[key] = None
            continue
        after = row["after"] or {}
        cols = frozenset(k for k in after if k in tables[name].c)
        cols = keysets.setdefault(cols, cols)
        state[key] = (row["id"], cols, _digest(tables[name], cols, after))
    report.last_hash = prev
    return state


def _compare_table(conn: Connection, table: Table, state: _State, report: Report) -> None:
    name = table.name
    for r in _stream(conn, select(table).order_by(table.c.id)):
        current = dict(r._mapping)
        report.rows_checked += 1
        key = (name, int(current["id"]))
        where = f"{name} id {current['id']}"
        if key not in state:
            report.problems.append(Problem("tables", where, "has no audit history: written "
                                           "outside the application"))
            continue
        last = state.pop(key)
        if last is None:
            report.problems.append(Problem("tables", where, "is present, but its audit "
                                           "history ends with its deletion"))
            continue
        audit_id, cols, digest = last
        if _digest(table, cols, current) != digest:
            report.problems.append(Problem("tables", where, _differences(
                conn, table, audit_id, cols, current)))
    for (tname, rid), last in list(state.items()):
        if tname == name:
            del state[(tname, rid)]
            if last is not None:
                report.problems.append(Problem(
                    "tables", f"{name} id {rid}", f"is missing, but its audit history (id "
                    f"{last[0]}) says it exists: deleted outside the application"))


def _differences(conn: Connection, table: Table, audit_id: int, cols: frozenset[str],
                 current: dict[str, Any]) -> str:
    after = conn.execute(select(AuditLog.after).where(AuditLog.id == audit_id)).scalar() or {}
    diffs = []
    for k in sorted(cols):
        a, c = _norm(table.c[k].type, after.get(k)), _norm(table.c[k].type, current.get(k))
        if a != c:
            diffs.append(f"{k} is {c!r}, its audit history (id {audit_id}) says {a!r}")
    return "; ".join(diffs) + ": changed outside the application"
