"""A FHIR R4 ``Bundle`` (type ``collection``) of the registry.

Patient, Condition (the primary cancer), Procedure (one per treated level, with its technique),
AdverseEvent (complications), QuestionnaireResponse (the ODI v2.1a section answers; numbers
only, the licensed wording is never shipped) and Observations with LOINC codes (DESIGN.md
section 5): pain NRS 72514-3, ODI score 97909-6, Karnofsky 89243-0, ECOG 89247-1.

A research bundle carries pseudonyms only and shifts every date so that the patient's index
procedure falls on 2000-01-01: the day offsets from the index procedure are exact, the
calendar dates are not real.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from vertebro._atomic import atomic_open

from .transfer import ODI_COLUMNS

__all__ = ["LOINC", "bundle", "entries", "write_bundle"]

#: code and display, the display being LOINC's long common name letter for letter
LOINC: Final = {
    "nrs": ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
    "odi": ("97909-6", "Oswestry disability index score ODI"),
    "kps": ("89243-0", "Karnofsky Performance Status score"),
    "ecog": ("89247-1", "ECOG Performance Status score"),
}
RESEARCH_ANCHOR: Final = dt.date(2000, 1, 1)
_NS: Final = uuid.UUID("6f0e3c1e-7d1b-4a49-9a1c-2f3f0c9b7e11")
SYSTEM: Final = "urn:vertebro"


def _uuid(*parts: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NS, '/'.join(parts))}"


class _Keys:
    """Stable fullUrls from what identifies a record (site, patient, procedure number and the
    record's own fields), never from its position in the bundle; records that agree on all
    of them (rare: duplicates are refused on import) are numbered in export order."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, ...], int] = {}

    def __call__(self, *parts: str) -> str:
        n = self._seen.get(parts, 0)
        self._seen[parts] = n + 1
        return _uuid(*parts, str(n)) if n else _uuid(*parts)


def _meta(research: bool) -> dict[str, Any]:
    return {"tag": [{"system": f"{SYSTEM}:export", "code": "research" if research else "full"}]}


def bundle(records: Iterable[dict[str, str]], *, research: bool = False) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "meta": _meta(research),
            "entry": list(entries(records, research=research))}


def entries(records: Iterable[dict[str, str]], *, research: bool = False
            ) -> Iterator[dict[str, Any]]:
    """The bundle's entries, one patient's records at a time (what a patient's records refer
    to is forgotten at the next patient, so memory does not grow with the registry)."""
    procedures: dict[tuple[str, str, str], dict[str, str]] = {}
    key = _Keys()
    for rec in records:
        rtype = rec["record_type"]
        if rtype == "site":
            continue
        if rtype == "patient":
            procedures, key = {}, _Keys()
        site, code = rec["site"], rec["patient"]
        pref = _uuid("patient", site, code)

        def date(r: dict[str, str]) -> str:
            if research:
                return (RESEARCH_ANCHOR + dt.timedelta(days=int(r["day"] or 0))).isoformat()
            return r["date"]

        if rtype == "patient":
            patient: dict[str, Any] = {
                "resourceType": "Patient",
                "identifier": [{"system": f"{SYSTEM}:site:{site}:patient", "value": code}],
                "meta": {"tag": [{"system": f"{SYSTEM}:tag", "code": "synthetic"}]}
                if rec.get("synthetic") == "true" else {},
            }
            if not patient["meta"]:
                del patient["meta"]
            if rec.get("sex") in ("male", "female", "other", "unknown"):
                patient["gender"] = rec["sex"]
            if rec.get("birth_year") and not research:
                patient["birthDate"] = rec["birth_year"]
            yield {"fullUrl": pref, "resource": patient}
            if rec.get("primary_cancer"):
                yield ({"fullUrl": _uuid("condition", site, code), "resource": {
                    "resourceType": "Condition",
                    "category": [{"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item"}]}],
                    # the registry holds patients treated for a cancer-related fracture, so
                    # the cancer is active when the record is made
                    "clinicalStatus": {"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active"}]},
                    "code": {"text": f"primary cancer: {rec['primary_cancer']}"},
                    "subject": {"reference": pref},
                }})
        elif rtype == "procedure":
            procedures[(site, code, rec["procedure"])] = rec
        elif rtype == "level":
            proc = procedures[(site, code, rec["procedure"])]
            technique = rec["technique"]
            resource: dict[str, Any] = {
                "resourceType": "Procedure",
                "identifier": [{"system": f"{SYSTEM}:procedure",
                                "value": f"{rec['procedure']}:{rec['level']}"}],
                "status": "completed",
                "code": {"text": "percutaneous vertebroplasty" if technique == "vertebroplasty"
                         else "balloon kyphoplasty"},
                "subject": {"reference": pref},
                "performedDateTime": date(proc),
                "bodySite": [{"text": f"vertebra {rec['level']}"}],
            }
            if rec.get("cement_type"):  # a code of vocab.CEMENT_TYPES
                resource["usedCode"] = [{"coding": [{"system": f"{SYSTEM}:cement-type",
                                                     "code": rec["cement_type"]}]}]
            notes = [f"{k}: {rec[k]}" for k in ("approach", "needle", "cement_type",
                                                "cement_volume_ml", "balloon_used")
                     if rec.get(k)]
            if notes and not research:  # no text in research data, not even generated text
                resource["note"] = [{"text": "; ".join(notes)}]
            yield {"fullUrl": _uuid("procedure", site, code, rec["procedure"], rec["level"]),
                   "resource": resource}
        elif rtype == "complication":
            proc = procedures[(site, code, rec["procedure"])]
            event: dict[str, Any] = {
                "resourceType": "AdverseEvent",
                "actuality": "actual",
                "event": {"text": rec["complication_type"]
                          + (f" ({rec['leak_site']})" if rec.get("leak_site") else "")},
                "subject": {"reference": pref},
                "date": date(proc),
            }
            if rec.get("severity_grade"):
                event["severity"] = {"text": f"grade {rec['severity_grade']}"}
            yield {"fullUrl": key("complication", site, code, rec["procedure"],
                                  *(rec.get(k) or "" for k in (
                                      "complication_type", "level", "leak_site"))),
                   "resource": event}
        elif rtype == "follow_up":
            fkey = key("follow-up", site, code, rec["procedure"], rec.get("date") or "",
                       rec.get("day") or "", rec.get("baseline") or "")
            yield from _follow_up(rec, pref, date(rec), fkey, research)


