"""A researcher signed in to the JSON API is sent what the research export holds, nothing
more (DESIGN.md section 10): no birth year, no hospital-number flag, no dates, no free text;
the patient fields are the research export's patient record."""

from __future__ import annotations

import csv
import io
import json

from fastapi.testclient import TestClient

from vertebro.registry import Registry

from ._registry_fixtures import bearer, reg_fixture, template_fixture, web_fixture  # noqa: F401

API = "/api/registry"


def test_researcher_api_answers_equal_the_research_export(web: TestClient,
                                                          reg: Registry) -> None:
    alice = bearer(reg, "alice")
    r = web.post(f"{API}/patients", headers=alice, json={
        "code": "P1", "birth_year": 1950, "sex": "female", "primary_cancer": "breast",
        "hospital_number": "H-123"})
    assert r.status_code == 201 and r.json()["birth_year"] == 1950  # the clinician's view
    r = web.post(f"{API}/patients/P1/procedures", headers=alice, json={
        "performed_on": "2026-01-10", "override_reason": "Prof X said so",
        "biopsy_result": "adenocarcinoma, Mr Smith", "levels": [
            {"level": "T12", "technique": "kyphoplasty", "cement_volume_ml": 4.5}]})
    assert r.status_code == 201, r.text
    r = web.post(f"{API}/patients/P1/follow-ups", headers=alice,
                 json={"followed_on": "2026-01-25", "nrs": 3})
    assert r.status_code == 201, r.text
    rita = bearer(reg, "rita")
    export = web.get(f"{API}/export", params={"format": "csv", "research": True},
                     headers=rita)
    assert export.status_code == 200
    records = list(csv.DictReader(io.StringIO(export.text)))
    patient = {k: v for k, v in next(r for r in records if r["record_type"] == "patient")
               .items() if v and k != "record_type"}
    listed = web.get(f"{API}/patients", headers=rita).json()["patients"]
    shown = web.get(f"{API}/patients/{patient['patient']}", headers=rita).json()
    timeline = web.get(f"{API}/patients/{patient['patient']}/timeline", headers=rita).json()
    for answer in (listed[0], shown, {k: v for k, v in timeline.items() if k != "events"}):
        # the CSV writes booleans as true/false
        as_text = {k: str(v).lower() if isinstance(v, bool) else str(v)
                   for k, v in answer.items() if v is not None}
        assert as_text == patient, answer  # exactly the export's patient fields
    flat = json.dumps([listed, shown, timeline])
    for key in ("birth_year", "hospital_number_hashed", "override_reason", "biopsy_result",
                "date", "followed_on", "performed_on"):
        assert f'"{key}"' not in flat, key
    for secret in ("1950", "H-123", "Prof X", "Mr Smith", "2026-01-"):
        assert secret not in flat, secret
    follow_up = next(e for e in timeline["events"] if e["event"] == "follow_up")
    exported = next(r for r in records if r["record_type"] == "follow_up")
    assert (str(follow_up["day"]), follow_up["interval"], str(follow_up["nrs"])) == (
        exported["day"], exported["interval"], exported["nrs"])
