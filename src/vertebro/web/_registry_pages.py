"""``/registry``: the registry's pages, server-rendered, each a thin entry to the service layer.

Every read and write calls :class:`vertebro.registry.Registry` (or, for passwords and
deactivation, :class:`vertebro.registry.accounts.Accounts`) with the signed-in user's name as
the acting user, so the pages have no access rules of their own: a record of another site is
the service's "not visible" error, answered 404 by the app, and a refused action 403. Forms
post with the CSRF field; invalid input comes back as the same form (HTTP 422) with each
problem beside its input and nothing written. Every page works without scripting.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from vertebro.errors import FieldError, Forbidden, InvalidInput
from vertebro.registry import Registry
from vertebro.registry import io as registry_io
from vertebro.registry.accounts import Principal
from vertebro.registry.vocab import (
    ANAESTHESIA,
    APPROACHES,
    INTERVAL_LABELS,
    INTERVALS,
    LEAK_SITES,
    OPERATOR_ROLES,
    ROLES,
    SEXES,
    TECHNIQUES,
    VITAL_STATUS,
)
from vertebro.spine import VERTEBRAE

from ._auth import CurrentUser, accounts, registry
from ._chart import MEASURES, NARROW, WIDE, Point, outcome_chart
from ._registry_forms import (
    LEVEL_FIELDS,
    MAX_LEVEL_ROWS,
    Parsed,
    complication_form,
    errors_by_field,
    field_label,
    follow_up_form,
    level_rows,
    password_form,
    patient_form,
    procedure_form,
    site_form,
    user_form,
)
from ._templates import templates

__all__ = ["router"]

router = APIRouter(prefix="/registry", include_in_schema=False)

PAGE_SIZE = 50
#: Complication types offered as suggestions (free text is accepted: the registry's schema).
COMPLICATION_TYPES = ("cement_leak", "new_fracture", "infection", "haematoma", "nerve_injury",
                      "pulmonary_embolism", "other")
STATUSES = ("overdue", "due", "missed")
#: Follow-up columns a timeline table may show; one that no visit has is left out.
FOLLOW_UP_COLUMNS = ("nrs", "odi", "rdq", "kps", "ecog", "analgesic_class", "new_fracture",
                     "vital_status", "lost_to_follow_up")
T = TypeVar("T")

_CHOICES = {"sexes": SEXES, "anaesthesia": ANAESTHESIA, "operator_roles": OPERATOR_ROLES,
            "techniques": TECHNIQUES, "approaches": APPROACHES, "leak_sites": LEAK_SITES,
            "vital_status": VITAL_STATUS, "roles": ROLES, "vertebrae": VERTEBRAE,
            "complication_types": COMPLICATION_TYPES, "level_fields": LEVEL_FIELDS,
            "interval_labels": INTERVAL_LABELS, "field_label": field_label}


# ------------------------------------------------------------------ helpers
def _page(request: Request, name: str, who: Principal, status_code: int = 200,
          **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request, f"registry/{name}", {"principal": who, **_CHOICES, **context},
        status_code=status_code)


async def _submitted(request: Request) -> dict[str, str]:
    """The posted form's text fields (the first value of each name)."""
    form = await request.form()
    out: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and key not in out:
            out[key] = value
    return out