def _follow_up(rec: dict[str, str], pref: str, when: str, fkey: str, research: bool
               ) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    qr_ref = None
    if any(rec.get(c) for c in ODI_COLUMNS):
        qr_ref = _uuid("odi-response", fkey)
        out.append({"fullUrl": qr_ref, "resource": {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": f"{SYSTEM}:questionnaire:odi-{rec.get('odi_version') or '2.1a'}",
            "status": "completed",
            "subject": {"reference": pref},
            "authored": when,
            "item": [{"linkId": c.replace("_", "-"),
                      **({"answer": [{"valueInteger": int(rec[c])}]} if rec.get(c) else {})}
                     for c in ODI_COLUMNS],
        }})
    for measure in ("nrs", "odi", "kps", "ecog"):
        value = rec.get(measure)
        if not value:
            continue
        loinc, display = LOINC[measure]
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "survey"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc,
                                 "display": display}]},
            "subject": {"reference": pref},
            "effectiveDateTime": when,
        }
        if measure in ("kps", "ecog"):
            obs["valueInteger"] = int(value)
        else:
            obs["valueQuantity"] = {"value": float(value), "unit": "%" if measure == "odi"
                                    else "{score}", "system": "http://unitsofmeasure.org",
                                    "code": "%" if measure == "odi" else "{score}"}
        if measure == "odi" and qr_ref:
            obs["derivedFrom"] = [{"reference": qr_ref}]
        if rec.get("interval") and not research:
            obs["note"] = [{"text": f"interval {rec['interval']}"}]
        out.append({"fullUrl": _uuid("obs", measure, fkey), "resource": obs})
    return out


def write_bundle(path: Path, records: Iterable[dict[str, str]], *, research: bool = False
                 ) -> int:
    """Write the bundle entry by entry, whole or not at all; returns the number of entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    head = json.dumps({"resourceType": "Bundle", "type": "collection",
                       "meta": _meta(research)}, ensure_ascii=False)
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(head[:-1] + ', "entry": [')
        for entry in entries(records, research=research):
            fh.write(("\n" if n == 0 else ",\n") + json.dumps(entry, ensure_ascii=False))
            n += 1
        fh.write("\n]}\n")
    return n
