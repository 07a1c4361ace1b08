"""The JSON API says exactly what the library says, and refuses bad input as the CLI does."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vertebro import assess
from vertebro.assess import ENGINE_VERSION, default_rulebook, validate_json
from vertebro.errors import InvalidInput

from ..assess.conftest import EXAMPLES
from ..assess.strategies import patients

RB = default_rulebook()


def _json(obj: Any) -> Any:
    """What a JSON client reads (tuples become lists, and so on)."""
    return json.loads(json.dumps(obj))


def _aospine() -> dict[str, Any]:
    return json.loads((EXAMPLES / "aospine_case.json").read_text())


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    patient=patients(p_unknown=0.3),
    guideline=st.sampled_from([None, *RB.profiles]),
)
def test_api_assess_is_the_library(
    client: TestClient, patient: dict[str, Any], guideline: str | None
) -> None:
    params = {"guideline": guideline} if guideline else {}
    r = client.post("/api/assess", content=json.dumps(patient), params=params)
    assert r.status_code == 200
    assert r.json() == _json(assess(patient, guideline=guideline))


@pytest.mark.parametrize("name", ["aospine_case.json", "ajnr_instrumented_case.json"])
def test_examples(client: TestClient, name: str) -> None:
    body = (EXAMPLES / name).read_bytes()
    r = client.post("/api/assess", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert r.json() == _json(assess(json.loads(body)))
    assert r.headers["cache-control"] == "no-store"


def _cli_errors(body: str) -> list[dict[str, str]]:
    """The errors the CLI prints for the same body (validate_json is what it calls)."""
    with pytest.raises(InvalidInput) as exc:
        validate_json(body)
    return [{"field": e.field, "reason": e.reason} for e in exc.value.errors]


def _with(path: str, value: Any) -> dict[str, Any]:
    p = _aospine()
    *parents, last = path.split(".")
    obj: Any = p
    for part in parents:
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    obj[last] = value
    return p


@pytest.mark.parametrize(
    ("patient", "field"),
    [
        (_with("pain.nrs", 11), "pain.nrs"),
        (_with("patient.kps", 55), "patient.kps"),
        (_with("levels.0.level", "T13"), "levels[0].level"),
        (_with("pain.mechnical", True), "pain.mechnical"),
    ],
    ids=["nrs-11", "kps-55", "level-T13", "misspelt-key"],
)
def test_bad_input_names_the_field(client: TestClient, patient: Any, field: str) -> None:
    body = json.dumps(patient)
    r = client.post("/api/assess", content=body)
    assert r.status_code == 422
    assert r.headers["cache-control"] == "no-store"
    errors = r.json()["errors"]
    assert field in [e["field"] for e in errors]
    assert errors == _cli_errors(body)  # same paths, same messages, same order


def test_every_error_listed_at_once(client: TestClient) -> None:
    p = _with("pain.nrs", 11)
    p["patient"]["kps"] = 55
    p["levels"][0]["level"] = "T13"
    r = client.post("/api/assess", content=json.dumps(p))
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} >= {
        "pain.nrs",
        "patient.kps",
        "levels[0].level",
    }


@pytest.mark.parametrize("body", ['{"patient": {"age": 66,}}', "", "not json"])
def test_malformed_json(client: TestClient, body: str) -> None:
    r = client.post("/api/assess", content=body)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["(json)"]
    assert r.json()["errors"] == _cli_errors(body)


def test_not_an_object(client: TestClient) -> None:
    r = client.post("/api/assess", content="[1, 2]")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "(input)"


def test_guideline_query(client: TestClient) -> None:
    r = client.post("/api/assess", content=json.dumps(_aospine()), params={"guideline": "snis2014"})
    assert r.json()["guideline"] == "snis2014"
    r = client.post("/api/assess", content=json.dumps(_aospine()), params={"guideline": "nice2009"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "guideline"


def test_rulebook(client: TestClient) -> None:
    r = client.get("/api/rulebook")
    assert r.status_code == 200
    data = r.json()
    assert data["rulebook_version"] == RB.version
    assert [x["id"] for x in data["rules"]] == [x.id for x in RB.rules]
    first = data["rules"][0]
    assert first["says"] == RB.rules[0].says
    assert first["source"]["id"] == RB.rules[0].source.id


def test_health(client: TestClient) -> None:
    assert client.get("/api/health").json() == {
        "status": "ok",
        "engine_version": ENGINE_VERSION,
        "rulebook_version": RB.version,
    }

