"""``/api/registry``: the registry's operations as JSON, under the web's sign-in.

Every route resolves the signed-in :class:`Principal` (session cookie, with ``X-CSRF-Token``
for changes, or ``Authorization: Bearer <token>``) and calls
:class:`vertebro.registry.Registry` (or its :class:`~vertebro.registry.accounts.Accounts`)
with ``principal.username`` as the acting user: what a user may see or change is decided
there, as for the CLI, never here. Refusals map by type (``_app.registry_status``): another
site's patient is 404 exactly like a patient who does not exist.

Bodies are read by the routes themselves: the web-level JSON limits (:mod:`._json`) first,
then the registry's own pydantic schemas, so that a bad body is refused with the field paths
and messages the CLI and the imports give. The OpenAPI schema describes each body from the
same model (:func:`._openapi.json_body`) and each answer from the models below.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from vertebro.registry import Registry
from vertebro.registry import io as registry_io
from vertebro.registry.accounts import POLICY
from vertebro.registry.schemas import (
    ComplicationIn,
    FollowUpIn,
    PatientIn,
    PatientUpdate,
    ProcedureIn,
    SiteIn,
    UserIn,
    parse,
)

from ._auth import CurrentUser, accounts, registry_dependency
from ._json import load_json
from ._openapi import ERRORS, json_body

__all__ = ["Download", "export_download", "router"]

_CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

router = APIRouter(prefix="/api/registry", tags=["registry"],
                   responses={k: ERRORS[k] for k in (401, 403, 404, 409)})

Reg = Annotated[Registry, Depends(registry_dependency)]
PatientRef = Annotated[str, Path(pattern=_CODE, description=(
    "the patient's site-local code (researchers: the pseudonym)"))]
SiteQuery = Annotated[str | None, Query(pattern=_CODE, description=(
    "the patient's site, when the code is used at several sites"))]


async def _payload(request: Request) -> Any:
    """The JSON body, through the web-level limits (422 naming the field otherwise)."""
    return load_json(await request.body())


Payload = Annotated[Any, Depends(_payload)]


def _ref(patient: str, site: str | None) -> str:
    return f"{site}/{patient}" if site else patient


# ------------------------------------------------------------------ answer models
class _Out(BaseModel):
    # extra keys a later service version adds are passed on, not an error
    model_config = ConfigDict(extra="allow")


class PatientView(_Out):
    patient: str = Field(description="site-local code, or the pseudonym for researchers")
    site: str
    birth_year: int | None = None
    sex: str | None = None
    primary_cancer: str | None = None
    hospital_number_hashed: bool | None = Field(None, description="absent for researchers")
    synthetic: bool


class PatientList(_Out):
    patients: list[PatientView]
    total: int = Field(description="patients matching, before offset and limit")
    offset: int
    limit: int


class TimelineEvent(_Out):
    event: Literal["assessment", "procedure", "complication", "follow_up"]
    date: str | None = Field(None, description="ISO date (absent for researchers)")
    day: int | None = Field(None, description="researchers: days from the index procedure")


class Timeline(PatientView):
    events: list[TimelineEvent]


class LevelView(_Out):
    level: str
    technique: str
    approach: str | None = None
    needle: str | None = None
    cement_type: str | None = None
    cement_volume_ml: float | None = None
    balloon_used: bool | None = None


class ProcedureView(_Out):
    procedure_id: int
    performed_on: str
    assessment_id: int | None = None
    anaesthesia: str | None = None
    operator_role: str | None = None
    override_reason: str | None = None
    biopsy_taken: bool | None = None
    biopsy_result: str | None = None
    levels: list[LevelView]


class ComplicationView(_Out):
    complication_id: int
    procedure_id: int
    type: str
    level: str | None = None
    leak_site: str | None = None
    symptomatic: bool | None = None
    severity_grade: int | None = None
    treatment: str | None = None


class FollowUpView(_Out):
    follow_up_id: int
    followed_on: str
    procedure_id: int
    baseline: bool
    days_since_procedure: int
    interval: str
    nrs: float | None = None
    odi_sections: list[int | None] | None = None
    odi: float | None = None
    rdq: int | None = None
    kps: int | None = None
    ecog: int | None = None
    analgesic_class: int | None = None
    new_fracture: bool | None = None
    new_fracture_level: str | None = None
    vital_status: str | None = None
    lost_to_follow_up: bool


class DueItem(_Out):
    patient: str
    site: str
    procedure_id: int
    interval: str
    status: Literal["due", "overdue", "missed"]
    days_since_procedure: int
    target_date: str | None = Field(None, description="absent for researchers")


class AuditRow(_Out):
    id: int
    at: str
    actor: str
    action: str
    table: str
    row_id: int | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class SiteView(_Out):
    code: str
    name: str


class UserView(_Out):
    username: str
    role: str
    site: str | None = None
    active: bool | None = Field(None, description="in lists; a new user is active")


class TokenView(_Out):
    id: int
    label: str
    created_at: str
    revoked: bool


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=100, description="what the token is for")


class NewToken(_Out):
    token: str = Field(description="shown once: only its hash is kept")
    label: str


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=POLICY.min_password_length,
                          max_length=POLICY.max_password_length)


class AccountEventView(_Out):
    at: str
    username: str
    event: str
    address: str | None = None
    detail: str | None = None


class Summary(_Out):
    """Outcomes by technique and interval (``vertebro registry summary --format json``)."""

    patients: int


# ------------------------------------------------------------------ patients
# The reads of a patient's records (the list, one patient, the timeline, the audit trail)
# are ``async def``: a plain ``def`` route costs two thread-pool hops (the route and the
# validation of its answer), more CPU than a page of rows. They run on the event loop, which
# is safe because a read never waits for a writer (SQLite in WAL mode, PostgreSQL's MVCC);
# the writes, which may wait for the write lock, the computed reports and the exports stay
# in the thread pool so that the worker's other requests go on meanwhile.
@router.get("/patients", response_model=PatientList, response_model_exclude_unset=True)
async def list_patients(
    who: CurrentUser, reg: Reg,
    q: Annotated[str | None, Query(max_length=64, description=(
        "search: part of the patient code or the primary cancer"))] = None,
    site: Annotated[str | None, Query(pattern=_CODE)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The patients the signed-in user may see (researchers: pseudonymised), by site and
    code; ``q`` narrows them to a code or primary cancer containing it."""
    rows = reg.list_patients(who.username)
    if site:
        rows = [r for r in rows if r["site"] == site]
    if q:
        needle = q.strip().lower()
        rows = [r for r in rows if needle in r["patient"].lower()
                or needle in (r.get("primary_cancer") or "")]
    return {"patients": rows[offset:offset + limit], "total": len(rows), "offset": offset,
            "limit": limit}


