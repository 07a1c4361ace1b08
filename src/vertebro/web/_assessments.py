"""Assessments stored in the registry: save a report's assessment, reopen it, its PDF.

Saving is ``Registry.record_assessment`` with the signed-in user as the actor, the path of
``vertebro registry assess``: the engine runs again on the submitted answers and its input,
output, rulebook and engine versions are stored in one audited transaction. Reopening reads
``Registry.get_assessment``, which applies the registry's access rule (another site's
assessment is "not found", HTTP 404), and shows the stored output, never a fresh run: the
record is what the tumour board saw. Without sign-in nothing is stored (``current_user``
sends the browser to the sign-in page).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vertebro.assess import assess, default_rulebook, report_view
from vertebro.errors import InvalidInput, RegistryError

from ._auth import CurrentUser, Principal, registry
from ._pages import input_from_text
from ._pdf import ReportMeta, render_pdf
from ._report_page import (
    cannot_save,
    case_of,
    guideline_text,
    render_report,
    save_box,
    unsaved_meta,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _date(value: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidInput.field("assessed_on", f"{value!r} is not a date (YYYY-MM-DD)") from None


def mismatches(registered: dict[str, Any], data: dict[str, Any], on: dt.date) -> list[str]:
    """Where the answers contradict the registry's record of the patient (sex, primary
    cancer, age against the birth year): a sign the assessment may be saved to the wrong
    patient. Unknown on either side is no contradiction."""
    answers = data.get("patient") or {}
    found = []
    for key, label in (("sex", "sex"), ("primary_cancer", "primary cancer")):
        mine, theirs = answers.get(key), registered.get(key)
        if mine and theirs and theirs != "unknown" and str(mine).strip().lower() != theirs:
            found.append(f"{label} {mine!r} in the answers, {theirs!r} in the registry")
    age, born = answers.get("age"), registered.get("birth_year")
    if isinstance(age, int | float) and isinstance(born, int) and not (
        on.year - born - 1 <= age <= on.year - born
    ):
        found.append(f"age {age:g} in the answers, born {born} in the registry "
                     f"(so {on.year - born - 1} or {on.year - born} on {on})")
    return found


@router.post("/assessments", response_class=HTMLResponse)
def save_assessment(
    request: Request,
    user: CurrentUser,
    patient: Annotated[str, Form()] = "",
    guideline: Annotated[str, Form(max_length=64)] = "",
    registry_patient: Annotated[str, Form(max_length=200)] = "",
    assessed_on: Annotated[str, Form(max_length=32)] = "",
    confirm_patient: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Store the report's assessment for a patient of the user's site, then open it (303).

    When the answers contradict the registry's record of the patient (:func:`mismatches`),
    nothing is stored until the user confirms that the differences are explained."""
    guideline = guideline or default_rulebook().default_profile
    if why := cannot_save(user):
        raise HTTPException(403, why)
    data = input_from_text(patient)  # the report's own JSON; invalid: 422 with the fields
    ref = registry_patient.strip()

    def again(error: str = "", date_error: str = "", status: int = 422,
              confirm: bool = False) -> HTMLResponse:
        view = report_view(assess(data, guideline=guideline))
        box = save_box(request, user, patient=ref, assessed_on=assessed_on, error=error,
                       date_error=date_error, confirm=confirm)
        return render_report(request, view, data, guideline, unsaved_meta(user, guideline),
                             save=box, user=user, status_code=status)

    if not ref:
        return again("give the registry patient's code")
    try:
        on = _date(assessed_on)
    except InvalidInput as exc:
        return again(date_error=exc.errors[0].reason)
    if on is not None and on > dt.date.today():
        return again(date_error=f"{on} is in the future")
    reg = registry(request)
    try:
        if confirm_patient != "yes" and (diffs := mismatches(
                reg.get_patient(user.username, ref), data, on or dt.date.today())):
            return again("the answers do not match this patient's registry record: "
                         + "; ".join(diffs) + ". Check the code; if the differences are "
                         "explained, confirm below and save again", confirm=True)
        stored = reg.record_assessment(user.username, ref, data, guideline=guideline,
                                       assessed_on=on)
    except RegistryError as exc:  # not visible (another site's, or none), ambiguous, refused
        return again(f"{exc}: check the code, or add the patient in the registry first")
    return RedirectResponse(f"/assessments/{stored['assessment_id']}", status_code=303)


def _meta(saved: dict[str, Any]) -> ReportMeta:
    if saved.get("assessed_on"):  # a researcher's view has no date, no author
        date = saved["assessed_on"]
    elif saved.get("day") is not None:
        date = f"day {saved['day']} from the index procedure"
    else:
        date = "before any procedure"
    return ReportMeta(
        patient=f"{saved['patient']} (site {saved['site']})",
        date=date,
        author=saved.get("run_by") or "not shown in the research view",
        guideline=guideline_text(saved["guideline"]),
        reference=f"registry assessment {saved['assessment_id']}",
    )


def _saved(request: Request, user: Principal, assessment_id: int) -> dict[str, Any]:
    saved: dict[str, Any] = registry(request).get_assessment(user.username, assessment_id)
    return saved


# Declared before /assessments/{id}, whose int parameter would refuse "12.pdf".
@router.get("/assessments/{assessment_id}.pdf")
async def saved_pdf(request: Request, user: CurrentUser, assessment_id: int) -> Response:
    """The stored assessment's tumour-board report as PDF: patient, date, author, versions."""

    def render() -> bytes:
        saved = _saved(request, user, assessment_id)
        return render_pdf(report_view(saved["output"]), case_of(saved["input"]), _meta(saved))

    pdf = await run_in_threadpool(render)
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition":
            f'attachment; filename="vertebro-assessment-{assessment_id}.pdf"'})


@router.get("/assessments/{assessment_id}", response_class=HTMLResponse)
def saved_page(request: Request, user: CurrentUser, assessment_id: int) -> HTMLResponse:
    """A stored assessment, as the report page of its stored output."""
    saved = _saved(request, user, assessment_id)
    return render_report(request, report_view(saved["output"]), saved["input"],
                         saved["guideline"], _meta(saved), saved=saved, user=user)
