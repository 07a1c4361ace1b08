"""Server-rendered pages: a form for one patient and the report, printable for a tumour board.

The report is laid out from :func:`vertebro.assess.report_view`, the same plain data the text
report is laid out from; the templates decide nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from vertebro.assess import NOTICE, assess, default_rulebook, report_view, validate_json
from vertebro.errors import InvalidInput

from ._json import check_json
from ._templates import templates as _templates

__all__ = ["router"]

router = APIRouter()



@cache
def example_input() -> str:
    """The form's starting text: the AOSpine-EBSJ-2012 illustrative case.

    A copy of ``examples/aospine_case.json`` shipped in the package, because an installed
    wheel cannot reach the repository's ``examples/`` folder; a test keeps the two identical.
    """
    return (files("vertebro.web") / "data" / "aospine_case.json").read_text(encoding="utf-8")


def _guidelines() -> list[tuple[str, str]]:
    rb = default_rulebook()
    return [(pid, p.name) for pid, p in rb.profiles.items()]


def _case(text: str) -> dict[str, Any]:
    """Who the report is about, from the input (the engine output does not repeat it)."""
    data = json.loads(text)
    patient = data.get("patient") or {}
    bits = []
    if patient.get("age") is not None:
        bits.append(f"{patient['age']} years")
    if patient.get("sex"):
        bits.append(str(patient["sex"]))
    if patient.get("primary_cancer"):
        bits.append(f"primary: {patient['primary_cancer']}")
    return {"summary": ", ".join(bits), "note": data.get("note")}


def _form(
    request: Request,
    text: str,
    guideline: str,
    errors: Sequence[Mapping[str, str]] = (),
    status_code: int = 200,
) -> HTMLResponse:
    return _templates.TemplateResponse(
        request,
        "form.html",
        {
            "text": text,
            "guideline": guideline,
            "guidelines": _guidelines(),
            "errors": errors,
            "notice": NOTICE,
        },
        status_code=status_code,
    )


@router.get("/", response_class=HTMLResponse)
def form_page(request: Request) -> HTMLResponse:
    """The assessment form, filled in with an example patient."""
    return _form(request, example_input(), default_rulebook().default_profile)


def _assess(text: str, guideline: str) -> dict[str, Any]:
    check_json(text)  # the web-level limits first (deep nesting, huge numbers, ...)
    return assess(validate_json(text), guideline=guideline)


@router.post("/assess", response_class=HTMLResponse)
async def report_page(
    request: Request,
    patient: Annotated[str, Form()] = "",
    guideline: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The report for the patient in the form; invalid input: the form again, with every
    problem by field (HTTP 422)."""
    guideline = guideline or default_rulebook().default_profile
    try:
        result = await run_in_threadpool(_assess, patient, guideline)
    except InvalidInput as exc:
        errors = [{"field": e.field, "reason": e.reason} for e in exc.errors]
        return _form(request, patient, guideline, errors, status_code=422)
    return _templates.TemplateResponse(
        request,
        "report.html",
        {
            "view": report_view(result),
            "case": _case(patient),
            "text": patient,
            "guideline": guideline,
            "guidelines": _guidelines(),
        },
    )
