"""Fixtures: a real database per test.

SQLite (a temporary file) by default; a real PostgreSQL server when
``VERTEBRO_TEST_DATABASE_URL`` is set (each test gets a fresh database created on that server
and dropped afterwards). No mocked database anywhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from vertebro.registry import Registry
from vertebro.registry.db import normalise_url

PG_URL = os.environ.get("VERTEBRO_TEST_DATABASE_URL")


def _new_database(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    server = make_url(normalise_url(PG_URL))
    name = f"vt_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    yield from _new_database(tmp_path)


@pytest.fixture
def other_db_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "other").mkdir()
    yield from _new_database(tmp_path / "other")


def populate_users(reg: Registry) -> None:
    reg.bootstrap("admin", "A", "Site A")
    reg.add_site("admin", "B", "Site B")
    reg.add_user("admin", "alice", "clinician", "A")
    reg.add_user("admin", "bob", "clinician", "B")
    reg.add_user("admin", "rita", "researcher", None)


@pytest.fixture
def empty_registry(db_url: str) -> Iterator[Registry]:
    reg = Registry.create(db_url)
    try:
        yield reg
    finally:
        reg.close()


@pytest.fixture
def registry(empty_registry: Registry) -> Registry:
    populate_users(empty_registry)
    return empty_registry
