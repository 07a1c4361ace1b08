"""The outermost layer: Host check, body-size cap, content type, privacy headers.

A pure ASGI middleware rather than Starlette's ``TrustedHostMiddleware`` and friends,
because every refusal here must be an error page or JSON with the privacy headers (theirs
answer bare text), and the body cap must hold for bodies sent without a Content-Length.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import HEADERS, error_response

__all__ = ["MAX_BODY", "Guard"]

#: Largest request body accepted (bytes). An assessment is about 2 kB, a registry form less;
#: four 20 MB bodies once took the process to 1.2 GB.
MAX_BODY = 256 * 1024

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_RAW_HEADERS = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]


def host_allowed(host_header: str, allowed: Sequence[str]) -> bool:
    """``host[:port]`` against names like ``example.org``, ``*.example.org`` or ``*``."""
    host = host_header.strip().lower()
    if host.startswith("["):  # [v6]:port
        host = host.split("]", 1)[0] + "]"
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    for pattern in allowed:
        p = pattern.lower()
        if p == "*" or p == host or (p.startswith("*.") and host.endswith(p[1:])):
            return True
    return False


class Guard:
    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str],
                 max_body: int = MAX_BODY) -> None:
        self.app = app
        self.allowed_hosts = tuple(allowed_hosts)
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        headers = Headers(scope=scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in _RAW_HEADERS if h[0] not in present)]
            await send(message)

        async def refuse(status: int, reason: str) -> None:
            await error_response(path, status, reason, accept=headers.get("accept", ""))(
                scope, receive, send)

        if not host_allowed(headers.get("host", ""), self.allowed_hosts):
            await refuse(400, "this server does not answer to that host name "
                         "(VERTEBRO_ALLOWED_HOSTS)")
            return
        if scope.get("method") not in _UNSAFE:
            await self.app(scope, receive, send_with_headers)
            return
        length = headers.get("content-length")
        if length is not None and not (length.isascii() and length.isdigit()):
            await refuse(400, "the Content-Length header is not a number")
            return
        if length is not None and (len(length) > 12 or int(length) > self.max_body):
            await refuse(413, f"the body is larger than {self.max_body // 1024} kB")
            return
        # read the whole body here (bounded), so that a body without a Content-Length is
        # capped too, then hand it on
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await refuse(413, f"the body is larger than {self.max_body // 1024} kB")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if body and ctype:
            api = path.startswith("/api/")
            ok = ctype == "application/json" if api else ctype in _FORM_TYPES
            if not ok:
                want = "application/json" if api else "a form (" + ", ".join(_FORM_TYPES) + ")"
                await refuse(415, f"content type {ctype!r} is not accepted here: send {want}")
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send_with_headers)
