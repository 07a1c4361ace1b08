"""``vertebro db backup`` / ``db restore``: a consistent copy of the whole store, and back.

SQLite: the online backup API (``sqlite3.Connection.backup``), which copies a consistent
snapshot while other connections keep reading and writing. PostgreSQL: ``pg_dump`` in its
custom format and ``pg_restore`` in one transaction, found on ``PATH`` or in Debian's
``/usr/lib/postgresql/*/bin`` (as ``scripts/with_postgres.sh`` finds ``initdb``); the password
goes through the environment, never the command line. A restore goes only into an empty
store, and is followed by ``vertebro db verify`` (the CLI runs it).
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from vertebro.errors import InvalidInput, RegistryError

from .db import make_engine, normalise_url

__all__ = ["backup", "restore"]


def _sqlite_path(u: URL) -> Path:
    if not u.database or u.database == ":memory:":
        raise InvalidInput.field("db", "an in-memory SQLite database cannot be backed up")
    return Path(u.database)


def _pg_tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RegistryError(f"{name} not found: install the PostgreSQL client "
                            "(Debian: postgresql-client)")
    return found


def _pg_env(u: URL) -> dict[str, str]:
    env = dict(os.environ)
    for var, value in (("PGHOST", u.host), ("PGPORT", u.port), ("PGUSER", u.username),
                       ("PGPASSWORD", u.password), ("PGDATABASE", u.database)):
        if value is not None:
            env[var] = str(value)
    return env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RegistryError(f"{Path(cmd[0]).name} failed: {done.stderr.strip()}")


def backup(url: str | None, path: Path) -> None:
    """Write a backup of the store at ``url`` to ``path`` (refused if ``path`` exists)."""
    if path.exists():
        raise InvalidInput.field("path", f"{path} exists: a backup never overwrites a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    u = make_url(normalise_url(url))
    tmp = path.with_name(path.name + ".partial")
    try:
        if u.get_backend_name() == "sqlite":
            src = sqlite3.connect(_sqlite_path(u))
            dst = sqlite3.connect(tmp)
            try:
                with dst:
                    src.backup(dst)
            finally:
                dst.close()
                src.close()
        else:
            _run([_pg_tool("pg_dump"), "--format=custom", f"--file={tmp}"], _pg_env(u))
        tmp.chmod(0o600)  # a backup holds everything the store holds
        tmp.rename(path)
    finally:
        tmp.unlink(missing_ok=True)


def restore(url: str | None, path: Path) -> None:
    """Restore the backup at ``path`` into the empty store at ``url``."""
    if not path.is_file():
        raise InvalidInput.field("path", f"{path} is not a backup file")
    u = make_url(normalise_url(url))
    engine = make_engine(url, migrate=False, create=True)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise InvalidInput.field("db", "the store is not empty: restore only into an empty "
                                 "database")
    if u.get_backend_name() == "sqlite":
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        dst = sqlite3.connect(_sqlite_path(u))
        try:
            if src.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise InvalidInput.field("path", f"{path} is not an intact SQLite backup")
            with dst:
                src.backup(dst)
        except sqlite3.DatabaseError as exc:
            raise InvalidInput.field("path", f"{path} is not a SQLite backup: {exc}") from None
        finally:
            dst.close()
            src.close()
        _sqlite_path(u).chmod(0o600)
    else:
        # roles and grants belong to the target cluster: run `vertebro db grant` afterwards
        _run([_pg_tool("pg_restore"), "--single-transaction", "--exit-on-error", "--no-owner",
              "--no-privileges", f"--dbname={u.database}", str(path)], _pg_env(u))
