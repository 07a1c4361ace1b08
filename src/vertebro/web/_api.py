"""``/api``: the assessment as JSON, the rulebook and the versions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from vertebro.assess import ENGINE_VERSION, assess, default_rulebook, validate_json

from ._json import check_json

__all__ = ["router"]

router = APIRouter(prefix="/api")


def _assess(body: bytes, guideline: str | None) -> dict[str, Any]:
    # The raw body goes to the library, not to a FastAPI-declared model, so that a bad input
    # is reported with the CLI's field paths and messages (InvalidInput -> 422 in _app).
    check_json(body)  # the web-level limits first (deep nesting, huge numbers, ...)
    return assess(validate_json(body), guideline=guideline)


@router.post("/assess", response_class=JSONResponse)
async def assess_api(request: Request, guideline: str | None = None) -> JSONResponse:
    """Assess one patient: the body is the input of docs/assessment.md, the answer is
    exactly ``vertebro.assess(body, guideline=guideline)``. Invalid input: 422 with
    ``{"errors": [{"field", "reason"}, ...]}``."""
    body = await request.body()
    # CPU-bound (about a millisecond): off the event loop, so that other requests proceed.
    # JSONResponse as is: no re-encoding, so the body is the library's dict, key for key.
    return JSONResponse(await run_in_threadpool(_assess, body, guideline))


@router.get("/rulebook")
def rulebook_api() -> dict[str, Any]:
    """Every rule (id, source, what it says, when it fires) and the rulebook version, as
    ``vertebro rules list --format json``."""
    rb = default_rulebook()
    return {"rulebook_version": rb.version, "rules": [r.as_dict() for r in rb.rules]}


@router.get("/health")
def health_api() -> dict[str, str]:
    """Which engine and rulebook answer here."""
    return {
        "status": "ok",
        "engine_version": ENGINE_VERSION,
        "rulebook_version": default_rulebook().version,
    }