def _natural(code: str) -> list[Any]:
    """Sort key that puts DEMO-7 before DEMO-10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", code)]


def _ref(site: str, code: str) -> str:
    return f"{site}/{code}"


def patient_url(site: str, code: str) -> str:
    return f"/registry/patients/{quote(site, safe='')}/{quote(code, safe='')}"


def _saved(url: str, what: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?{urlencode({'saved': what})}", status_code=303)


def _write(parsed: Parsed, call: Callable[[], T]) -> T | None:
    """Run the service call when the form parsed cleanly; its field errors join
    ``parsed.errors`` (nothing was written)."""
    if parsed.errors:
        return None
    try:
        return call()
    except InvalidInput as exc:
        parsed.errors.extend(exc.errors)
        return None


def _placed(errors: Sequence[FieldError], fields: Sequence[str]) -> dict[str, Any]:
    """Errors in the form's order and by input name, plus those no input shows (listed at
    the top only)."""
    order = {f: i for i, f in enumerate(fields)}
    errors = sorted(errors, key=lambda e: order.get(e.field, len(order)))
    by = errors_by_field(errors)
    return {"errors": errors, "by_field": by,
            "unplaced": [e for e in errors if e.field not in fields]}


def _day(event: Mapping[str, Any], first: dt.date | None) -> int | None:
    if "day" in event:
        day: int | None = event["day"]
        return day
    if first is None or "date" not in event:
        return None
    return (dt.date.fromisoformat(event["date"]) - first).days


def _timeline_view(tl: dict[str, Any]) -> dict[str, Any]:
    """The timeline's events arranged for the page (and the chart's points)."""
    events = tl["events"]
    procedures = [e for e in events if e["event"] == "procedure"]
    first = dt.date.fromisoformat(procedures[0]["date"]) if procedures and "date" in \
        procedures[0] else None
    for e in events:
        e["rel_day"] = _day(e, first)
        e["when"] = e.get("date") or (f"day {e['day']}" if e.get("day") is not None else "")
    complications: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        if e["event"] == "complication":
            complications.setdefault(e["procedure_id"], []).append(e)
    follow_ups = [e for e in events if e["event"] == "follow_up"]
    points = [Point(e["rel_day"], {m.key: e.get(m.key) for m in MEASURES}, e["when"])
              for e in follow_ups if e["rel_day"] is not None]
    proc_days = [e["rel_day"] for e in procedures if e["rel_day"] is not None]
    title = f"NRS, ODI and KPS of {tl['patient']} over time"
    charts = [outcome_chart(points, procedure_days=proc_days or [0], title=title, width=w,
                            css_class=f"chart chart-{kind}")
              for w, kind in ((WIDE, "wide"), (NARROW, "narrow"))]
    shown = [c for c in FOLLOW_UP_COLUMNS
             if any(e.get(c) not in (None, False) for e in follow_ups)]
    return {
        "columns": shown,
        "assessments": [e for e in events if e["event"] == "assessment"],
        "procedures": procedures,
        "complications": complications,
        "follow_ups": follow_ups,
        "charts": charts if charts[0] is not None else [],
    }


def _assessed_levels(tl: dict[str, Any]) -> list[str]:
    levels: list[str] = []
    for e in tl["events"]:
        if e["event"] == "assessment":
            levels = list(e.get("levels") or [])
    return levels


# ------------------------------------------------------------------ patients
@router.get("", response_class=HTMLResponse)
def patients_page(request: Request, who: CurrentUser, q: str = "", page: int = 1,
                  saved: str = "") -> HTMLResponse:
    """The patients the user may see, searchable by code, site or primary cancer."""
    reg = registry(request)
    rows = reg.list_patients(who.username)
    due = reg.due(who.username)
    query = q.strip().lower()[:64]
    if query:
        rows = [r for r in rows if query in r["patient"].lower() or query == r["site"].lower()
                or query in (r.get("primary_cancer") or "")]
    pending: dict[tuple[str, str], list[str]] = {}
    for d in due:
        pending.setdefault((d["site"], d["patient"]), []).append(d["status"])
    rows.sort(key=lambda r: (r["site"], _natural(r["patient"])))
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    for r in shown:
        r["url"] = patient_url(r["site"], r["patient"])
        r["pending"] = sorted(set(pending.get((r["site"], r["patient"]), [])),
                              key=STATUSES.index)
    return _page(request, "patients.html", who, rows=shown, total=len(rows), q=q[:64],
                 page=page, pages=pages, saved=saved,
                 can_write=who.role in ("clinician", "admin"))


def _patient_form_page(request: Request, who: Principal, parsed: Parsed | None = None
                       ) -> HTMLResponse:
    sites = registry(request).list_sites(who.username) if who.role == "admin" else []
    parsed = parsed or Parsed(values={"site": who.site or ""})
    fields = ("code", "site", "birth_year", "sex", "primary_cancer", "hospital_number",
              "synthetic")
    return _page(request, "patient_form.html", who, 422 if parsed.errors else 200,
                 values=parsed.values, sites=sites, **_placed(parsed.errors, fields))


@router.get("/patients/new", response_class=HTMLResponse)
def new_patient_page(request: Request, who: CurrentUser) -> HTMLResponse:
    return _patient_form_page(request, who)


@router.post("/patients", response_class=HTMLResponse)
async def add_patient(request: Request, who: CurrentUser) -> Response:
    parsed = patient_form(await _submitted(request))
    reg = registry(request)
    made = await run_in_threadpool(_write, parsed,
                                   lambda: reg.add_patient(who.username, parsed.data))
    if made is None:
        return await run_in_threadpool(_patient_form_page, request, who, parsed)
    return _saved(patient_url(made["site"], made["patient"]), "patient")


@router.get("/patients/{site}/{code}", response_class=HTMLResponse)
def patient_page(request: Request, who: CurrentUser, site: str, code: str,
                 saved: str = "") -> HTMLResponse:
    """The patient's timeline: chart, the numbers as a table, procedures, assessments."""
    tl = registry(request).timeline(who.username, _ref(site, code))
    return _page(request, "patient.html", who, p=tl, url=patient_url(site, code),
                 saved=saved, can_write=who.role in ("clinician", "admin"),
                 pseudonymised=who.role == "researcher", **_timeline_view(tl))


