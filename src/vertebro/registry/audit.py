"""Append-only, hash-chained audit: one row per insert, update or delete, in the same
transaction as the change.

The ORM path is audited by session hooks (so no service method can forget); bulk imports
audit through :func:`audit_inserted`, non-table events (a sign-in) through :func:`event`.
All three end in :func:`append`, the only writer of ``audit_log``: it takes the chain lock,
reads the last row's hash and chains the new rows to it, so the chain stays linear however
many writers there are (PostgreSQL: a transaction-scoped advisory lock held to commit;
SQLite: the database write lock). ``prev_hash`` is unique in the schema as a second guard.

The database refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) on ``audit_log`` and on
``assessment`` with triggers (migration 0003); :mod:`vertebro.registry.verify` checks them,
the chain and the clinical tables against their history. Hashing is SHA-256 from hashlib over
a canonical JSON form (sorted keys, UTC timestamps); no library offers a hash chain over
SQL rows, so it is written here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import JSON, Boolean, Table, insert, inspect, select, text
from sqlalchemy import delete as sa_delete
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from vertebro.errors import RegistryError

from .models import (
    Assessment,
    AuditLog,
    Base,
    Complication,
    FollowUp,
    Patient,
    Procedure,
    ProcedureLevel,
)

__all__ = [
    "GENESIS",
    "append",
    "audit_inserted",
    "event",
    "install",
    "jsonable",
    "now",
    "row_dict",
    "row_hash",
]

#: ``prev_hash`` of the first row of the chain
GENESIS: Final = "0" * 64
#: the PostgreSQL advisory lock key every audit writer takes (an arbitrary constant)
CHAIN_LOCK: Final = 0x76657274  # "vert"
EVENT_TABLE: Final = "event"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def jsonable(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return v


def row_dict(obj: Base) -> dict[str, Any]:
    return {c.key: jsonable(getattr(obj, c.key)) for c in obj.__mapper__.column_attrs}


def utc_text(at: dt.datetime) -> str:
    """A timestamp as both stores give it back: SQLite drops the zone, PostgreSQL converts it."""
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def row_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256 of the previous hash and the row's content (every column but id and hashes)."""
    content = {
        "prev": prev_hash, "at": utc_text(row["at"]), "actor": row["actor"],
        "action": row["action"], "table": row["table_name"], "row_id": row["row_id"],
        "patient_id": row["patient_id"], "before": row["before"], "after": row["after"],
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _lock_chain(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK})
    elif conn.dialect.name == "sqlite":
        # a write statement takes SQLite's write lock, held to commit (matches no row)
        conn.execute(text("UPDATE registry_meta SET value = value WHERE 0 = 1"))


def _allocate(conn: Connection, n: int) -> list[int]:
    if conn.dialect.name == "postgresql":
        return sorted(conn.execute(text(
            "SELECT nextval(pg_get_serial_sequence('audit_log', 'id')) "
            "FROM generate_series(1, :n)"), {"n": n}).scalars())
    start: int = conn.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    return list(range(start + 1, start + 1 + n))