@router.post("/patients", status_code=201, response_model=PatientView,
             response_model_exclude_unset=True, responses={422: ERRORS[422]},
             openapi_extra=json_body(PatientIn, "a new patient (clinicians: of their site)"))
def add_patient(who: CurrentUser, reg: Reg, body: Payload) -> dict[str, Any]:
    """Register a patient; the hospital number is stored only as a keyed hash."""
    return reg.add_patient(who.username, parse(PatientIn, body))


@router.get("/patients/{patient}", response_model=PatientView,
            response_model_exclude_unset=True)
async def get_patient(who: CurrentUser, reg: Reg, patient: PatientRef,
                      site: SiteQuery = None) -> dict[str, Any]:
    return reg.get_patient(who.username, _ref(patient, site))


@router.patch("/patients/{patient}", response_model=PatientView,
              response_model_exclude_unset=True, responses={422: ERRORS[422]},
              openapi_extra=json_body(PatientUpdate, "the fields to change"))
def update_patient(who: CurrentUser, reg: Reg, body: Payload, patient: PatientRef,
                   site: SiteQuery = None) -> dict[str, Any]:
    return reg.update_patient(who.username, _ref(patient, site), parse(PatientUpdate, body))


@router.get("/patients/{patient}/timeline", response_model=Timeline,
            response_model_exclude_unset=True)
async def timeline(who: CurrentUser, reg: Reg, patient: PatientRef,
                   site: SiteQuery = None) -> dict[str, Any]:
    """The patient and every assessment, procedure, complication and follow-up, oldest
    first (researchers: days from the index procedure instead of dates)."""
    return reg.timeline(who.username, _ref(patient, site))


@router.get("/patients/{patient}/audit", response_model=list[AuditRow],
            response_model_exclude_unset=True)
async def audit_trail(who: CurrentUser, reg: Reg, patient: PatientRef,
                      site: SiteQuery = None) -> list[dict[str, Any]]:
    """Every change to the patient's records: who, when, what, before and after (not for
    researchers)."""
    return reg.audit_trail(who.username, _ref(patient, site))


