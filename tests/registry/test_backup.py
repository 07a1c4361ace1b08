"""Backup and restore (issue 15, point 7): a restored store verifies clean and exports
byte-identically to the original, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests._cli import run
from vertebro.errors import InvalidInput
from vertebro.registry import Registry, backup, demo, io
from vertebro.registry.verify import verify


def _export(reg: Registry, path: Path) -> bytes:
    io.export(reg, "admin", "csv", path)
    return path.read_bytes()


def test_restore_into_empty_store_verifies_and_exports_identically(
        db_url: str, other_db_url: str, tmp_path: Path) -> None:
    reg = Registry.create(db_url)
    try:
        demo.seed(reg, 12, sites=2, seed=3, as_of=dt.date(2025, 6, 1))
        original = _export(reg, tmp_path / "a.csv")
        code, out, err = run("db", "backup", str(tmp_path / "store.bak"), "--db", db_url)
        assert code == 0, err
        assert (tmp_path / "store.bak").stat().st_mode & 0o777 == 0o600
    finally:
        reg.close()
    code, out, err = run("db", "restore", str(tmp_path / "store.bak"), "--db", other_db_url)
    assert code == 0, out + err
    assert "ok:" in out
    restored = Registry(other_db_url)
    try:
        assert verify(restored.engine).ok
        assert _export(restored, tmp_path / "b.csv") == original
    finally:
        restored.close()


def test_backup_never_overwrites_and_restore_needs_an_empty_store(
        registry: Registry, db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "exists.bak"
    target.write_text("keep me")
    with pytest.raises(InvalidInput, match="never overwrites"):
        backup.backup(db_url, target)
    assert target.read_text() == "keep me"
    backup.backup(db_url, tmp_path / "ok.bak")
    with pytest.raises(InvalidInput, match="not empty"):
        backup.restore(db_url, tmp_path / "ok.bak")
    code, _out, err = run("db", "restore", str(tmp_path / "ok.bak"), "--db", db_url)
    assert code == 2 and "not empty" in err
