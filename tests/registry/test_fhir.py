"""FHIR details (issue 15, point 8): stable fullUrls, Condition.clinicalStatus, LOINC
display text as LOINC spells it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle

from vertebro.registry import Registry, io
from vertebro.registry.demo import seed

from .helpers import patient_with_procedure

# LOINC long common names (loinc.org, the code's detail page); the display must match exactly
LOINC_LONG_COMMON_NAME = {
    "72514-3": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
    "97909-6": "Oswestry disability index score ODI",
    "89243-0": "Karnofsky Performance Status score",
    "89247-1": "ECOG Performance Status score",
}


def _bundle(reg: Registry, path: Path, actor: str = "admin") -> dict[str, object]:
    io.export(reg, actor, "fhir", path)
    data = json.loads(path.read_text())
    Bundle.model_validate(data)
    return data


def _entries(data: dict[str, object]) -> dict[str, str]:
    """fullUrl -> the resource as canonical JSON."""
    return {e["fullUrl"]: json.dumps(e["resource"], sort_keys=True)  # type: ignore[index]
            for e in data["entry"]}  # type: ignore[attr-defined]


def test_full_urls_do_not_move_when_records_are_added_before_them(
        registry: Registry, tmp_path: Path) -> None:
    # "fullUrls from positions": a record added to the first patient shifted every later one
    patient_with_procedure(registry, "alice", "A01")
    seed(registry, 8, sites=2, seed=2, as_of=dt.date(2025, 6, 30))
    first = _entries(_bundle(registry, tmp_path / "1.json"))
    registry.add_follow_up("alice", "A01", {"followed_on": "2025-01-20", "nrs": 4, "kps": 70})
    registry.add_complication("alice", "A01", {"type": "cement_leak", "level": "T9",
                                               "leak_site": "disc"})
    second = _entries(_bundle(registry, tmp_path / "2.json"))
    # every resource keeps its fullUrl and its content; only the three new ones are added
    assert {u: second[u] for u in first} == first
    assert len(second) - len(first) == 3  # NRS and KPS observations, one adverse event
    assert len(set(second)) == len(second)


def test_condition_clinical_status_and_loinc_displays(registry: Registry,
                                                      tmp_path: Path) -> None:
    patient_with_procedure(registry, "alice", "A01")
    registry.add_follow_up("alice", "A01", {"followed_on": "2025-01-20", "nrs": 3, "kps": 80,
                                            "ecog": 1,
                                            "odi_sections": [1, 2, 1, 0, 1, 2, 1, 0, 1, 1]})
    data = _bundle(registry, tmp_path / "b.json")
    resources = [e["resource"] for e in data["entry"]]  # type: ignore[attr-defined]
    (condition,) = [r for r in resources if r["resourceType"] == "Condition"]
    assert condition["clinicalStatus"]["coding"] == [{
        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
        "code": "active"}]
    displays = {c["code"]: c["display"] for r in resources
                if r["resourceType"] == "Observation" for c in r["code"]["coding"]}
    assert displays == LOINC_LONG_COMMON_NAME