# ------------------------------------------------------------------ events of a patient
@router.post("/patients/{patient}/procedures", status_code=201, response_model=ProcedureView,
             response_model_exclude_unset=True, responses={422: ERRORS[422]},
             openapi_extra=json_body(ProcedureIn, "the procedure and its treated levels"))
def add_procedure(who: CurrentUser, reg: Reg, body: Payload, patient: PatientRef,
                  site: SiteQuery = None) -> dict[str, Any]:
    """Record a procedure; its levels are checked against the assessment it follows."""
    return reg.add_procedure(who.username, _ref(patient, site), parse(ProcedureIn, body))


@router.post("/patients/{patient}/complications", status_code=201,
             response_model=ComplicationView, response_model_exclude_unset=True,
             responses={422: ERRORS[422]},
             openapi_extra=json_body(ComplicationIn, "the complication"))
def add_complication(
    who: CurrentUser, reg: Reg, body: Payload, patient: PatientRef, site: SiteQuery = None,
    procedure_id: Annotated[int | None, Query(ge=1, le=2**62, description=(
        "the procedure it followed (default: the patient's latest)"))] = None,
) -> dict[str, Any]:
    return reg.add_complication(who.username, _ref(patient, site),
                                parse(ComplicationIn, body), procedure_id=procedure_id)


@router.post("/patients/{patient}/follow-ups", status_code=201, response_model=FollowUpView,
             response_model_exclude_unset=True, responses={422: ERRORS[422]},
             openapi_extra=json_body(FollowUpIn, (
                 "a follow-up visit: ODI as its 10 section answers (0-5, null unanswered) "
                 "and RDQ as its total, numbers only; scores are computed, the interval "
                 "binned")))
def add_follow_up(who: CurrentUser, reg: Reg, body: Payload, patient: PatientRef,
                  site: SiteQuery = None) -> dict[str, Any]:
    return reg.add_follow_up(who.username, _ref(patient, site), parse(FollowUpIn, body))


@router.delete("/follow-ups/{follow_up_id}", status_code=204, response_class=Response)
def delete_follow_up(who: CurrentUser, reg: Reg,
                     follow_up_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    """Remove a follow-up entered in error (its content stays in the audit trail)."""
    reg.delete_follow_up(who.username, follow_up_id)
    return Response(status_code=204)


# ------------------------------------------------------------------ worklist and reports
@router.get("/due", response_model=list[DueItem], response_model_exclude_unset=True)
def due(
    who: CurrentUser, reg: Reg,
    today: Annotated[dt.date | None, Query(description="default: today")] = None,
    include_missed: Annotated[bool, Query(description="list missed intervals too")] = False,
) -> list[dict[str, Any]]:
    """The follow-up worklist: visits due, overdue (and missed), per interval."""
    return reg.due(who.username, today, include_missed=include_missed)


@router.get("/summary", response_model=Summary, response_model_exclude_unset=True)
def summary(who: CurrentUser, reg: Reg) -> dict[str, Any]:
    """Outcomes by technique and follow-up interval (laid out like Sorensen-SpineJ-2019
    Table 2), over the patients the user may see."""
    return reg.summary(who.username)


# ------------------------------------------------------------------ exports
@dataclass(frozen=True)
class Download:
    content: bytes
    media_type: str
    filename: str


_MEDIA = {"csv": ("text/csv; charset=utf-8", "registry.csv"),
          "fhir": ("application/fhir+json", "bundle.json"),
          "redcap": ("application/zip", "redcap.zip")}


def export_download(reg: Registry, actor: str, fmt: str, *, research: bool) -> Download:
    """What ``vertebro registry export`` writes, as one file (REDCap's folder zipped); the
    export writes its ``export`` event in the audit trail (who took which records off the
    system), as for the CLI and the pages."""
    with tempfile.TemporaryDirectory(prefix="vertebro-export-") as tmp:
        out = FilePath(tmp) / ("redcap" if fmt == "redcap" else _MEDIA[fmt][1])
        registry_io.export(reg, actor, fmt, out, research=research, via="api")
        if fmt == "redcap":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                for f in sorted(out.iterdir()):
                    zf.write(f, f.name)
            content = buf.getvalue()
        else:
            content = out.read_bytes()
    media, name = _MEDIA[fmt]
    return Download(content, media, ("research-" if research else "") + name)


@router.get("/export", response_class=Response, responses={200: {
    "description": "the file, as an attachment",
    "content": {"text/csv": {"schema": {"type": "string"}},
                "application/fhir+json": {"schema": {"type": "object"}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}}}}})
