"""The registry's JSON API: the service layer's answers and refusals, under the web sign-in."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from vertebro.errors import Forbidden, InvalidInput, NotFound, RegistryError
from vertebro.registry import Registry
from vertebro.registry.accounts import Accounts
from vertebro.registry.models import AuditLog
from vertebro.registry.schemas import PatientIn, parse

from ._registry_fixtures import bearer, reg_fixture, template_fixture, web_fixture  # noqa: F401
from .conftest import sign_in

API = "/api/registry"
PATIENT = {"code": "P1", "birth_year": 1950, "sex": "female", "primary_cancer": "breast",
           "hospital_number": "H-123"}
PROCEDURE = {"performed_on": "2026-01-10", "levels": [
    {"level": "T12", "technique": "kyphoplasty", "cement_volume_ml": 4.5}]}


@pytest.fixture
def alice(reg: Registry) -> dict[str, str]:
    return bearer(reg, "alice")


@pytest.fixture
def admin(reg: Registry) -> dict[str, str]:
    return bearer(reg, "admin")


def _patient_with_procedure(web: TestClient, who: dict[str, str]) -> None:
    assert web.post(f"{API}/patients", json=PATIENT, headers=who).status_code == 201
    r = web.post(f"{API}/patients/P1/procedures", json=PROCEDURE, headers=who)
    assert r.status_code == 201, r.text


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+_id\}", "1", re.sub(r"\{[^}]+\}", "X1", path))


def test_every_registry_operation_needs_sign_in(web: TestClient) -> None:
    ops = [(m, p) for p, v in web.app.openapi()["paths"].items()  # type: ignore[attr-defined]
           if p.startswith(API) for m in v]
    assert len(ops) >= 20
    for method, path in ops:
        r = web.request(method.upper(), _fill(path), json={} if method != "get" else None)
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.headers["cache-control"] == "no-store"
        assert r.json()["errors"][0]["reason"].startswith("sign in first")
    bad = {"authorization": "Bearer vt_not-a-token"}
    assert web.get(f"{API}/patients", headers=bad).status_code == 401


def test_clinician_flow(web: TestClient, alice: dict[str, str], reg: Registry) -> None:
    r = web.post(f"{API}/patients", json=PATIENT, headers=alice)
    assert r.status_code == 201, r.text
    assert r.json() == reg.get_patient("alice", "P1")
    assert r.json()["hospital_number_hashed"] is True and "hospital_number" not in r.json()
    listed = web.get(f"{API}/patients", headers=alice).json()
    assert listed["total"] == 1 and listed["patients"] == reg.list_patients("alice")
    assert web.get(f"{API}/patients", params={"q": "BREAST"}, headers=alice).json()["total"] == 1
    assert web.get(f"{API}/patients", params={"q": "lung"}, headers=alice).json()["total"] == 0

    due_before = web.get(f"{API}/due", params={"today": "2026-01-20"}, headers=alice).json()
    assert due_before == []
    r = web.post(f"{API}/patients/P1/procedures", json=PROCEDURE, headers=alice)
    assert r.status_code == 201, r.text
    proc_id = r.json()["procedure_id"]
    due = web.get(f"{API}/due", params={"today": "2026-01-20"}, headers=alice).json()
    assert [(d["patient"], d["interval"], d["status"]) for d in due] == [("P1", "lt4w", "due")]
    assert due == reg.due("alice", __import__("datetime").date(2026, 1, 20))

    r = web.post(f"{API}/patients/P1/follow-ups", headers=alice,
                 json={"followed_on": "2026-01-24", "nrs": 3, "odi_sections": [1] * 10})
    assert r.status_code == 201, r.text
    assert r.json()["interval"] == "lt4w" and r.json()["odi"] == 20.0
    due = web.get(f"{API}/due", params={"today": "2026-01-20"}, headers=alice).json()
    assert due == []  # the visit is recorded: off the worklist

    r = web.post(f"{API}/patients/P1/complications", params={"procedure_id": proc_id},
                 headers=alice, json={"type": "cement_leak", "level": "T12",
                                      "leak_site": "disc", "symptomatic": False})
    assert r.status_code == 201, r.text
    timeline = web.get(f"{API}/patients/P1/timeline", headers=alice).json()
    assert timeline == json.loads(json.dumps(reg.timeline("alice", "P1")))
    assert [e["event"] for e in timeline["events"]] == ["procedure", "complication",
                                                        "follow_up"]
    trail = web.get(f"{API}/patients/P1/audit", headers=alice).json()
    assert {row["actor"] for row in trail} == {"alice"}
    assert {row["table"] for row in trail} >= {"patient", "procedure", "follow_up",
                                                "complication"}

    r = web.patch(f"{API}/patients/P1", json={"birth_year": 1951}, headers=alice)
    assert r.status_code == 200 and r.json()["birth_year"] == 1951
    fu = timeline["events"][-1]["follow_up_id"]
    assert web.delete(f"{API}/follow-ups/{fu}", headers=alice).status_code == 204
    assert web.delete(f"{API}/follow-ups/{fu}", headers=alice).status_code == 404


def test_other_site_is_not_found(web: TestClient, alice: dict[str, str],
                                 reg: Registry) -> None:
    _patient_with_procedure(web, alice)
    bob = bearer(reg, "bob")
    before = reg.counts()
    for method, path, body in [
        ("GET", "/patients/P1", None), ("GET", "/patients/P1/timeline", None),
        ("GET", "/patients/P1/audit", None), ("PATCH", "/patients/P1", {"sex": "male"}),
        ("POST", "/patients/P1/follow-ups", {"followed_on": "2026-02-01", "nrs": 2}),
        ("POST", "/patients/P1/procedures", PROCEDURE),
    ]:
        theirs = web.request(method, API + path, json=body, headers=bob)
        nobody = web.request(method, API + path.replace("P1", "NOPE"), json=body, headers=bob)
        assert theirs.status_code == nobody.status_code == 404, (path, theirs.text)
        assert theirs.json()["errors"][0]["reason"] == \
            nobody.json()["errors"][0]["reason"].replace("NOPE", "P1")
    assert web.get(f"{API}/patients", headers=bob).json()["total"] == 0
    assert reg.counts() == before


def test_researcher_sees_pseudonyms_and_changes_nothing(
    web: TestClient, alice: dict[str, str], reg: Registry
) -> None:
    _patient_with_procedure(web, alice)
    rita = bearer(reg, "rita")
    (row,) = web.get(f"{API}/patients", headers=rita).json()["patients"]
    assert re.fullmatch(r"R[0-9A-F]{12}", row["patient"]) and "hospital_number_hashed" not in row
    t = web.get(f"{API}/patients/{row['patient']}/timeline", headers=rita).json()
    assert t["events"][0]["day"] == 0 and "date" not in t["events"][0]
    assert web.get(f"{API}/patients/{row['patient']}/audit", headers=rita).status_code == 403
    r = web.post(f"{API}/patients", json={**PATIENT, "code": "P2", "site": "A"}, headers=rita)
    assert r.status_code == 403
    assert web.get(f"{API}/export", params={"format": "csv"}, headers=rita).status_code == 403
    r = web.get(f"{API}/export", params={"format": "csv", "research": True}, headers=rita)
    assert r.status_code == 200 and "P1" not in r.text and row["patient"] in r.text


@pytest.mark.parametrize(("exc", "status"), [
    (NotFound("only an admin may do this"), 404),  # the type decides, not the words
    (Forbidden("no such thing"), 403),
    (RegistryError("no patient in the wording, still a conflict"), 409),
])
def test_errors_map_by_type(web: TestClient, alice: dict[str, str], exc: Exception,
                            status: int, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> None:
        raise exc

    monkeypatch.setattr(Registry, "list_patients", refuse)
    r = web.get(f"{API}/patients", headers=alice)
    assert r.status_code == status
    assert r.json() == {"errors": [{"field": "", "reason": str(exc)}]}
    assert r.headers["x-frame-options"] == "DENY"


def test_ambiguous_code_is_a_conflict(web: TestClient, admin: dict[str, str]) -> None:
    for site in ("A", "B"):
        assert web.post(f"{API}/patients", json={"code": "P9", "site": site},
                        headers=admin).status_code == 201
    r = web.get(f"{API}/patients/P9", headers=admin)
    assert r.status_code == 409 and "SITE/CODE" in r.json()["errors"][0]["reason"]
    r = web.get(f"{API}/patients/P9", params={"site": "B"}, headers=admin)
    assert r.status_code == 200 and r.json()["site"] == "B"


def _service_errors(model: Any, body: Any) -> list[dict[str, str]]:
    with pytest.raises(InvalidInput) as exc:
        parse(model, body)
    return [{"field": e.field, "reason": e.reason} for e in exc.value.errors]


@pytest.mark.parametrize("body", [
    {"code": "P 1"}, {"code": "P1", "birth_year": 1700}, {"code": "P1", "sex": "x"},
    {"code": "P1", "nickname": "x"}, {}, [1, 2], "P1",
])
def test_bad_patient_is_refused_as_the_cli_does(web: TestClient, alice: dict[str, str],
                                                reg: Registry, body: Any) -> None:
    before = reg.counts()
    r = web.post(f"{API}/patients", json=body, headers=alice)
    assert r.status_code == 422
    assert r.json()["errors"] == _service_errors(PatientIn, body)
    assert reg.counts() == before


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 3000),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.dictionaries(st.sampled_from(["followed_on", "nrs", "kps", "ecog", "rdq",
                                              "baseline", "odi_sections", "vital_status",
                                              "mood"]),
                            _scalars | st.sampled_from(["2026-01-24", "2025-12-01"]),
                            max_size=5))
def test_follow_up_answers_are_the_service_answers(
    web: TestClient, reg: Registry, admin: dict[str, str], body: dict[str, Any]
) -> None:
    who = admin
    if not reg.list_patients("admin"):
        _patient_with_procedure(web, who)
    before = reg.counts()
    r = web.post(f"{API}/patients/P1/follow-ups", json=body, headers=who)
    try:
        expected = reg.add_follow_up("admin", "P1", body)
    except InvalidInput as exc:
        assert r.status_code == 422, r.text
        assert r.json()["errors"] == [{"field": e.field, "reason": e.reason}
                                      for e in exc.errors][:50]
        assert reg.counts() == before
        return
    assert r.status_code == 201, r.text
    got = r.json()
    assert {k: v for k, v in got.items() if k != "follow_up_id"} == \
        {k: v for k, v in expected.items() if k != "follow_up_id"}


def test_session_cookie_needs_the_csrf_header(web: TestClient, reg: Registry) -> None:
    sign_in(web, "alice")
    token = web.headers.pop("x-csrf-token")
    before = reg.counts()
    r = web.post(f"{API}/patients", json=PATIENT)
    assert r.status_code == 403 and "CSRF" in r.json()["errors"][0]["reason"]
    assert reg.counts() == before
    r = web.post(f"{API}/patients", json=PATIENT, headers={"x-csrf-token": token})
    assert r.status_code == 201
    assert web.get(f"{API}/patients").json()["total"] == 1  # reading needs no token


def test_tokens_of_the_signed_in_user(web: TestClient, reg: Registry,
                                      alice: dict[str, str]) -> None:
    r = web.post(f"{API}/tokens", json={"label": "  nightly export "}, headers=alice)
    assert r.status_code == 201 and r.json()["label"] == "nightly export"
    new = {"authorization": f"Bearer {r.json()['token']}"}
    assert web.get(f"{API}/patients", headers=new).status_code == 200
    tokens = web.get(f"{API}/tokens", headers=new).json()
    assert [t["label"] for t in tokens] == ["tests", "nightly export"]
    assert all(set(t) == {"id", "label", "created_at", "revoked"} for t in tokens)
    bobs = web.get(f"{API}/tokens", headers=bearer(reg, "bob")).json()
    assert web.delete(f"{API}/tokens/{bobs[0]['id']}", headers=alice).status_code == 404
    assert web.delete(f"{API}/tokens/{tokens[1]['id']}", headers=alice).status_code == 204
    assert web.get(f"{API}/patients", headers=new).status_code == 401
    r = web.post(f"{API}/tokens", json={"label": ""}, headers=alice)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "label"


def test_admin_operations(web: TestClient, reg: Registry, alice: dict[str, str],
                          admin: dict[str, str]) -> None:
    assert web.post(f"{API}/admin/sites", json={"code": "C", "name": "Site C"},
                    headers=admin).status_code == 201
    r = web.post(f"{API}/admin/users", json={"username": "cara", "role": "clinician",
                                             "site": "C"}, headers=admin)
    assert r.status_code == 201 and r.json() == {"username": "cara", "role": "clinician",
                                                 "site": "C"}
    r = web.post(f"{API}/admin/users", json={"username": "cid", "role": "clinician"},
                 headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "site"
    users = web.get(f"{API}/admin/users", headers=admin).json()
    assert users == reg.list_users("admin")
    assert web.put(f"{API}/admin/users/cara/password", json={"password": "short"},
                   headers=admin).status_code == 422
    assert web.put(f"{API}/admin/users/cara/password", json={"password": "x" * 20},
                   headers=admin).status_code == 204
    assert Accounts(reg).has_password("cara")
    assert web.put(f"{API}/admin/users/nobody/password", json={"password": "x" * 20},
                   headers=admin).status_code == 404
    for path in ("/admin/users", "/admin/sign-ins"):
        assert web.get(API + path, headers=alice).status_code == 403
    assert web.post(f"{API}/admin/sites", json={"code": "D", "name": "D"},
                    headers=alice).status_code == 403
    events = web.get(f"{API}/admin/sign-ins", headers=admin).json()
    assert {"token_created", "password_set"} <= {e["event"] for e in events}
    # deactivation ends the user's API tokens at once
    assert web.post(f"{API}/admin/users/alice/deactivate", headers=admin).status_code == 204
    assert web.get(f"{API}/patients", headers=alice).status_code == 401
    assert web.post(f"{API}/admin/users/nobody/deactivate", headers=admin).status_code == 404


def test_exports(web: TestClient, reg: Registry, alice: dict[str, str]) -> None:
    _patient_with_procedure(web, alice)
    r = web.get(f"{API}/export", params={"format": "csv"}, headers=alice)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="registry.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["record_type"] for row in rows} >= {"site", "patient", "procedure"}
    assert r.headers["cache-control"] == "no-store"
    r = web.get(f"{API}/export", params={"format": "fhir"}, headers=alice)
    assert r.json()["resourceType"] == "Bundle"
    r = web.get(f"{API}/export", params={"format": "redcap"}, headers=alice)
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert any("dictionary" in n.lower() for n in names) and len(names) >= 3
    assert web.get(f"{API}/export", params={"format": "xls"}, headers=alice).status_code == 422
    with reg.session(None) as (s, _):
        exports = [a.after for a in s.scalars(select(AuditLog).where(
            AuditLog.action == "export"))]
    assert [(e["format"], e["research"]) for e in exports] == [
        ("csv", False), ("fhir", False), ("redcap", False)]
