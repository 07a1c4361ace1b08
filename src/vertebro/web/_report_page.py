"""The report page, fresh or saved, and its "save to the registry" box.

One renderer for the report of a form just assessed (``/assess``) and of an assessment stored
in the registry (``/assessments/{id}``): both lay out :func:`vertebro.assess.report_view` of an
engine output; what differs is the header (:class:`ReportMeta`) and the toolbar (a saved one
says where it is stored; a fresh one offers to store it).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse

from vertebro.assess import ReportView, default_rulebook

from ._auth import Principal, registry
from ._pdf import ReportMeta
from ._templates import templates

__all__ = ["WRITERS", "SaveBox", "cannot_save", "case_of", "guideline_text", "render_report",
           "save_box", "unsaved_meta"]


def case_of(data: dict[str, Any]) -> dict[str, Any]:
    """Who the report is about, from the input (the engine output does not repeat it)."""
    patient = data.get("patient") or {}
    bits = []
    if patient.get("age") is not None:
        bits.append(f"{patient['age']} years")
    if patient.get("sex"):
        bits.append(str(patient["sex"]))
    if patient.get("primary_cancer"):
        bits.append(f"primary: {patient['primary_cancer']}")
    return {"summary": ", ".join(bits), "note": data.get("note")}


def guideline_text(guideline: str) -> str:
    profile = default_rulebook().profiles.get(guideline)
    return f"{guideline}: {profile.name}" if profile else guideline


def unsaved_meta(user: Principal | None, guideline: str) -> ReportMeta:
    return ReportMeta(
        patient="unsaved",
        date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        author=user.username if user else "not signed in",
        guideline=guideline_text(guideline),
    )


#: roles that store records (the registry's rule; a researcher only reads)
WRITERS = ("clinician", "admin")


def cannot_save(user: Principal | None) -> str:
    """Why ``user`` cannot store an assessment, or "" when they can."""
    if user is None:
        return ("Sign in to save this assessment to a registry patient; until then nothing "
                "is stored.")
    if user.role not in WRITERS:
        return (f"A {user.role} reads the registry and does not store assessments; nothing "
                "is stored.")
    return ""


@dataclass(frozen=True)
class SaveBox:
    """What the report offers for storing it: a form for a user who may write records,
    otherwise a sentence saying why not."""

    can_save: bool
    reason: str = ""  # why not, when ``can_save`` is false
    patients: list[str] = field(default_factory=list)  # the user's patients (datalist)
    patient: str = ""  # the value entered (or the patient the form was opened for)
    assessed_on: str = ""
    error: str = ""  # beside the patient field
    date_error: str = ""  # beside the date field
    confirm: bool = False  # ask to confirm a patient whose record contradicts the answers


def save_box(
    request: Request, user: Principal | None, *, patient: str = "", assessed_on: str = "",
    error: str = "", date_error: str = "", confirm: bool = False,
) -> SaveBox:
    if (why := cannot_save(user)) or user is None:
        return SaveBox(False, why)
    listed = registry(request).list_patients(user.username)
    several_sites = len({p["site"] for p in listed}) > 1
    refs = [f"{p['site']}/{p['patient']}" if several_sites else p["patient"] for p in listed]
    return SaveBox(True, patients=refs, patient=patient,
                   assessed_on=assessed_on or dt.date.today().isoformat(),
                   error=error, date_error=date_error, confirm=confirm)


def timeline_url(site: str, patient: str) -> str:
    """The patient's timeline among the registry pages (``/registry/patients/{site}/{code}``,
    the code being the pseudonym for a researcher)."""
    return f"/registry/patients/{quote(site, safe='')}/{quote(patient, safe='')}"


def render_report(
    request: Request,
    view: ReportView,
    data: dict[str, Any],
    guideline: str,
    meta: ReportMeta,
    *,
    save: SaveBox | None = None,
    saved: dict[str, Any] | None = None,
    user: Principal | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The report page. ``saved`` is the stored assessment (``Registry.get_assessment``);
    ``save`` the box offering to store a fresh one."""
    current = default_rulebook().version
    return templates.TemplateResponse(
        request,
        "report.html",
        {
            "view": view,
            "case": case_of(data),
            "meta": meta,
            "text": json.dumps(data, ensure_ascii=False),
            "guideline": guideline,
            "save": save,
            "saved": saved,
            "current_rulebook": current,
            "timeline_url": timeline_url(saved["site"], saved["patient"]) if saved else "",
            "principal": user,
        },
        status_code=status_code,
    )
