"""``/api``: the assessment as JSON, the rulebook and the versions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from vertebro.assess import (
    DISPOSITIONS,
    ENGINE_VERSION,
    AssessmentInput,
    assess,
    default_rulebook,
    validate_json,
)

from ._json import check_json
from ._openapi import ERRORS, json_body
from ._response import FastJSONResponse

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["assessment"])

Disposition = Literal[DISPOSITIONS]  # type: ignore[valid-type]


class AssessmentOutput(BaseModel):
    """The answer of ``vertebro.assess`` (docs/assessment.md, "Output"); documented here,
    not re-validated: the body is the library's dict, key for key."""

    model_config = ConfigDict(extra="allow")
    disposition: Disposition
    guideline: str
    guidelines: dict[str, Any]
    levels: list[dict[str, Any]]
    sessions: list[list[str]]
    offers_without_session: list[Any]
    readings: list[Any]
    actions: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    missing: list[dict[str, Any]] = Field(description="facts that could change the answer")
    notes: list[dict[str, Any]]
    flags: list[Any]
    performance_status: dict[str, Any]
    expected_outcomes: dict[str, Any]
    evidence: list[dict[str, Any]]
    rulebook_version: str
    engine_version: str
    notice: str


class Health(BaseModel):
    status: Literal["ok"]
    engine_version: str
    rulebook_version: str


class RulebookView(BaseModel):
    model_config = ConfigDict(extra="allow")
    rulebook_version: str
    rules: list[dict[str, Any]]


def _assess(body: bytes, guideline: str | None) -> dict[str, Any]:
    # The raw body goes to the library, not to a FastAPI-declared model, so that a bad input
    # is reported with the CLI's field paths and messages (InvalidInput -> 422 in _app).
    check_json(body)  # the web-level limits first (deep nesting, huge numbers, ...)
    return assess(validate_json(body), guideline=guideline)


@router.post("/assess", response_class=FastJSONResponse,
             responses={200: {"model": AssessmentOutput}, 422: ERRORS[422]},
             openapi_extra=json_body(AssessmentInput, (
                 "one patient: the input of docs/assessment.md (unknown facts left out or "
                 "null, never guessed)")))
async def assess_api(
    request: Request,
    guideline: Annotated[str | None, Query(max_length=64, description=(
        "guideline profile (GET /api/rulebook lists them); default jnccn2012"))] = None,
) -> FastJSONResponse:
    """Assess one patient: the body is the input of docs/assessment.md, the answer is
    exactly ``vertebro.assess(body, guideline=guideline)``. Invalid input: 422 with
    ``{"errors": [{"field", "reason"}, ...]}``."""
    body = await request.body()
    # CPU-bound (a third of a millisecond) and so on the event loop: a thread-pool hop cost
    # about as much CPU again, and with the GIL a thread would not run it alongside the loop
    # anyway; concurrency comes from the workers (`vertebro serve --workers N`).
    # The library's dict as is, key for key, not re-validated by a response model.
    return FastJSONResponse(_assess(body, guideline))


@router.get("/rulebook", response_model=RulebookView)
def rulebook_api() -> dict[str, Any]:
    """Every rule (id, source, what it says, when it fires) and the rulebook version, as
    ``vertebro rules list --format json``."""
    rb = default_rulebook()
    return {"rulebook_version": rb.version, "rules": [r.as_dict() for r in rb.rules]}


@router.get("/health", response_model=Health)
async def health_api() -> dict[str, str]:
    """Which engine and rulebook answer here."""
    return {
        "status": "ok",
        "engine_version": ENGINE_VERSION,
        "rulebook_version": default_rulebook().version,
    }