@router.get("/patients/{site}/{code}/audit", response_class=HTMLResponse)
def audit_page(request: Request, who: CurrentUser, site: str, code: str) -> HTMLResponse:
    """Every audit row about the patient, oldest first (the service refuses researchers)."""
    reg = registry(request)
    rows = reg.audit_trail(who.username, _ref(site, code))
    p = reg.get_patient(who.username, _ref(site, code))
    for r in rows:
        if r["action"] == "update" and r["before"] and r["after"]:
            r["change"] = {k: [_shown(k, r["before"].get(k)), _shown(k, v)]
                           for k, v in r["after"].items() if r["before"].get(k) != v}
        else:  # an insert or delete: the row's recorded values (blank ones left out)
            row = r["after"] or r["before"] or {}
            r["change"] = {k: _shown(k, v) for k, v in row.items()
                           if v is not None and k not in ("id", "created_at")}
    return _page(request, "audit.html", who, p=p, rows=rows, url=patient_url(site, code))


def _shown(key: str, value: Any) -> Any:
    """An audited value as the page shows it: a hash as the fact that one is stored."""
    return "(hashed)" if key.endswith("_hash") and value is not None else value


# ------------------------------------------------------------------ procedures
def _procedure_page(request: Request, who: Principal, site: str, code: str,
                    parsed: Parsed | None = None, rows: int = 3) -> HTMLResponse:
    tl = registry(request).timeline(who.username, _ref(site, code))
    parsed = parsed or Parsed()
    rows = min(max(rows, 1), MAX_LEVEL_ROWS)
    assessed = _assessed_levels(tl)
    if not parsed.values and assessed:
        rows = max(rows, min(len(assessed), MAX_LEVEL_ROWS))
        for i, lv in enumerate(assessed[:rows]):
            parsed.values[f"levels[{i}].level"] = lv
    fields = ["performed_on", "anaesthesia", "operator_role", "biopsy_taken", "biopsy_result",
              "override_reason", "assessment_id", "levels",
              *(f"levels[{i}].{k}" for i in range(rows) for k in LEVEL_FIELDS)]
    assessment_options = [
        (str(e["assessment_id"]), f"{e.get('date') or 'day ' + str(e.get('day'))}: "
         f"{e['disposition'].replace('_', ' ')} ({', '.join(e['levels']) or 'no level'})")
        for e in tl["events"] if e["event"] == "assessment"]
    return _page(request, "procedure_form.html", who, 422 if parsed.errors else 200,
                 p=tl, url=patient_url(site, code), values=parsed.values, rows=rows,
                 assessed=assessed, assessment_options=assessment_options, max_rows=MAX_LEVEL_ROWS,
                 **_placed(parsed.errors, fields))