def append(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Chain ``rows`` (audit_log columns but id and hashes) to the log, in order, and insert
    them on ``conn`` (the transaction of the change they record)."""
    if not rows:
        return
    _lock_chain(conn)
    prev = conn.execute(select(AuditLog.hash).order_by(AuditLog.id.desc()).limit(1)
                        ).scalar() or GENESIS
    out = []
    for rid, r in zip(_allocate(conn, len(rows)), rows, strict=True):
        h = row_hash(prev, r)
        out.append({**r, "id": rid, "prev_hash": prev, "hash": h})
        prev = h
    conn.execute(insert(AuditLog), out)


def event(session: Session, actor: str, action: str, detail: Mapping[str, Any] | None = None
          ) -> None:
    """Audit one event that changes no table (e.g. ``sign_in``), chained like every row.

    ``action`` is a short name (at most 32 characters); ``detail`` a JSON object, stored as
    ``after``; nothing secret belongs in it (the audit trail is readable by admins).
    """
    if not action or len(action) > 32:
        raise RegistryError(f"audit event name {action!r}: 1-32 characters")
    append(session.connection(), [{
        "at": now(), "actor": actor, "action": action, "table_name": EVENT_TABLE,
        "row_id": None, "patient_id": None, "before": None,
        "after": dict(detail) if detail is not None else None,
    }])


# --------------------------------------------------------------------------- ORM hooks
def _patient_id(session: Session, obj: Base) -> int | None:
    if isinstance(obj, Patient):
        return obj.id
    if isinstance(obj, Assessment | Procedure):
        return obj.patient_id
    if isinstance(obj, ProcedureLevel | Complication | FollowUp):
        proc = session.get(Procedure, obj.procedure_id) if obj.procedure_id else None
        return proc.patient_id if proc else None
    return None


def _cascade_deletes(session: Session) -> None:
    """Delete, with one audit row each, what the database's ``ON DELETE CASCADE`` would
    remove unaudited when a patient or a procedure is deleted through the session; refuse to
    remove a patient who has an (immutable) assessment.

    The dependants are deleted here, children first, by statement: the unit of work does not
    order mappers that have no relationship between them, and a parent deleted first would
    let the database cascade remove the children before their audit rows were taken.
    """
    doomed: list[Base] = []
    for obj in list(session.deleted):
        procs: list[Procedure] = []
        if isinstance(obj, Patient):
            if session.scalar(select(Assessment.id).where(Assessment.patient_id == obj.id)
                              .limit(1)) is not None:
                raise RegistryError(f"patient {obj.code!r} has a stored assessment, which is "
                                    "immutable: the patient cannot be deleted")
            procs = list(session.scalars(select(Procedure).where(Procedure.patient_id == obj.id)))
        elif isinstance(obj, Procedure):
            procs = [obj]
        for proc in procs:
            for model in (FollowUp, Complication, ProcedureLevel):
                doomed += session.scalars(select(model).where(model.procedure_id == proc.id))
            if proc is not obj:
                doomed.append(proc)
    if not doomed:
        return
    actor = session.info.get("actor")
    if actor is None:
        raise RegistryError("a change without an acting user cannot be audited")
    at = now()
    rows = [_row(session, o, "delete", row_dict(o), None, actor, at) for o in doomed]
    conn = session.connection()
    victims: tuple[type[FollowUp | Complication | ProcedureLevel | Procedure], ...] = (
        FollowUp, Complication, ProcedureLevel, Procedure)
    for victim in victims:
        ids = [o.id for o in doomed if isinstance(o, victim)]
        if ids:
            conn.execute(sa_delete(victim).where(victim.id.in_(ids)))
    for o in doomed:
        if o in session:
            session.expunge(o)
    append(conn, rows)


def _before_flush(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditLog):
            raise RegistryError("audit rows are append-only")
        if isinstance(obj, Assessment) and (obj in session.deleted or session.is_modified(obj)):
            raise RegistryError("a stored assessment is immutable")
    _cascade_deletes(session)


def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    actor = session.info.get("actor")
    at = now()
    rows: list[dict[str, Any]] = []
    for obj in session.new:
        if isinstance(obj, Base) and not isinstance(obj, AuditLog):
            rows.append(_row(session, obj, "insert", None, row_dict(obj), actor, at))
    for obj in session.dirty:
        if not isinstance(obj, Base) or not session.is_modified(obj, include_collections=False):
            continue
        state = inspect(obj)
        after = row_dict(obj)
        before = dict(after)
        changed = False
        for attr in obj.__mapper__.column_attrs:
            hist = state.attrs[attr.key].history
            if hist.has_changes():
                changed = True
                before[attr.key] = jsonable(hist.deleted[0]) if hist.deleted else None
        if changed:
            rows.append(_row(session, obj, "update", before, after, actor, at))
    for obj in session.deleted:
        if isinstance(obj, Base):
            rows.append(_row(session, obj, "delete", row_dict(obj), None, actor, at))
    if rows:
        if actor is None:
            raise RegistryError("a change without an acting user cannot be audited")
        append(session.connection(), rows)


def _refuse_bulk(state: ORMExecuteState) -> None:
    """An ORM ``update()``/``delete()`` statement skips the flush hooks: refuse it on an
    audited table rather than change rows without their audit rows."""
    if (state.is_update or state.is_delete) and state.bind_mapper is not None:
        cls = state.bind_mapper.class_
        if issubclass(cls, Base) and cls is not AuditLog:
            raise RegistryError(
                f"a bulk {'UPDATE' if state.is_update else 'DELETE'} of {cls.__tablename__} "
                "would bypass the audit trail: change the rows through the session")


def _row(
    session: Session,
    obj: Base,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    actor: str | None,
    at: dt.datetime,
) -> dict[str, Any]:
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "table_name": obj.__tablename__,
        "row_id": getattr(obj, "id", None),
        "patient_id": _patient_id(session, obj),
        "before": before,
        "after": after,
    }


def install(session_factory: Any) -> None:
    """Audit every flush of sessions made by ``session_factory`` (a ``sessionmaker``)."""
    from sqlalchemy import event as sa_event

    sa_event.listen(session_factory, "before_flush", _before_flush)
    sa_event.listen(session_factory, "after_flush", _after_flush)
    sa_event.listen(session_factory, "do_orm_execute", _refuse_bulk)


# --------------------------------------------------------------------------- bulk inserts
def _content_select(model: type[Base], dialect: str) -> Any:
    """``SELECT`` the audit content (row id, patient id, the row as JSON) of the rows of
    ``model`` with ids ``:ids``: the same content as the ORM hook's audit rows, built by the
    database instead of object by object in Python."""
    table: Table = model.__table__  # type: ignore[assignment]
    pairs = []
    for c in table.columns:
        if c.name == "created_at":
            expr = "CAST(:at_iso AS TEXT)" if dialect == "sqlite" else f"t.{c.name}"
        elif dialect != "sqlite":
            expr = f't."{c.name}"'
        elif isinstance(c.type, JSON):
            expr = f'json(t."{c.name}")'
        elif isinstance(c.type, Boolean):
            expr = (f'CASE WHEN t."{c.name}" IS NULL THEN NULL WHEN t."{c.name}" '
                    "THEN json('true') ELSE json('false') END")
        else:
            expr = f't."{c.name}"'
        pairs.append(f"'{c.name}', {expr}")
    build = "json_object" if dialect == "sqlite" else "json_build_object"
    if "procedure_id" in table.c and table.name != "procedure":
        patient, join = "p.patient_id", " JOIN procedure p ON p.id = t.procedure_id"
    elif table.name == "patient":
        patient, join = "t.id", ""
    elif "patient_id" in table.c:
        patient, join = "t.patient_id", ""
    else:
        patient, join = "NULL", ""
    where = ("t.id BETWEEN :lo AND :hi" if dialect == "sqlite" else "t.id = ANY(:ids)")
    sql = (f"SELECT t.id, {patient}, {build}({', '.join(pairs)}) FROM \"{table.name}\" t{join} "
           f"WHERE {where} ORDER BY t.id")
    return text(sql)


def audit_inserted(conn: Connection, model: type[Base], ids: Sequence[int], actor: str,
                   at: dt.datetime) -> None:
    """Audit rows of ``model`` just inserted in bulk on ``conn`` (ids ``ids``, one run on
    SQLite): one ``insert`` audit row each, with the row as stored."""
    if not ids:
        return
    params = {"at_iso": at.isoformat(), "lo": min(ids), "hi": max(ids), "ids": list(ids)}
    rows = []
    for rid, pid, after in conn.execute(_content_select(model, conn.dialect.name), params):
        rows.append({"at": at, "actor": actor, "action": "insert",
                     "table_name": model.__tablename__, "row_id": rid, "patient_id": pid,
                     "before": None, "after": json.loads(after) if isinstance(after, str)
                     else after})
    append(conn, rows)

