"""Append-only audit: one row per insert, update or delete, written in the same transaction.

The ORM path is audited by a session ``after_flush`` hook (so no service method can forget);
bulk imports write their audit rows explicitly with :func:`audit_rows`. The database refuses
UPDATE and DELETE on ``audit_log`` with triggers (see the initial migration).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, inspect
from sqlalchemy.orm import Session, UOWTransaction

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

__all__ = ["install", "jsonable", "now", "row_dict"]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def jsonable(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return v


def row_dict(obj: Base) -> dict[str, Any]:
    return {c.key: jsonable(getattr(obj, c.key)) for c in obj.__mapper__.column_attrs}


def _patient_id(session: Session, obj: Base) -> int | None:
    if isinstance(obj, Patient):
        return obj.id
    if isinstance(obj, Assessment | Procedure):
        return obj.patient_id
    if isinstance(obj, ProcedureLevel | Complication | FollowUp):
        proc = session.get(Procedure, obj.procedure_id) if obj.procedure_id else None
        return proc.patient_id if proc else None
    return None


def _before_flush(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditLog):
            raise RegistryError("audit rows are append-only")
        if isinstance(obj, Assessment) and (obj in session.deleted or session.is_modified(obj)):
            raise RegistryError("a stored assessment is immutable")


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
        session.connection().execute(insert(AuditLog), rows)


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
    from sqlalchemy import event

    event.listen(session_factory, "before_flush", _before_flush)
    event.listen(session_factory, "after_flush", _after_flush)