@router.get("/patients/{site}/{code}/procedures/new", response_class=HTMLResponse)
def new_procedure_page(request: Request, who: CurrentUser, site: str, code: str
                       ) -> HTMLResponse:
    return _procedure_page(request, who, site, code)


@router.post("/patients/{site}/{code}/procedures", response_class=HTMLResponse)
async def add_procedure(request: Request, who: CurrentUser, site: str, code: str) -> Response:
    form = await _submitted(request)
    parsed = procedure_form(form)
    if form.get("_action") == "add_level":  # another level row; nothing is written
        keep = Parsed(values=parsed.values)
        shown = form.get("_rows", "")
        rows = max(level_rows(form), int(shown) if shown.isdigit() and len(shown) < 3 else 0) + 1
        return await run_in_threadpool(_procedure_page, request, who, site, code, keep, rows)
    reg = registry(request)
    made = await run_in_threadpool(
        _write, parsed, lambda: reg.add_procedure(who.username, _ref(site, code), parsed.data))
    if made is None:
        rows = max(len(parsed.data.get("levels", [])), 1)
        return await run_in_threadpool(_procedure_page, request, who, site, code, parsed,
                                       rows)
    return _saved(patient_url(site, code), "procedure")


# ------------------------------------------------------------------ complications
def _procedure_choices(tl: dict[str, Any]) -> list[tuple[str, str]]:
    """(procedure id, "date: levels") for the procedure selects, oldest first."""
    return [(str(e["procedure_id"]), f"{e['when']}: "
             + ", ".join(f"{lv['level']} {lv['technique']}" for lv in e["levels"]))
            for e in tl["events"] if e["event"] == "procedure"]


def _complication_page(request: Request, who: Principal, site: str, code: str,
                       parsed: Parsed | None = None) -> HTMLResponse:
    tl = registry(request).timeline(who.username, _ref(site, code))
    for e in tl["events"]:
        e["when"] = e.get("date") or f"day {e.get('day')}"
    procs = _procedure_choices(tl)
    parsed = parsed or Parsed(values={"procedure_id": procs[-1][0] if procs else ""})
    fields = ("procedure_id", "type", "level", "leak_site", "symptomatic", "severity_grade",
              "treatment")
    return _page(request, "complication_form.html", who, 422 if parsed.errors else 200,
                 p=tl, url=patient_url(site, code), values=parsed.values, procedures=procs,
                 **_placed(parsed.errors, fields))


@router.get("/patients/{site}/{code}/complications/new", response_class=HTMLResponse)
def new_complication_page(request: Request, who: CurrentUser, site: str, code: str
                          ) -> HTMLResponse:
    return _complication_page(request, who, site, code)


@router.post("/patients/{site}/{code}/complications", response_class=HTMLResponse)
async def add_complication(request: Request, who: CurrentUser, site: str, code: str
                           ) -> Response:
    parsed = complication_form(await _submitted(request))
    reg = registry(request)
    data = {k: v for k, v in parsed.data.items() if k != "procedure_id"}
    made = await run_in_threadpool(_write, parsed, lambda: reg.add_complication(
        who.username, _ref(site, code), data, procedure_id=parsed.data.get("procedure_id")))
    if made is None:
        return await run_in_threadpool(_complication_page, request, who, site, code, parsed)
    return _saved(patient_url(site, code), "complication")


