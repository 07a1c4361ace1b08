"""REDCap and FHIR exports: consistency, validity and the REDCap round trip."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from vertebro.errors import InvalidInput
from vertebro.registry import Registry, io
from vertebro.registry.demo import seed
from vertebro.registry.redcap import EVENTS, FORMS

from .conftest import populate_users
from .helpers import patient_with_procedure

AS_OF = dt.date(2025, 6, 30)


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def cohort(registry: Registry) -> Registry:
    seed(registry, 30, sites=2, seed=5, as_of=AS_OF)
    patient_with_procedure(registry, "alice", "A01")
    registry.add_follow_up("alice", "A01", {"followed_on": "2025-01-20", "nrs": 3, "kps": 80,
                                            "ecog": 1,
                                            "odi_sections": [1, 2, 1, 0, 1, 2, 1, 0, 1, None]})
    registry.add_complication("alice", "A01", {"type": "cement_leak", "level": "T9",
                                               "leak_site": "pulmonary", "symptomatic": True,
                                               "severity_grade": 3})
    return registry


def test_redcap_dictionary_and_records_agree(cohort: Registry, tmp_path: Path) -> None:
    io.export(cohort, "admin", "redcap", tmp_path / "rc")
    dictionary = _csv(tmp_path / "rc" / "data_dictionary.csv")
    records = _csv(tmp_path / "rc" / "records.csv")
    mapping = _csv(tmp_path / "rc" / "instrument_event_mapping.csv")
    events = {e["unique_event_name"] for e in _csv(tmp_path / "rc" / "events.csv")}
    fields = {d["Variable / Field Name"]: d for d in dictionary}
    assert dictionary[0]["Variable / Field Name"] == "record_id"
    forms = {d["Form Name"] for d in dictionary}
    allowed = {(m["unique_event_name"], m["form"]) for m in mapping}
    assert {m["unique_event_name"] for m in mapping} <= events == set(EVENTS.values())
    system = {"record_id", "redcap_event_name", "redcap_repeat_instrument",
              "redcap_repeat_instance"}
    for column in records[0]:
        assert column in system or column in fields or column.removesuffix("_complete") in forms
    assert len(records) > 100
    for n, row in enumerate(records, 2):
        form = row["redcap_repeat_instrument"] or "patient"
        assert (row["redcap_event_name"], form) in allowed, n
        for name, value in row.items():
            if not value or name in system or name.endswith("_complete"):
                continue
            d = fields[name]
            assert d["Form Name"] == form, (n, name)
            if d["Field Type"] == "dropdown":
                codes = {c.split(",")[0].strip()
                         for c in d["Choices, Calculations, OR Slider Labels"].split("|")}
                assert value in codes, (n, name, value)
            elif d["Field Type"] == "yesno":
                assert value in ("0", "1")
            v = d["Text Validation Type OR Show Slider Number"]
            if v == "integer":
                int(value)
            elif v == "number":
                float(value)
            elif v == "date_ymd":
                dt.date.fromisoformat(value)
            if d["Text Validation Min"] and v in ("integer", "number"):
                assert float(value) >= float(d["Text Validation Min"]), (n, name)
            if d["Text Validation Max"] and v in ("integer", "number"):
                assert float(value) <= float(d["Text Validation Max"]), (n, name)
    follow_up_events = {r["redcap_event_name"] for r in records
                        if r["redcap_repeat_instrument"] == "follow_up"}
    assert len(follow_up_events) >= 4
    assert set(FORMS) == forms


def test_redcap_round_trip(cohort: Registry, other_db_url: str, tmp_path: Path) -> None:
    io.export(cohort, "admin", "redcap", tmp_path / "one")
    io.export(cohort, "admin", "csv", tmp_path / "one.csv")
    other = Registry.create(other_db_url)
    try:
        populate_users(other)
        counts = io.import_(other, "admin", "redcap", tmp_path / "one")
        assert counts["patient"] == 31
        io.export(other, "admin", "redcap", tmp_path / "two")
        io.export(other, "admin", "csv", tmp_path / "two.csv")
    finally:
        other.close()
    assert (tmp_path / "one" / "records.csv").read_bytes() == \
        (tmp_path / "two" / "records.csv").read_bytes()
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()


def test_redcap_import_errors_name_redcap_fields(cohort: Registry, tmp_path: Path) -> None:
    io.export(cohort, "alice", "redcap", tmp_path / "rc")
    path = tmp_path / "rc" / "records.csv"
    rows = _csv(path)
    for r in rows:
        r["record_id"] = r["record_id"].replace("A01", "A02")
        if r["patient_code"] == "A01":
            r["patient_code"] = "A02"
    fu = next(r for r in rows if r["redcap_repeat_instrument"] == "follow_up")
    fu["fu_nrs"] = "15"
    fu["fu_odi_2"] = "9"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    before = cohort.counts()
    with pytest.raises(InvalidInput) as exc:
        io.import_(cohort, "alice", "redcap", tmp_path / "rc")
    row = f"row {2 + rows.index(fu)}"
    assert {(row, "fu_nrs"), (row, "fu_odi_2")} <= {(e.where, e.field) for e in exc.value.errors}
    assert cohort.counts() == before


def test_fhir_bundle_validates(cohort: Registry, tmp_path: Path) -> None:
    io.export(cohort, "admin", "fhir", tmp_path / "b.json")
    data = json.loads((tmp_path / "b.json").read_text())
    bundle = Bundle.model_validate(data)
    assert bundle.type == "collection"
    kinds = {e["resource"]["resourceType"] for e in data["entry"]}
    assert {"Patient", "Condition", "Procedure", "Observation", "QuestionnaireResponse",
            "AdverseEvent"} <= kinds
    codes = {c["code"] for e in data["entry"] if e["resource"]["resourceType"] == "Observation"
             for c in e["resource"]["code"]["coding"]}
    assert {"72514-3", "97909-6", "89243-0", "89247-1"} <= codes
    urls = [e["fullUrl"] for e in data["entry"]]
    assert len(urls) == len(set(urls))
    refs = {e["resource"]["subject"]["reference"] for e in data["entry"]
            if "subject" in e["resource"]}
    assert refs <= set(urls)


def test_fhir_research_bundle(cohort: Registry, tmp_path: Path) -> None:
    io.export(cohort, "rita", "fhir", tmp_path / "r.json", research=True)
    text = (tmp_path / "r.json").read_text()
    Bundle.model_validate(json.loads(text))
    assert '"A01"' not in text and "birthDate" not in text
    # a date value starts right after a quote; resource UUIDs derive from the random registry
    # key and may hold "2025-" by chance, so a bare substring test would be flaky
    assert re.search(r'"2025-\d\d-\d\d', text) is None
