"""``follow_up_choice`` (vertebro.registry.choices): the chosen value per procedure, interval
and measure is kept by every follow-up write, equals a fresh computation, is checked by
``db verify`` and rebuilt by ``db rebuild-derived``; on SQLite and (with
VERTEBRO_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from tests._cli import run
from vertebro.errors import InvalidInput
from vertebro.registry import Registry, choices
from vertebro.registry.csvio import read_csv, write_csv
from vertebro.registry.db import set_row_scope
from vertebro.registry.models import FollowUp, FollowUpChoice
from vertebro.registry.transfer import export_records, import_records
from vertebro.registry.verify import verify

from .conftest import _new_database, populate_users
from .helpers import patient_with_procedure

PERFORMED = dt.date(2025, 1, 10)


def stored(reg: Registry) -> list[tuple[Any, ...]]:
    t = FollowUpChoice.__table__
    with reg.engine.connect() as conn:
        set_row_scope(conn, site_id=None, all_sites=True)
        return sorted(tuple(r) for r in conn.execute(select(t)))


def recomputed(reg: Registry) -> list[tuple[Any, ...]]:
    """The table as :func:`choices.rebuild` makes it from scratch (rolled back after)."""
    with reg.engine.connect() as conn:
        set_row_scope(conn, site_id=None, all_sites=True)  # (this begins the transaction)
        choices.rebuild(conn)
        rows = sorted(tuple(r) for r in conn.execute(select(FollowUpChoice.__table__)))
        conn.rollback()
    return rows


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """One store for the property's examples (each example adds its own patient)."""
    import os

    os.environ.setdefault("VERTEBRO_REGISTRY_KEY", "test-key-not-secret")
    for url in _new_database(tmp_path_factory.mktemp("choices")):
        reg = Registry.create(url)
        populate_users(reg)
        yield reg
        reg.close()


_visit = st.tuples(
    st.sampled_from([-5, -2, -1, 0, 10, 14, 18, 40, 42, 44, 91, 183, 365, 400]),
    st.booleans(),  # baseline (days > 0 are refused as a baseline by the service: see below)
    st.one_of(st.none(), st.integers(0, 10)),  # NRS
    st.one_of(st.none(), st.sampled_from([40, 60, 80])),  # KPS
)
_op = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 1), _visit),
    st.tuples(st.just("delete"), st.integers(0, 30)),
    st.tuples(st.just("update"), st.integers(0, 30), st.one_of(st.none(), st.integers(0, 10))),
)
_counter = iter(range(10**6))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_op, min_size=1, max_size=12))
def test_after_any_sequence_of_writes_the_table_equals_a_recomputation(
        store: Registry, ops: list[tuple[Any, ...]]) -> None:
    """Adds (to either of two procedures, ties of day and distance included), deletes and
    NRS corrections of follow-ups through the service layer: the kept rows are what a
    rebuild from scratch gives, after every step."""
    code = f"H{next(_counter)}"
    patient_with_procedure(store, "alice", code)
    second = store.add_procedure("alice", code, {"performed_on": "2025-06-01", "levels": [
        {"level": "T9", "technique": "vertebroplasty"}]})["procedure_id"]
    first = second - 1
    ids: list[int] = []
    for op in ops:
        if op[0] == "add":
            _, which, (day, baseline, nrs, kps) = op
            proc, on = (first, PERFORMED) if which == 0 else (second, dt.date(2025, 6, 1))
            baseline = baseline and day <= 0
            try:
                fu = store.add_follow_up("alice", code, {
                    "procedure_id": proc, "followed_on": (on + dt.timedelta(days=day)).isoformat(),
                    "baseline": baseline, "nrs": nrs, "kps": kps})
            except InvalidInput:  # a visit the service refuses (e.g. a baseline after the
                continue  # procedure, or dated before the patient's first procedure)
            ids.append(fu["follow_up_id"])
        elif op[0] == "delete" and ids:
            store.delete_follow_up("alice", ids.pop(op[1] % len(ids)))
        elif op[0] == "update" and ids:
            # a correction through the session (audited like any change of a row)
            with store.session("alice") as (s, _who):
                fu_row = s.get(FollowUp, ids[op[1] % len(ids)])
                assert fu_row is not None
                fu_row.nrs = op[2]
        assert stored(store) == recomputed(store)