# ------------------------------------------------------------------ follow-ups
def _follow_up_page(request: Request, who: Principal, site: str, code: str,
                    parsed: Parsed | None = None, procedure_id: str = "") -> HTMLResponse:
    tl = registry(request).timeline(who.username, _ref(site, code))
    for e in tl["events"]:
        e["when"] = e.get("date") or f"day {e.get('day')}"
    procs = _procedure_choices(tl)
    # no default date: a visit entered later from paper must not silently become today's
    parsed = parsed or Parsed(values={
        "procedure_id": procedure_id or (procs[-1][0] if procs else "")})
    fields = ["followed_on", "baseline", "procedure_id", "nrs", "odi_sections", "rdq", "kps",
              "ecog", "analgesic_class", "new_fracture", "new_fracture_level", "vital_status",
              "lost_to_follow_up", *(f"odi_sections[{i}]" for i in range(10))]
    return _page(request, "follow_up_form.html", who, 422 if parsed.errors else 200,
                 p=tl, url=patient_url(site, code), values=parsed.values, procedures=procs,
                 **_placed(parsed.errors, fields))


@router.get("/patients/{site}/{code}/follow-ups/new", response_class=HTMLResponse)
def new_follow_up_page(request: Request, who: CurrentUser, site: str, code: str,
                       procedure: str = "") -> HTMLResponse:
    return _follow_up_page(request, who, site, code, procedure_id=procedure[:12])


@router.post("/patients/{site}/{code}/follow-ups", response_class=HTMLResponse)
async def add_follow_up(request: Request, who: CurrentUser, site: str, code: str) -> Response:
    parsed = follow_up_form(await _submitted(request))
    reg = registry(request)
    made = await run_in_threadpool(
        _write, parsed, lambda: reg.add_follow_up(who.username, _ref(site, code), parsed.data))
    if made is None:
        return await run_in_threadpool(_follow_up_page, request, who, site, code, parsed)
    return _saved(patient_url(site, code), "follow-up")


# ------------------------------------------------------------------ worklist
@router.get("/worklist", response_class=HTMLResponse)
def worklist_page(request: Request, who: CurrentUser, status: str = "",
                  interval: str = "") -> HTMLResponse:
    """Follow-ups due, overdue and missed, per interval (Sorensen-SpineJ-2019 Table 2)."""
    items = registry(request).due(who.username, include_missed=True)
    counts = {iv: dict.fromkeys(STATUSES, 0) for iv in INTERVALS if iv != "preop"}
    for it in items:
        counts[it["interval"]][it["status"]] += 1
        it["url"] = patient_url(it["site"], it["patient"])
    shown = [it for it in items if (not status or it["status"] == status)
             and (not interval or it["interval"] == interval)]
    shown.sort(key=lambda it: (STATUSES.index(it["status"]), -it["days_since_procedure"]))
    return _page(request, "worklist.html", who, items=shown, counts=counts,
                 status=status if status in STATUSES else "",
                 interval=interval if interval in counts else "", statuses=STATUSES,
                 total=len(items), can_write=who.role in ("clinician", "admin"),
                 today=dt.date.today().isoformat())


# ------------------------------------------------------------------ exports
EXPORTS = {
    "csv": ("registry.csv", "text/csv"),
    "redcap": ("registry-redcap.zip", "application/zip"),
    "fhir": ("registry-fhir.json", "application/fhir+json"),
}


@router.get("/exports", response_class=HTMLResponse)
def exports_page(request: Request, who: CurrentUser) -> HTMLResponse:
    return _page(request, "exports.html", who, research_only=who.role == "researcher",
                 errors=[])


def _export_file(reg: Registry, who: Principal, fmt: str, research: bool
                 ) -> tuple[Path, Path]:
    folder = Path(tempfile.mkdtemp(prefix="vertebro-export-"))
    try:
        name, _ = EXPORTS[fmt]
        if fmt == "redcap":
            registry_io.export(reg, who.username, fmt, folder / "redcap", research=research,
                               via="web")
            path = Path(shutil.make_archive(str(folder / "registry-redcap"), "zip",
                                            folder / "redcap"))
        else:
            path = folder / name
            # audited by the export itself (who, format, scope, records), as the CLI's
            registry_io.export(reg, who.username, fmt, path, research=research, via="web")
        return folder, path
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