def export(
    who: CurrentUser, reg: Reg,
    format: Annotated[Literal["csv", "redcap", "fhir"], Query(description=(
        "csv: the long format; redcap: the project (dictionary, events, mapping, "
        "records) zipped; fhir: one JSON Bundle"))],
    research: Annotated[bool, Query(description=(
        "no direct identifiers, days from the index procedure (researchers must)"))] = False,
) -> Response:
    """Every record the user may see, as a download."""
    d = export_download(reg, who.username, format, research=research)
    return Response(d.content, media_type=d.media_type, headers={
        "Content-Disposition": f'attachment; filename="{d.filename}"'})


# ------------------------------------------------------------------ admin
@router.post("/admin/sites", status_code=201, response_model=SiteView,
             responses={422: ERRORS[422]}, openapi_extra=json_body(SiteIn, "a new site"))
def add_site(who: CurrentUser, reg: Reg, body: Payload) -> dict[str, Any]:
    """Add a site (admins)."""
    data = parse(SiteIn, body)
    return reg.add_site(who.username, data.code, data.name)


@router.get("/admin/users", response_model=list[UserView])
def list_users(who: CurrentUser, reg: Reg) -> list[dict[str, Any]]:
    """Every user with role, site and whether active (admins)."""
    return reg.list_users(who.username)


@router.post("/admin/users", status_code=201, response_model=UserView,
             response_model_exclude_unset=True, responses={422: ERRORS[422]},
             openapi_extra=json_body(UserIn, "a new user (a clinician needs a site)"))
def add_user(who: CurrentUser, reg: Reg, body: Payload) -> dict[str, Any]:
    """Add a user (admins); they sign in once a password is set."""
    data = parse(UserIn, body)
    return reg.add_user(who.username, data.username, data.role, data.site)


Username = Annotated[str, Path(pattern=_CODE)]


@router.post("/admin/users/{username}/deactivate", status_code=204, response_class=Response)
def deactivate_user(request: Request, who: CurrentUser, username: Username) -> Response:
    """Deactivate a user (admins): every session and API token of theirs ends at once."""
    accounts(request).deactivate(who.username, username)
    return Response(status_code=204)


@router.put("/admin/users/{username}/password", status_code=204, response_class=Response,
            responses={422: ERRORS[422]},
            openapi_extra=json_body(PasswordIn, "the new password (12 to 1024 characters)"))
def set_password(request: Request, who: CurrentUser, username: Username,
                 body: Payload) -> Response:
    """Set a user's web password (admins); ends that user's sessions."""
    data = parse(PasswordIn, body)
    accounts(request).set_password(username, data.password, actor=who.username)
    return Response(status_code=204)


@router.get("/admin/sign-ins", response_model=list[AccountEventView])
def sign_ins(request: Request, who: CurrentUser,
             limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[dict[str, Any]]:
    """The latest sign-in, failure, sign-out, token and password events, newest first
    (admins)."""
    return accounts(request).events(who.username, limit=limit)


# ------------------------------------------------------------------ the user's API tokens
@router.get("/tokens", response_model=list[TokenView])
def list_tokens(request: Request, who: CurrentUser) -> list[dict[str, Any]]:
    """The signed-in user's API tokens (labels only; a token is shown once, at creation)."""
    return accounts(request).list_tokens(who.username)


@router.post("/tokens", status_code=201, response_model=NewToken,
             responses={422: ERRORS[422]},
             openapi_extra=json_body(TokenIn, "what the new token is for"))
def create_token(request: Request, who: CurrentUser, body: Payload) -> dict[str, Any]:
    """A new API token for the signed-in user: send it as ``Authorization: Bearer``."""
    data = parse(TokenIn, body)
    return {"token": accounts(request).create_token(who.username, data.label),
            "label": data.label.strip()}


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response)
def revoke_token(request: Request, who: CurrentUser,
                 token_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    """Revoke one of the signed-in user's tokens (another user's: 404)."""
    accounts(request).revoke_token(who.username, token_id)
    return Response(status_code=204)
