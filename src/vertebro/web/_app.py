"""The app factory: the outer guard, the error mapping, sign-in and the routers."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from vertebro import __version__
from vertebro.errors import (
    DatabaseError,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    RegistryError,
)
from vertebro.registry import Registry
from vertebro.settings import Settings, get_settings

from ._api import router as api_router
from ._assessments import router as assessments_router
from ._auth import CsrfSeed, csrf_field, csrf_protect
from ._dashboards import router as dashboards_router
from ._errors import error_response
from ._guard import Guard
from ._openapi import install as install_openapi
from ._pages import router as pages_router
from ._registry_api import router as registry_api_router
from ._registry_pages import router as registry_pages_router
from ._signin import router as signin_router
from ._templates import env

__all__ = ["create_app", "registry_status"]

log = logging.getLogger("vertebro.web")


def registry_status(exc: RegistryError) -> int:
    """By the error's type, never its wording: 404 when the service layer found nothing
    visible to the user (so another site's record is indistinguishable from none), 403 when
    the user may not do this, 409 for any other refusal (e.g. an ambiguous patient code)."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Forbidden):
        return 403
    return 409


def _error(request: Request, status: int, reason: str,
           errors: Sequence[FieldError] = (), headers: Mapping[str, str] | None = None
           ) -> Response:
    return error_response(request.url.path, status, reason, errors, headers=headers,
                          accept=request.headers.get("accept", ""))


def _invalid_input(request: Request, exc: Exception) -> Response:
    # The CLI's field paths and messages; HTTP 422 is the CLI's exit code 2.
    assert isinstance(exc, InvalidInput)
    return _error(request, 422, "invalid input: nothing was written", exc.errors)


def _registry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegistryError)
    return _error(request, registry_status(exc), str(exc))


def _database_error(request: Request, exc: Exception) -> Response:
    # the store is busy or unreachable: the server's condition, said as such (the CLI's
    # exit code 2 names the same cause); nothing was written
    assert isinstance(exc, DatabaseError)
    log.error("database error on %s %s: %s", request.method, request.url.path, exc)
    return _error(request, 503, f"the registry database cannot be used just now: {exc}",
                  headers={"Retry-After": "5"})


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if 300 <= exc.status_code < 400 and exc.headers and "Location" in exc.headers:
        return RedirectResponse(exc.headers["Location"], status_code=exc.status_code)
    return _error(request, exc.status_code, str(exc.detail), headers=exc.headers)


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "form")]
        errors.append(FieldError(".".join(loc), str(e.get("msg", "invalid"))))
    return _error(request, 422, "invalid input", errors)


def _server_error(request: Request, exc: Exception) -> Response:
    # Runs in Starlette's outermost error middleware, so error_response adds the privacy
    # headers itself; the traceback goes to the log, never to the user.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error(request, 500, "an unexpected error: nothing was written; the server log has "
                  "the details")


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # What start-up built (the imported libraries, the app, the rulebook: about 300,000
    # objects) lives as long as the worker. Frozen out of the garbage collector's sight, a
    # full collection scans only what requests made since: measured in-process, a 310 ms
    # pause (the tail of docs/web.md's load benchmark) became none, and the patient list
    # cost a third less CPU. Once per process (a test creates many apps).
    if not gc.get_freeze_count():
        gc.collect()
        gc.freeze()
    yield


def create_app(settings: Settings | None = None, registry: Registry | None = None) -> FastAPI:
    """The vertebro web app: the assessment (``/``, ``/api/assess``), sign-in, the registry
    pages (``/registry``) and JSON API (``/api/registry``).

    ``settings`` default to :func:`vertebro.settings.get_settings`; the registry is opened
    from ``settings.database_url`` on first use unless given.
    """
    settings = settings or get_settings()
    app = FastAPI(
        title="vertebro",
        version=__version__,
        description=(
            "Decision support for vertebral augmentation in cancer-related vertebral "
            "compression fractures; the assessment contract is docs/assessment.md. "
            "Decision support for clinicians, not a decision and not a medical device. "
            "Registry endpoints need a session cookie (with the X-CSRF-Token header for "
            "changes) or an API token (Authorization: Bearer)."
        ),
        # The interactive docs load scripts from a CDN; the schema stays at /openapi.json.
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(csrf_protect)],
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.secret_key = (settings.secret_key or secrets.token_hex(32)).encode()
    app.state.registry = registry
    app.state.accounts = None
    env.globals["csrf_field"] = csrf_field
    app.include_router(api_router)
    app.include_router(registry_api_router)
    app.include_router(signin_router)
    app.include_router(pages_router)
    app.include_router(registry_pages_router)
    app.include_router(assessments_router)
    app.include_router(dashboards_router)
    app.mount("/static", StaticFiles(packages=[("vertebro.web", "static")]), name="static")
    app.add_exception_handler(InvalidInput, _invalid_input)
    app.add_exception_handler(RegistryError, _registry_error)
    app.add_exception_handler(DatabaseError, _database_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
    app.add_middleware(CsrfSeed)
    app.add_middleware(Guard, allowed_hosts=settings.allowed_hosts)
    install_openapi(app)
    return app