@router.post("/exports")
async def export_download(request: Request, who: CurrentUser) -> Response:
    """Every record the user may see as a download; ``research`` (always, for researchers):
    pseudonyms, ages and day offsets instead of identifiers and dates."""
    form = await _submitted(request)
    fmt = form.get("format", "")
    research = bool(form.get("research")) or who.role == "researcher"
    if fmt not in EXPORTS:
        errors = [FieldError("format", f"{fmt[:20]!r} is not one of {', '.join(EXPORTS)}")]
        return _page(request, "exports.html", who, 422, errors=errors,
                     research_only=who.role == "researcher")
    folder, path = await run_in_threadpool(_export_file, registry(request), who, fmt,
                                           research)
    name, media = EXPORTS[fmt]
    if research:
        name = name.replace("registry", "registry-research", 1)
    return FileResponse(path, media_type=media, filename=name,
                        background=BackgroundTask(shutil.rmtree, folder, True))


# ------------------------------------------------------------------ admin
def _admin_page(request: Request, who: Principal, status: int = 200, *,
                form: str = "", parsed: Parsed | None = None, done: str = "") -> HTMLResponse:
    reg = registry(request)
    users = reg.list_users(who.username)  # refuses non-admins (403)
    sites = reg.list_sites(who.username)
    events = accounts(request).events(who.username, limit=30)
    parsed = parsed or Parsed()
    return _page(request, "admin.html", who, status, users=users, sites=sites, events=events,
                 form=form, values=parsed.values, by_field=errors_by_field(parsed.errors),
                 errors=parsed.errors, done=done)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, who: CurrentUser, done: str = "") -> HTMLResponse:
    """Sites and users (admins only: the service refuses everyone else)."""
    return _admin_page(request, who, done=done[:80])


def _admin_done(what: str) -> RedirectResponse:
    return RedirectResponse(f"/registry/admin?{urlencode({'done': what})}", status_code=303)


async def _admin_write(request: Request, who: Principal, form_name: str, parsed: Parsed,
                       call: Callable[[], object], done: str) -> Response:
    ok = await run_in_threadpool(lambda: _write(parsed, lambda: call() or True))
    if ok is None:
        return await run_in_threadpool(
            lambda: _admin_page(request, who, 422, form=form_name, parsed=parsed))
    return _admin_done(done)


@router.post("/admin/sites", response_class=HTMLResponse)
async def add_site(request: Request, who: CurrentUser) -> Response:
    parsed = site_form(await _submitted(request))
    reg = registry(request)
    d = parsed.data
    return await _admin_write(
        request, who, "site", parsed,
        lambda: reg.add_site(who.username, d.get("code", ""), d.get("name", "")),
        f"site {d.get('code', '')} added")


@router.post("/admin/users", response_class=HTMLResponse)
async def add_user(request: Request, who: CurrentUser) -> Response:
    parsed = user_form(await _submitted(request))
    reg = registry(request)
    d = parsed.data
    return await _admin_write(
        request, who, "user", parsed,
        lambda: reg.add_user(who.username, d.get("username", ""), d.get("role", ""),
                             d.get("site")),
        f"user {d.get('username', '')} added: set their password below")


@router.post("/admin/users/{username}/deactivate", response_class=HTMLResponse)
async def deactivate_user(request: Request, who: CurrentUser, username: str) -> Response:
    await _submitted(request)
    acc = accounts(request)
    if username == who.username:
        raise Forbidden(f"{who.username} cannot deactivate themselves (another admin can)")
    await run_in_threadpool(acc.deactivate, who.username, username)
    return _admin_done(f"{username} deactivated: their sessions and API tokens were ended")


@router.post("/admin/users/{username}/password", response_class=HTMLResponse)
async def set_password(request: Request, who: CurrentUser, username: str) -> Response:
    parsed = password_form(await _submitted(request))
    acc = accounts(request)
    return await _admin_write(
        request, who, f"password:{username}", parsed,
        lambda: acc.set_password(username, parsed.data["password"], actor=who.username),
        f"password set for {username}; their sessions were ended")
