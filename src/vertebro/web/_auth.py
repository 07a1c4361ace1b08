"""Who is asking: the session cookie or an API token, resolved by the registry's accounts.

The interface other web modules code against:

* :func:`current_user` (a FastAPI dependency): the signed-in :class:`Principal`; a page
  request without one is redirected to ``/login`` (HTTP 303), an API request answered 401.
* :func:`optional_user`: the :class:`Principal` or ``None``.
* :func:`csrf_field`: the hidden CSRF input for a template's ``<form method="post">``;
  :func:`csrf_protect`, installed on the whole app, checks it on every POST, PUT, PATCH and
  DELETE that a browser could be tricked into sending (one with the session cookie, or a
  form submission). A script with ``Authorization: Bearer`` and no cookie needs none.

What a principal may see or change is never decided here: routes call
:class:`vertebro.registry.Registry` with ``principal.username`` as the acting user.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from markupsafe import Markup, escape
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vertebro.registry import Registry
from vertebro.registry.accounts import Accounts, Principal
from vertebro.settings import Settings

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CsrfSeed",
    "CurrentUser",
    "Principal",
    "accounts",
    "cookie_secure",
    "csrf_field",
    "csrf_protect",
    "csrf_token",
    "current_user",
    "optional_user",
    "registry",
    "registry_dependency",
]

SESSION_COOKIE = "vertebro_session"
CSRF_COOKIE = "vertebro_csrf"  # binds the CSRF token of a browser that is not signed in
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
_lock = threading.Lock()
_UNRESOLVED = object()


# ------------------------------------------------------------------ the registry of the app
def registry(request: Request) -> Registry:
    """The app's registry, opened on first use (the assessment pages need none)."""
    state = request.app.state
    if state.registry is None:
        with _lock:
            if state.registry is None:
                state.registry = Registry(state.settings.database_url)
    reg: Registry = state.registry
    return reg


async def registry_dependency(request: Request) -> Registry:
    """:func:`registry` as a FastAPI dependency, ``async`` so that it is called on the event
    loop: FastAPI would run a plain ``def`` in the thread pool, a hop for a field read."""
    return registry(request)


def accounts(request: Request) -> Accounts:
    state = request.app.state
    if state.accounts is None:
        reg = registry(request)
        with _lock:
            if state.accounts is None:
                state.accounts = Accounts(reg)
    acc: Accounts = state.accounts
    return acc


def cookie_secure(request: Request) -> bool:
    """``Secure`` cookies unless configured off, or (``auto``) a loopback host over HTTP."""
    return _secure(request.app.state.settings, request.url.scheme, request.url.hostname or "")


def _secure(settings: Settings, scheme: str, hostname: str) -> bool:
    if settings.cookie_secure in ("true", "1", "yes"):
        return True
    if settings.cookie_secure in ("false", "0", "no"):
        return False
    return scheme == "https" or hostname.lower() not in _LOOPBACK


def client_address(request: Request) -> str | None:
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return host[:64] if host else None


# ------------------------------------------------------------------ principals
def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def optional_user(request: Request) -> Principal | None:
    """The signed-in user (API token first, then the session cookie), or None.

    Looked up in the store on every request (a revoked session or token ends at once).
    ``async`` because FastAPI runs a plain ``def`` dependency in the thread pool, a hop of
    about 0.2 ms of CPU on the development machine (docs/web.md, "Load benchmark"). The
    token lookup is one indexed read, which never waits on a writer (SQLite in WAL mode,
    PostgreSQL), so it runs on the event loop; the session lookup may also write (the idle
    clock, once a minute) and could wait for the database's write lock, so it runs in the
    thread pool, leaving the loop free for the worker's other requests.
    """
    cached = getattr(request.state, "principal", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cached if isinstance(cached, Principal) else None
    who = None
    token = _bearer(request)
    if token is not None:
        who = accounts(request).token_user(token)
    elif (cookie := request.cookies.get(SESSION_COOKIE)):
        who = await run_in_threadpool(accounts(request).session_user, cookie)
    request.state.principal = who
    return who


async def current_user(
    request: Request, who: Annotated[Principal | None, Depends(optional_user)]
) -> Principal:
    """The signed-in user; otherwise 303 to ``/login`` for a page, 401 for the API."""
    if who is not None:
        return who
    if request.url.path.startswith("/api/"):
        raise HTTPException(401, "sign in first: a session cookie or an API token "
                            "(Authorization: Bearer ...)", headers={"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    from urllib.parse import quote

    raise HTTPException(303, "sign in first", headers={"Location": f"/login?next={quote(target)}"})


CurrentUser = Annotated[Principal, Depends(current_user)]


# ------------------------------------------------------------------ CSRF
def _secret(request: Request) -> bytes:
    key: bytes = request.app.state.secret_key
    return key


def _binding(request: Request) -> str | None:
    return (request.cookies.get(SESSION_COOKIE) or request.cookies.get(CSRF_COOKIE)
            or request.scope.get("state", {}).get("csrf_seed"))


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser: an HMAC of its session (or pre-session) cookie."""
    binding = _binding(request) or ""
    return hmac.new(_secret(request), f"csrf:{binding}".encode(), hashlib.sha256).hexdigest()


def csrf_field(request: Request) -> Markup:
    """``<input type="hidden" name="csrf_token" ...>`` for a POST form."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, escape(csrf_token(request)))


async def csrf_protect(request: Request) -> None:
    """Refuse (403) a state-changing request a browser could send on another site's behalf
    without this browser's CSRF token (header ``X-CSRF-Token`` or form field)."""
    if request.method not in _UNSAFE:
        return
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    is_form = ctype in ("application/x-www-form-urlencoded", "multipart/form-data")
    has_cookie = SESSION_COOKIE in request.cookies
    if not (has_cookie or is_form):
        return  # no ambient credential and not a form: a script (token or anonymous)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and is_form:
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not (_binding(request) and sent and hmac.compare_digest(sent, csrf_token(request))):
        raise HTTPException(403, "the form is out of date or was not sent from this site "
                            "(CSRF token missing or wrong): reload the page and try again")


class CsrfSeed:
    """Give a browser that has neither cookie a random pre-session cookie, so that the
    forms it is shown (the sign-in form first) carry a token bound to it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith("/api/"):
            await self.app(scope, receive, send)
            return
        cookies = Headers(scope=scope).get("cookie", "")
        if SESSION_COOKIE + "=" in cookies or CSRF_COOKIE + "=" in cookies:
            await self.app(scope, receive, send)
            return
        seed = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_seed"] = seed

        async def send_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure = _secure(scope["app"].state.settings, scope.get("scheme", "http"),
                                 _hostname(scope))
                value = (f"{CSRF_COOKIE}={seed}; Path=/; HttpOnly; SameSite=Lax"
                         + ("; Secure" if secure else ""))
                message["headers"] = [*message.get("headers", []),
                                      (b"set-cookie", value.encode())]
            await send(message)

        await self.app(scope, receive, send_cookie)


def _hostname(scope: Scope) -> str:
    host = Headers(scope=scope).get("host", "").lower()
    return host.split("]", 1)[0] + "]" if host.startswith("[") else host.split(":", 1)[0]
