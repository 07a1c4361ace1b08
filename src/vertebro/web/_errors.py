"""Error answers: a page for a browser, ``{"errors": [...]}`` for the API; capped lists.

One function for every error the app gives (refused host, oversized body, unknown path,
invalid input, refused access, unexpected failure), so that each is a page or JSON with the
privacy headers, never a bare text or a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.responses import HTMLResponse, JSONResponse, Response

from vertebro.errors import FieldError

from ._templates import env

__all__ = ["HEADERS", "MAX_ERRORS", "capped", "error_response", "wants_json"]

#: At most this many problems are listed; the rest are counted. A body with 100,000 unknown
#: keys must not answer with 100,000 lines.
MAX_ERRORS = 50

# Records carry patient data: no cache may keep them, no page may load anything from
# elsewhere (CSS and the one script are served by this app) or send a referrer.
HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}

_TITLES = {400: "Bad request", 401: "Sign-in needed", 403: "Not allowed", 404: "Not found",
           405: "Method not allowed", 413: "Request too large", 415: "Unsupported content type",
           422: "Invalid input", 429: "Too many attempts", 500: "Something went wrong"}


def capped(errors: Sequence[FieldError | Mapping[str, str]]) -> list[dict[str, str]]:
    """At most :data:`MAX_ERRORS` problems as ``{"field", "reason"}``, then a count."""
    out = [{"field": e.field, "reason": e.reason} if isinstance(e, FieldError)
           else {"field": e["field"], "reason": e["reason"]} for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        out.append({"field": "", "reason": f"... and {len(errors) - MAX_ERRORS} more problems "
                                          "not listed"})
    return out


def wants_json(path: str, accept: str = "") -> bool:
    """JSON for the API (and for a script that asks for JSON only), a page for a browser."""
    if path.startswith("/api/") or path == "/openapi.json":
        return True
    accept = accept.lower()
    return "json" in accept and "text/html" not in accept


def error_response(
    path: str,
    status: int,
    reason: str,
    errors: Sequence[FieldError | Mapping[str, str]] = (),
    *,
    headers: Mapping[str, str] | None = None,
    accept: str = "",
) -> Response:
    """The error as JSON (API paths, or ``accept`` asking for JSON only) or as a page;
    ``errors`` default to one ``reason``."""
    listed = capped(errors) if errors else [{"field": "", "reason": reason}]
    all_headers = {**HEADERS, **(headers or {})}
    if wants_json(path, accept):
        return JSONResponse({"errors": listed}, status_code=status, headers=all_headers)
    page = env.get_template("error.html").render(
        title=_TITLES.get(status, "Error"), status=status, reason=reason,
        errors=listed if errors else [], principal=None)
    return HTMLResponse(page, status_code=status, headers=all_headers)