def test_a_procedure_deleted_through_the_session_takes_its_rows(registry: Registry) -> None:
    """(A patient with a stored assessment cannot be deleted; a procedure can, with its
    follow-ups, audited: its derived rows go too.)"""
    patient_with_procedure(registry, "alice", "D1")
    registry.add_follow_up("alice", "D1", {"followed_on": "2025-01-08", "baseline": True,
                                           "nrs": 8})
    registry.add_follow_up("alice", "D1", {"followed_on": "2025-01-24", "nrs": 3, "kps": 70})
    rows = stored(registry)
    assert [(r[1], r[2], r[4], r[5]) for r in rows] == [
        ("lt4w", "kps", 70.0, None), ("lt4w", "nrs", 3.0, 8.0), ("preop", "nrs", 8.0, None)]
    with registry.session("admin") as (s, _who):
        from vertebro.registry.models import Procedure

        s.delete(s.get(Procedure, rows[0][0]))
    assert stored(registry) == []


def test_an_import_fills_the_rows_of_its_procedures(registry: Registry, other_db_url: str,
                                                    tmp_path: Path) -> None:
    for code in ("I1", "I2"):
        patient_with_procedure(registry, "alice", code)
        registry.add_follow_up("alice", code, {"followed_on": "2025-01-07", "baseline": True,
                                               "nrs": 9, "odi_sections": [2] * 10})
        registry.add_follow_up("alice", code, {"followed_on": "2025-01-25", "nrs": 4})
        registry.add_follow_up("alice", code, {"followed_on": "2025-01-23", "nrs": 5})
    write_csv(tmp_path / "x.csv", list(export_records(registry, "alice")))
    target = Registry.create(other_db_url)
    try:
        populate_users(target)
        import_records(target, "alice", read_csv(tmp_path / "x.csv"), chunk=2)
        rows = stored(target)
        assert rows and rows == recomputed(target)
        # the same choices as in the source (ids differ): lt4w NRS is day 13 of 15 and 13
        assert sorted(r[1:3] + r[4:] for r in rows) == sorted(
            r[1:3] + r[4:] for r in stored(registry))
    finally:
        target.close()


def test_verify_names_a_wrong_row_and_rebuild_derived_repairs_it(registry: Registry,
                                                                 db_url: str) -> None:
    patient_with_procedure(registry, "alice", "V1")
    registry.add_follow_up("alice", "V1", {"followed_on": "2025-01-24", "nrs": 3})
    assert verify(registry.engine).ok
    with registry.engine.begin() as conn:  # as the owner: past the service layer
        set_row_scope(conn, site_id=None, all_sites=True)
        conn.execute(text("UPDATE follow_up_choice SET value = 9 WHERE measure = 'nrs'"))
    problems = [p for p in verify(registry.engine).problems if p.check == "derived"]
    assert len(problems) == 1
    assert "lt4w nrs" in problems[0].where
    assert "holds 9.0" in problems[0].detail and "give 3.0" in problems[0].detail
    assert "db rebuild-derived" in problems[0].detail
    code, out, err = run("db", "verify", "--db", db_url)
    assert code == 1 and "derived: follow_up_choice procedure" in out
    code, out, err = run("db", "rebuild-derived", "--db", db_url)
    assert code == 0, err
    assert "1 rows" in out
    assert verify(registry.engine).ok


def test_the_migration_backfills_what_the_registry_keeps(registry: Registry) -> None:
    from vertebro.registry.db import downgrade, upgrade

    patient_with_procedure(registry, "alice", "M1")
    for day, nrs in ((12, 4), (16, 6), (40, 2)):
        registry.add_follow_up("alice", "M1", {
            "followed_on": (PERFORMED + dt.timedelta(days=day)).isoformat(), "nrs": nrs})
    kept = stored(registry)
    assert len(kept) == 2
    downgrade(registry.engine, "0005")
    upgrade(registry.engine)
    assert stored(registry) == kept
