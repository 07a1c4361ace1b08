"""The chosen follow-up value per (procedure, interval, measure), kept in ``follow_up_choice``.

The outcome reports give one value per patient, measure and interval
(:data:`vertebro.analytics.SELECTION`, Sorensen-SpineJ-2019 Table 2's measures). Choosing it
at report time meant an anti-join over every follow-up and a sort per measure (3-4 s each at
1,000,000 follow-ups on PostgreSQL, issue 15.6), so the choice is derived data the registry
keeps: :func:`refresh` rewrites the rows of some procedures (``DELETE`` + ``INSERT ...
SELECT``, the rule of :func:`_is_chosen`) in the transaction of every write that adds,
changes or removes a follow-up (:func:`install`'s flush hook for the session's writes, and
the bulk import's batches call it directly); :func:`rebuild` rewrites every row (migration
0006's backfill, ``vertebro db rebuild-derived``); :func:`differences` compares the table with a
fresh computation (``vertebro db verify``).

The rows are not clinical records: they carry no audit rows and are recomputed from the
audited follow-ups; the statements here are Core statements, so the audit's flush hooks
never see them.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    except_,
    exists,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, UOWTransaction, aliased

from .intervals import SCHEDULE
from .models import FollowUp, FollowUpChoice, Procedure
from .vocab import INTERVALS

__all__ = ["MEASURES", "differences", "install", "rebuild", "rebuild_store", "refresh"]

#: measures of Sorensen-SpineJ-2019 Table 2, as follow-up columns
MEASURES: Final = ("nrs", "odi", "kps")
_TARGET_DAY: Final = {v.interval: v.target_day for v in SCHEDULE}
_TABLE: Final[Table] = FollowUpChoice.__table__  # type: ignore[assignment]
_COLUMNS: Final = ("procedure_id", "interval", "measure", "follow_up_id", "value", "baseline")
#: procedures per statement (well under SQLite's 32,766 bound parameters)
_CHUNK: Final = 5_000


def _is_chosen(row: Any, name: str) -> ColumnElement[bool]:
    """``row`` (an alias of :class:`FollowUp`) is the record chosen for measure ``name`` in its
    procedure and interval: no other record of that measure there is preferred to it.

    Baseline records are binned ``preop`` and only they are, so the interval keeps them apart;
    within ``preop`` the latest day (then the last entered) is preferred, elsewhere the day
    nearest the planned one (then the earlier, then the first entered). Written as a
    correlated ``NOT EXISTS`` on ``ix_follow_up_procedure_interval``: a partition holds one or
    two records."""
    other = aliased(FollowUp)

    def distance(f: Any) -> Any:
        return func.abs(f.days_since_procedure - case(_TARGET_DAY, value=f.interval, else_=0))

    o_day, r_day = other.days_since_procedure, row.days_since_procedure
    later = or_(o_day > r_day, and_(o_day == r_day, other.id > row.id))
    nearer = or_(distance(other) < distance(row),
                 and_(distance(other) == distance(row),
                      or_(o_day < r_day, and_(o_day == r_day, other.id < row.id))))
    preferred = case((row.baseline.is_(True), later), else_=nearer)
    return ~exists().where(
        other.procedure_id == row.procedure_id, other.interval == row.interval,
        getattr(other, name).is_not(None), other.id != row.id, preferred)


@cache
def _fresh(name: str, some: bool) -> Select[Any]:
    """The rows of ``follow_up_choice`` for measure ``name`` as the follow-ups give them now
    (``some``: of the procedures of the expanding parameter ``ids`` only; else of every
    procedure): the chosen record and its value, and beside a follow-up interval's value the
    procedure's chosen baseline value. Built once per process (a statement built per call
    kept its new aliases in SQLAlchemy's caches: an import's memory grew with its batches)."""
    f = aliased(FollowUp, name=f"f_{name}")
    value = getattr(f, name)
    chosen = select(f.procedure_id.label("procedure_id"), f.interval.label("interval"),
                    f.id.label("follow_up_id"), value.label("value")).where(
        value.is_not(None), _is_chosen(f, name))
    if some:
        chosen = chosen.where(f.procedure_id.in_(bindparam("ids", expanding=True)))
    c = chosen.cte(f"chosen_{name}")
    b = c.alias(f"base_{name}")
    return (
        select(c.c.procedure_id, c.c.interval, literal(name, String).label("measure"),
               c.c.follow_up_id, c.c.value, b.c.value.label("baseline"))
        .select_from(c)
        .outerjoin(b, and_(b.c.procedure_id == c.c.procedure_id, b.c.interval == INTERVALS[0],
                           c.c.interval != INTERVALS[0]))
    )


@cache
def _insert(name: str, some: bool) -> Any:
    return insert(_TABLE).from_select(list(_COLUMNS), _fresh(name, some))


@cache
def _delete_some() -> Any:
    return delete(_TABLE).where(_TABLE.c.procedure_id.in_(bindparam("ids", expanding=True)))


def refresh(conn: Connection, procedure_ids: Iterable[int]) -> None:
    """Rewrite the rows of ``procedure_ids`` from their follow-ups, in ``conn``'s transaction
    (a procedure without follow-ups, or deleted, is left with none)."""
    ids = sorted(set(procedure_ids))
    for i in range(0, len(ids), _CHUNK):
        part = ids[i:i + _CHUNK]
        conn.execute(_delete_some(), {"ids": part})
        for name in MEASURES:
            conn.execute(_insert(name, True), {"ids": part})


def rebuild(conn: Connection) -> int:
    """Rewrite every row (the migration's backfill and ``db rebuild-derived``); the number of
    rows written. On PostgreSQL with the reports' join settings (``reports._PG_PLAN_SETTINGS``:
    row-level security's estimates would otherwise nest loops over every follow-up)."""
    if conn.dialect.name == "postgresql":
        from .reports import _PG_PLAN_SETTINGS

        for setting in _PG_PLAN_SETTINGS:
            conn.execute(text(f"SET LOCAL {setting}"))
    conn.execute(delete(_TABLE))
    for name in MEASURES:
        conn.execute(_insert(name, False))
    return int(conn.execute(select(func.count()).select_from(_TABLE)).scalar_one())


def rebuild_store(url: str | None) -> int:
    """:func:`rebuild` in its own transaction on the store at ``url`` (``vertebro db
    rebuild-derived``), every site's rows; the number of rows written."""
    from sqlalchemy.exc import DBAPIError

    from ._dberrors import translate
    from .db import check_schema, make_engine, set_row_scope

    engine = make_engine(url, migrate=False)
    try:
        check_schema(engine)
        with engine.begin() as conn:
            set_row_scope(conn, site_id=None, all_sites=True)
            return rebuild(conn)
    except DBAPIError as exc:
        raise translate(exc, engine.url) from None
    finally:
        engine.dispose()


def differences(conn: Connection, limit: int = 20) -> list[tuple[str, str]]:
    """Where ``follow_up_choice`` differs from a fresh computation: up to ``limit`` pairs of
    (which row, what differs), e.g. (``procedure 12 lt4w nrs``, ``holds 4.0 (follow-up 31,
    baseline 8.0); the follow-ups give 3.0 (follow-up 33, baseline 8.0)``)."""
    held: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    given: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for name in MEASURES:  # one flat EXCEPT per measure and direction (SQLite nests none)
        stored = select(*(_TABLE.c[c] for c in _COLUMNS)).where(_TABLE.c.measure == name)
        for into, q in ((held, except_(stored, _fresh(name, False))),
                        (given, except_(_fresh(name, False), stored))):
            into.update((tuple(r[:3]), tuple(r[3:])) for r in conn.execute(q.limit(limit)))

    def said(v: tuple[Any, ...] | None) -> str:
        if v is None:
            return "no row"
        fu, value, base = v
        return f"{value!r} (follow-up {fu}, baseline {base!r})"

    return [(f"procedure {key[0]} {key[1]} {key[2]}",
             f"holds {said(held.get(key))}; the follow-ups give {said(given.get(key))}")
            for key in sorted(held.keys() | given.keys(), key=repr)[:limit]]


def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    """Refresh the procedures whose follow-ups this flush added, changed or removed (a
    deleted procedure's rows go with it: ``ON DELETE CASCADE``)."""
    touched: set[int] = set()
    for group in (session.new, session.dirty, session.deleted):
        for obj in group:
            if isinstance(obj, FollowUp):
                # a follow-up moved to another procedure leaves the one it was in, too
                moved = inspect(obj).attrs.procedure_id.history.deleted
                touched.update(p for p in (obj.procedure_id, *moved) if p is not None)
    touched |= {obj.id for obj in session.deleted if isinstance(obj, Procedure)}
    if touched:
        refresh(session.connection(), touched)


def install(session_factory: Any) -> None:
    """Keep ``follow_up_choice`` current in every flush of ``session_factory``'s sessions."""
    from sqlalchemy import event as sa_event

    sa_event.listen(session_factory, "after_flush", _after_flush)
