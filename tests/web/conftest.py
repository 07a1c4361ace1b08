from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from vertebro.registry import Registry
from vertebro.settings import Settings
from vertebro.web import create_app

from ..registry.conftest import db_url, populate_users  # noqa: F401 - fixtures

#: What the tests' server answers to (TestClient sends Host: testserver)
SETTINGS = Settings(allowed_hosts=("testserver",), secret_key="test-secret-not-a-secret")
PASSWORD = "correct horse battery"


def csrf_of(client: TestClient, path: str = "/login") -> str:
    """The CSRF token a page gives this client (its hidden form field)."""
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(path).text)
    assert m, f"no CSRF field on {path}"
    return m.group(1)


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(SETTINGS), base_url="https://testserver") as c:
        c.headers["x-csrf-token"] = csrf_of(c, "/")
        yield c


@pytest.fixture
def reg(db_url: str) -> Iterator[Registry]:  # noqa: F811 - the registry suite's fixture
    """A registry with sites A and B, users admin, alice (A), bob (B), rita (researcher),
    each with the password :data:`PASSWORD`."""
    from vertebro.registry.accounts import Accounts

    r = Registry.create(db_url)
    populate_users(r)
    acc = Accounts(r)
    for name in ("admin", "alice", "bob", "rita"):
        acc.set_password(name, PASSWORD)
    yield r
    r.close()


def sign_in(app_client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    r = app_client.post("/login", data={"username": username, "password": password,
                                        "csrf_token": csrf_of(app_client)},
                        follow_redirects=False)
    assert r.status_code == 303, r.text
    app_client.headers["x-csrf-token"] = csrf_of(app_client, "/account")
    return app_client


@pytest.fixture
def web(reg: Registry) -> Iterator[TestClient]:
    """A fresh app over :func:`reg` (not signed in)."""
    with TestClient(create_app(SETTINGS, registry=reg), base_url="https://testserver") as c:
        yield c
