"""The app factory: routers, the one error mapping, and response headers for privacy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from vertebro import __version__
from vertebro.errors import InvalidInput

from ._api import router as api_router
from ._pages import router as pages_router

__all__ = ["create_app"]

# Assessments carry patient data: no cache may keep them, no page may load anything from
# elsewhere (the CSS is inline, scripts and images come from this server only) or send a
# referrer. Set on every response, so that error responses are covered too.
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; "
        "connect-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def _invalid_input(request: Request, exc: Exception) -> Response:
    # The CLI's field paths and messages, as JSON; HTTP 422 is the CLI's exit code 2.
    assert isinstance(exc, InvalidInput)
    return JSONResponse(
        {"errors": [{"field": e.field, "reason": e.reason} for e in exc.errors]},
        status_code=422,
    )


def create_app() -> FastAPI:
    """The vertebro web app: ``/api/assess``, ``/api/rulebook``, ``/api/health`` and the
    assessment pages (``/``, ``POST /assess``)."""
    app = FastAPI(
        title="vertebro",
        version=__version__,
        description=(
            "Decision support for vertebral augmentation in cancer-related vertebral "
            "compression fractures; the assessment contract is docs/assessment.md. "
            "Decision support for clinicians, not a decision and not a medical device."
        ),
        # The interactive docs load scripts from a CDN; the schema stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(api_router)
    app.include_router(pages_router)
    # The form's script, shipped in the package (no CDN).
    app.mount("/static", StaticFiles(packages=[("vertebro.web", "static")]), name="static")
    app.add_exception_handler(InvalidInput, _invalid_input)

    @app.middleware("http")
    async def _privacy_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(_HEADERS)
        return response

    return app
