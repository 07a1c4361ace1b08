"""Server-rendered pages: the assessment form, the report, its PDF and the form's feedback.

The report is laid out from :func:`vertebro.assess.report_view`, the same plain data the text
report is laid out from; the templates decide nothing. The form works without scripting: each
of its buttons posts the whole form to ``/assess`` with an ``_action`` (assess, check, add or
remove a level, export, load the JSON), and the server answers with the next page. The form's
script only asks ``/form/feedback`` for the same feedback while facts are entered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache, partial
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import FormData

from vertebro.assess import NOTICE, assess, default_rulebook, report_view, validate_json
from vertebro.errors import FieldError, InvalidInput

from ._auth import Principal, optional_user
from ._feedback import Feedback, feedback, place_errors
from ._form import (
    FormState,
    add_level,
    form_spec,
    input_from_state,
    raw_input,
    remove_level,
    state_from_form,
    state_from_input,
)
from ._json import check_json
from ._pdf import render_pdf
from ._report_page import case_of, render_report, save_box, unsaved_meta
from ._templates import templates

__all__ = ["FOR_PATIENT", "input_from_text", "router"]

router = APIRouter()
_templates = templates  # the name the registry pages import

User = Annotated[Principal | None, Depends(optional_user)]
#: the form field naming the registry patient a form was opened for
FOR_PATIENT = "registry_patient"


@cache
def example_input() -> str:
    """The AOSpine-EBSJ-2012 illustrative case, which the form offers to load.

    A copy of ``examples/aospine_case.json`` shipped in the package, because an installed
    wheel cannot reach the repository's ``examples/`` folder; a test keeps the two identical.
    """
    return (files("vertebro.web") / "data" / "aospine_case.json").read_text(encoding="utf-8")


def _guidelines() -> list[tuple[str, str]]:
    rb = default_rulebook()
    return [(pid, p.name) for pid, p in rb.profiles.items()]


def _json_text(state: FormState) -> str:
    return json.dumps(raw_input(state), indent=2, ensure_ascii=False)


def _form_page(
    request: Request,
    state: FormState,
    guideline: str,
    errors: Sequence[FieldError] = (),
    *,
    text: str | None = None,
    fb: Feedback | None = None,
    status_code: int = 200,
    user: Principal | None = None,
    for_patient: str = "",
) -> HTMLResponse:
    """The form page; ``text`` (the JSON box) is the form's own JSON unless given;
    ``for_patient`` is the registry patient the form was opened for (carried to the report's
    save box)."""
    return templates.TemplateResponse(
        request,
        "form.html",
        {
            "state": state,
            "sections": form_spec(),
            "placed": place_errors(errors, state),
            "fb": fb or Feedback(),
            "text": _json_text(state) if text is None else text,
            "json_open": text is not None,
            "guideline": guideline,
            "guidelines": _guidelines(),
            "errors": errors,
            "notice": NOTICE,
            "principal": user,
            "for_patient": for_patient,
            "for_field": FOR_PATIENT,
        },
        status_code=status_code,
    )


@router.get("/", response_class=HTMLResponse)
def form_page(
    request: Request,
    user: User,
    example: str | None = None,
    registry_patient: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The assessment form: blank (one level block), or with ``?example=aospine`` the
    AOSpine-EBSJ-2012 illustrative case; ``?registry_patient=CODE`` (a link from the
    patient's timeline) names the patient the report will offer to save it to."""
    if example == "aospine":
        state = state_from_input(json.loads(example_input()))
    else:
        state = FormState(levels=1)
    return _form_page(request, state, default_rulebook().default_profile, fb=feedback(state),
                 user=user, for_patient=registry_patient.strip())


def _report(
    request: Request, data: dict[str, Any], guideline: str, user: Principal | None,
    for_patient: str = "",
) -> HTMLResponse:
    result = assess(data, guideline=guideline)
    return render_report(request, report_view(result), data, guideline,
                         unsaved_meta(user, guideline), user=user,
                         save=save_box(request, user, patient=for_patient))


