"""Registry fixtures of the web tests: one SQLite store per module, copied for each test.

Argon2 at its cheapest here (:data:`CHEAP`): an API token needs no password hash, and a
password set with it is verified with its own (cheap) parameters. The product keeps the
RFC 9106 defaults of :class:`vertebro.registry.accounts.Accounts`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from vertebro.registry import Registry
from vertebro.registry.accounts import Accounts
from vertebro.web import create_app

from ..registry.conftest import PG_URL, populate_users
from .conftest import PASSWORD, SETTINGS

__all__ = ["CHEAP", "bearer", "reg_fixture", "template_fixture", "web_fixture"]

#: Argon2 at its cheapest for fixtures: a token needs no password hash, and a password set
#: with it is verified with its own (cheap) parameters. The product keeps RFC 9106's.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _populated(url: str) -> Registry:
    r = Registry.create(url)
    populate_users(r)
    Accounts(r, hasher=CHEAP).set_password("alice", PASSWORD)
    return r


@pytest.fixture(scope="module", name="template")
def template_fixture(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """One SQLite store with the users, copied for each test (PostgreSQL: made per test)."""
    if PG_URL:
        return None
    path = tmp_path_factory.mktemp("template") / "registry.db"
    _populated(f"sqlite:///{path}").close()
    return path


@pytest.fixture(name="reg")
def reg_fixture(template: Path | None, tmp_path: Path, db_url: str) -> Iterator[Registry]:
    """Sites A and B, users admin, alice (A, with a password), bob (B), rita (researcher)."""
    if template is None:
        r = _populated(db_url)
    else:
        shutil.copy(template, tmp_path / "copy.db")
        r = Registry(f"sqlite:///{tmp_path / 'copy.db'}")
    yield r
    r.close()


@pytest.fixture(name="web")
def web_fixture(reg: Registry) -> Iterator[TestClient]:
    app = create_app(SETTINGS, registry=reg)
    app.state.accounts = Accounts(reg, hasher=CHEAP)
    with TestClient(app, base_url="https://testserver") as c:
        yield c


def bearer(reg: Registry, username: str) -> dict[str, str]:
    token = Accounts(reg, hasher=CHEAP).create_token(username, "tests")
    return {"authorization": f"Bearer {token}"}
