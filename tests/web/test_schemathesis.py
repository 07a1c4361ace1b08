"""Schema fuzzing (schemathesis) of the full OpenAPI schema of a running server, signed in.

uvicorn serves the app over TCP on loopback; schemathesis reads ``/openapi.json`` from it and
sends generated requests to every operation, with an API token of an admin (who may do
everything, so that the most code is reached). The checks: no 5xx, status codes, content
types, headers and bodies as the schema documents them. Bounded: a few examples per
operation (``FUZZ_EXAMPLES``, default 4), well under two minutes.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from vertebro.registry import Registry
from vertebro.registry.accounts import Accounts
from vertebro.settings import Settings
from vertebro.web import create_app

from ._live import serving
from ._registry_fixtures import CHEAP

#: a name schemathesis will not guess for the deactivate and password operations
FUZZ_ADMIN = "fuzz-admin-6b1f0c2e"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_headers_conformance,
          checks.response_schema_conformance]
#: status codes seen per operation (for test_fuzzing_got_past_the_door)
ANSWERS: dict[str, set[int]] = {}


@dataclass(frozen=True)
class Live:
    base_url: str
    accounts: Accounts


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'registry.db'}"
    reg = Registry.create(url)
    reg.bootstrap(FUZZ_ADMIN, "A", "Site A")
    reg.add_user(FUZZ_ADMIN, "clin-a", "clinician", "A")
    day = dt.date(2026, 1, 5)
    for code in ("P1", "P2", "X1"):  # records for the reading operations to find
        reg.add_patient("clin-a", {"code": code, "birth_year": 1950, "sex": "male"})
        reg.add_procedure("clin-a", code, {"performed_on": day.isoformat(), "levels": [
            {"level": "L1", "technique": "vertebroplasty"}]})
        reg.add_follow_up("clin-a", code, {"followed_on": "2026-01-20", "nrs": 3})
    app = create_app(Settings(allowed_hosts=("127.0.0.1",), secret_key="fuzz"), registry=reg)
    accounts = Accounts(reg, hasher=CHEAP)
    app.state.accounts = accounts
    try:
        with serving(app) as (host, port):
            yield Live(f"http://{host}:{port}", accounts)
    finally:
        reg.close()


@pytest.fixture(scope="module")
def api_schema(live: Live) -> Any:
    return schemathesis.openapi.from_url(f"{live.base_url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: Any, live: Live) -> None:
    # a fresh token per case: a generated DELETE /tokens/{id} may revoke the previous one
    token = live.accounts.create_token(FUZZ_ADMIN, "schemathesis")
    response = case.call_and_validate(base_url=live.base_url, checks=CHECKS,
                                      headers={"Authorization": f"Bearer {token}"})
    # by the documented operation (schemathesis also tries undocumented methods on a path)
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    ANSWERS.setdefault(operation, set()).add(response.status_code)


def test_fuzzing_got_past_the_door() -> None:
    """Not a vacuous run: most operations answered 2xx to some generated request (signed
    in, valid enough), not only 401 or 422."""
    if not ANSWERS:
        pytest.skip("run with test_api_conforms_to_its_schema")
    ok = sorted(op for op, codes in ANSWERS.items() if any(200 <= c < 300 for c in codes))
    assert len(ANSWERS) >= 25
    assert len(ok) >= len(ANSWERS) // 2, (ok, ANSWERS)
