"""The OpenAPI schema: every request body described, every answer's shape and errors.

Routes that read their JSON body themselves (to put the web-level limits of :mod:`._json` in
front, and to answer with the library's own field paths and messages) declare no FastAPI body
parameter, so FastAPI would describe no body. :func:`json_body` describes it from the same
pydantic model that validates it, and :func:`install` adds those models to the schema's
components, the security schemes (session cookie, API token), and the error answers every
operation can give (the outer guard's 400, 413 and 415, the 422 of invalid input).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

__all__ = ["ERRORS", "ErrorItem", "ErrorList", "install", "json_body"]

_REF = "#/components/schemas/{model}"
_COMPONENTS: dict[str, dict[str, Any]] = {}


class ErrorItem(BaseModel):
    field: str = Field(description="the input path (``levels[0].escc``), '' for the request")
    reason: str


class ErrorList(BaseModel):
    """Every error answer of the API: at most 50 problems, then a count of the rest."""

    errors: list[ErrorItem]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorList, "description": description}


#: Error answers of the API routes, for their ``responses=``.
ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("not signed in: send a session cookie or Authorization: Bearer <token>"),
    403: _error("the signed-in user may not do this (role), or the CSRF token is missing"),
    404: _error("no such record visible to the signed-in user"),
    409: _error("refused as it stands (e.g. a patient code used at several sites)"),
    422: _error("invalid input, field by field; nothing was written"),
}

_GUARD_ERRORS = {
    "400": "the Host header is not one this server answers to",
    "413": "the body is larger than the server accepts (256 kB)",
    "415": "the content type is not accepted (JSON for /api, forms for pages)",
}


def _register(name: str, schema: dict[str, Any]) -> None:
    if _COMPONENTS.get(name, schema) != schema:
        raise RuntimeError(f"two OpenAPI components named {name!r}")  # a bug, found at start
    _COMPONENTS[name] = schema


def json_body(model: type[BaseModel], description: str) -> dict[str, Any]:
    """``openapi_extra`` for a route that validates its JSON body with ``model`` itself."""
    schema = model.model_json_schema(ref_template=_REF)
    for name, sub in schema.pop("$defs", {}).items():
        _register(name, sub)
    _register(model.__name__, schema)
    return {"requestBody": {
        "required": True, "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}},
    }}


_FREE_FORM = {"application/x-www-form-urlencoded": {"schema": {
    "type": "object", "additionalProperties": {"type": "string"},
    "description": "the page's form fields (their names are the input paths of "
                   "docs/assessment.md) and csrf_token",
}}}

_SECURITY_SCHEMES = {
    "token": {"type": "http", "scheme": "bearer",
              "description": "an API token from POST /api/registry/tokens or /account"},
    "session": {"type": "apiKey", "in": "cookie", "name": "vertebro_session",
                "description": "the browser's session after /login; changes also need the "
                               "X-CSRF-Token header"},
}


def _complete(schema: dict[str, Any]) -> dict[str, Any]:
    comps = schema.setdefault("components", {})
    schemas = comps.setdefault("schemas", {})
    for name, sub in _COMPONENTS.items():
        if schemas.get(name, sub) != sub:
            raise RuntimeError(f"OpenAPI component {name!r} defined twice, differently")
        schemas[name] = sub
    schemas.setdefault("ErrorItem", ErrorItem.model_json_schema(ref_template=_REF))
    error_list = ErrorList.model_json_schema(ref_template=_REF)
    error_list.pop("$defs", None)
    schemas.setdefault("ErrorList", error_list)
    comps["securitySchemes"] = _SECURITY_SCHEMES
    error_ref = {"$ref": _REF.format(model="ErrorList")}
    for path, ops in schema.get("paths", {}).items():
        api = path.startswith("/api/")
        # an error is {"errors": [...]} on the API and a page elsewhere (._errors)
        error_content = ({"application/json": {"schema": error_ref}} if api
                         else {"text/html": {"schema": {"type": "string"}}})
        for method, op in ops.items():
            responses = op.setdefault("responses", {})
            unsafe = method in ("post", "put", "patch", "delete")
            for status, text in _GUARD_ERRORS.items():
                if status == "400" or unsafe:
                    responses.setdefault(status, {"description": text})
            if unsafe:
                responses.setdefault("403", {"description": "the CSRF token is missing or "
                                             "wrong (a browser's form or cookie request)"})
                responses.setdefault("422", {"description": "invalid input, field by field; "
                                             "nothing was written"})
            for status, answer in responses.items():
                if status[0] in "45":
                    answer["content"] = error_content
            if method == "post" and "requestBody" not in op and not api:
                op["requestBody"] = {"required": False, "content": _FREE_FORM}
            if path.startswith("/api/registry/"):
                op["security"] = [{"token": []}, {"session": []}]
    text = json.dumps(schema["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's, replaced above
        if _REF.format(model=unused) + '"' not in text:
            schemas.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` the complete schema (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _complete(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    setter: Callable[[], dict[str, Any]] = openapi
    app.openapi = setter  # type: ignore[method-assign]