def _has_fields(form: FormData) -> bool:
    return any(k not in ("patient", "guideline", "_action", FOR_PATIENT) for k in form)


def input_from_text(text: str) -> dict[str, Any]:
    """The JSON box's patient, validated; returned as the plain JSON it was given."""
    check_json(text)  # the web-level limits first (deep nesting, huge numbers, ...)
    validate_json(text)
    data: dict[str, Any] = json.loads(text)
    return data


def _download(data: dict[str, Any]) -> Response:
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False) + "\n",
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="assessment.json"'},
    )


@router.post("/assess", response_class=HTMLResponse)
async def assess_page(request: Request, user: User) -> Response:
    """Every button of the form: assess, check, add/remove a level, export, load JSON.

    A post with only ``patient`` (JSON) and ``guideline`` assesses the JSON, as before the
    structured form. Invalid input brings the form back with each problem beside its field
    and listed at the top (HTTP 422).
    """
    form = await request.form()
    raw_action = form.get("_action")
    action = raw_action if isinstance(raw_action, str) else ""
    raw_guideline = form.get("guideline")
    guideline = (
        raw_guideline if isinstance(raw_guideline, str) and raw_guideline else None
    ) or default_rulebook().default_profile
    raw_text = form.get("patient")
    text = raw_text if isinstance(raw_text, str) else ""
    state = state_from_form(form.multi_items())
    raw_for = form.get(FOR_PATIENT)
    for_patient = raw_for.strip()[:200] if isinstance(raw_for, str) else ""
    _form = partial(_form_page, user=user, for_patient=for_patient)
    by_json = action in ("assess_json", "load_json", "edit") or (
        action in ("", "assess", "export") and not _has_fields(form)
    )

    def invalid(exc: InvalidInput) -> HTMLResponse:
        shown = text if by_json else None
        return _form(request, state, guideline, exc.errors, text=shown, status_code=422)

    if action.startswith("remove:") and action.removeprefix("remove:").isdigit():
        state = remove_level(state, int(action.removeprefix("remove:")))
        return _form(request, state, guideline, fb=feedback(state, guideline))
    if action == "add_level":
        state = add_level(state)
        return _form(request, state, guideline, fb=feedback(state, guideline))
    if action == "check":
        fb = feedback(state, guideline)
        errors = [FieldError(k, r) for k, rs in fb.errors.items() for r in rs]
        return _form(request, state, guideline, errors, fb=fb)
    try:
        data = input_from_text(text) if by_json else input_from_state(state)
        if action in ("load_json", "edit"):
            state = state_from_input(data)
            return _form(request, state, guideline, fb=feedback(state, guideline))
        if action in ("export", "export_json"):
            return _download(data)
        return await run_in_threadpool(_report, request, data, guideline, user, for_patient)
    except InvalidInput as exc:
        return invalid(exc)


@router.post("/form/feedback", response_class=JSONResponse)
async def feedback_api(request: Request) -> JSONResponse:
    """What the form says back as facts are entered (the form's script asks for it): errors
    by field, SINS / Genant / ESCC per level block, the provisional disposition."""
    form = await request.form()
    raw_guideline = form.get("guideline")
    guideline = raw_guideline if isinstance(raw_guideline, str) and raw_guideline else None
    state = state_from_form(form.multi_items())
    fb = await run_in_threadpool(feedback, state, guideline)
    return JSONResponse(fb.as_json())


@router.post("/report.pdf")
async def report_pdf(
    user: User,
    patient: Annotated[str, Form()] = "",
    guideline: Annotated[str, Form()] = "",
) -> Response:
    """The tumour-board report as PDF, for the patient JSON the report page carries."""
    guideline = guideline or default_rulebook().default_profile
    data = input_from_text(patient)  # invalid: 422 with the fields, as the API

    def render() -> bytes:
        result = assess(data, guideline=guideline)
        return render_pdf(report_view(result), case_of(data), unsaved_meta(user, guideline))

    pdf = await run_in_threadpool(render)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="vertebro-report.pdf"'},
    )
