"""Concurrent writers (issue 15.5): uniqueness is the database's, and a conflict or a lock held
too long is one clear error, never a traceback, a duplicate or a hang.

Runs on SQLite (a file, WAL) and, under ``scripts/with_postgres.sh``, on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from vertebro.errors import ConcurrencyError, InvalidInput
from vertebro.registry import Registry
from vertebro.registry.db import normalise_url, sqlite_path

from .conftest import populate_users

WRITERS = 12


def _race(work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(0..11)`` in 12 threads released together; each result or exception."""
    gate = threading.Barrier(WRITERS)
    out: list[Any] = [None] * WRITERS

    def run(i: int) -> None:
        gate.wait()
        try:
            out[i] = work(i)
        except BaseException as exc:  # collected and checked below
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


def _duplicate_of(exc: BaseException, field: str) -> bool:
    return isinstance(exc, InvalidInput) and [e.field for e in exc.errors] == [field]


def _patients(reg: Registry) -> int:
    return reg.counts()["patient"]


def test_twelve_writers_one_hospital_number_make_one_patient(registry: Registry) -> None:
    audit_rows = registry.counts()["audit_log"]
    out = _race(lambda i: registry.add_patient(
        "alice", {"code": f"C{i:02d}", "hospital_number": "MRN-0042"}))
    made = [r for r in out if isinstance(r, dict)]
    refused = [r for r in out if not isinstance(r, dict)]
    assert len(made) == 1, out
    assert _patients(registry) == 1
    assert len(refused) == WRITERS - 1
    for exc in refused:
        assert _duplicate_of(exc, "hospital_number"), repr(exc)
        assert "already registered at this site" in exc.errors[0].reason
        assert "\n" not in str(exc)
    # the one stored is the one reported as made, and the audit trail has it once
    assert registry.list_patients("alice")[0]["patient"] == made[0]["patient"]
    assert registry.counts()["audit_log"] == audit_rows + 1


def test_twelve_writers_one_patient_code_make_one_patient(registry: Registry) -> None:
    out = _race(lambda i: registry.add_patient("alice", {"code": "SAME"}))
    assert sum(isinstance(r, dict) for r in out) == 1, out
    assert _patients(registry) == 1
    assert all(_duplicate_of(r, "code") for r in out if not isinstance(r, dict))


def test_twelve_admins_one_site_code_make_one_site(registry: Registry) -> None:
    before = registry.counts()["site"]
    out = _race(lambda i: registry.add_site("admin", "NEW", f"New site {i}"))
    assert sum(isinstance(r, dict) for r in out) == 1, out
    assert registry.counts()["site"] == before + 1
    assert all(_duplicate_of(r, "code") for r in out if not isinstance(r, dict))


def test_the_same_hospital_number_at_another_site_is_another_patient(registry: Registry
                                                                      ) -> None:
    out = _race(lambda i: registry.add_patient(
        "alice" if i % 2 else "bob", {"code": f"C{i:02d}", "hospital_number": "MRN-7"}))
    assert sum(isinstance(r, dict) for r in out) == 2, out
    assert {p["site"] for p in registry.list_patients("admin")} == {"A", "B"}


def _add_in_child(url: str, i: int, gate: Any, results: Any) -> None:
    reg = Registry(url)
    try:
        gate.wait()
        try:
            reg.add_patient("alice", {"code": f"P{i:02d}", "hospital_number": "MRN-99"})
            results.put((i, "made", ""))
        except InvalidInput as exc:
            results.put((i, "refused", exc.errors[0].field))
        except BaseException as exc:
            results.put((i, type(exc).__name__, str(exc)))
    finally:
        reg.close()


def test_twelve_processes_one_hospital_number_make_one_patient(db_url: str) -> None:
    reg = Registry.create(db_url)
    populate_users(reg)
    reg.close()
    ctx = multiprocessing.get_context("fork")
    gate, results = ctx.Barrier(WRITERS), ctx.Queue()
    procs = [ctx.Process(target=_add_in_child, args=(db_url, i, gate, results))
             for i in range(WRITERS)]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(kind for _, kind, _ in got) == ["made"] + ["refused"] * (WRITERS - 1), got
    assert {field for _, kind, field in got if kind == "refused"} == {"hospital_number"}
    reg = Registry(db_url)
    try:
        assert _patients(reg) == 1
    finally:
        reg.close()


# ----------------------------------------------------------------------------- lock timeouts
def _hold_write_lock(url: str) -> Callable[[], None]:
    """Take the store's write lock on another connection; returns the release."""
    path = sqlite_path(url)
    if path is not None:
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")

        def release_sqlite() -> None:
            raw.execute("ROLLBACK")
            raw.close()

        return release_sqlite
    engine = create_engine(normalise_url(url))
    conn = engine.connect()
    conn.execute(text("LOCK TABLE patient IN EXCLUSIVE MODE"))

    def release_pg() -> None:
        conn.rollback()
        conn.close()
        engine.dispose()

    return release_pg


def test_a_lock_held_past_the_timeout_is_one_clear_error(
    registry: Registry, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERTEBRO_DB_BUSY_TIMEOUT", "0.5")
    impatient = Registry(db_url)  # reads the timeout when its engine is made
    release = _hold_write_lock(db_url)
    try:
        t0 = time.monotonic()
        with pytest.raises(ConcurrencyError) as caught:
            impatient.add_patient("alice", {"code": "LATE"})
        waited = time.monotonic() - t0
    finally:
        release()
    message = str(caught.value)
    assert "busy" in message and "nothing was written" in message and "\n" not in message
    assert 0.4 <= waited < 20, waited  # it waited for the lock, then gave up
    # once the lock is released the same operation goes through
    impatient.add_patient("alice", {"code": "LATE"})
    impatient.close()
    assert _patients(registry) == 1


def test_the_cli_reports_a_held_lock_in_one_line(
    registry: Registry, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from vertebro.cli import app

    monkeypatch.setenv("VERTEBRO_DB_BUSY_TIMEOUT", "0.3")
    monkeypatch.setenv("COLUMNS", "200")
    release = _hold_write_lock(db_url)
    try:
        res = CliRunner().invoke(app, ["registry", "add-patient", "LATE", "--as", "alice",
                                       "--db", db_url])
    finally:
        release()
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "busy" in lines[0], res.output
    assert "Traceback" not in res.output
    assert _patients(registry) == 0
