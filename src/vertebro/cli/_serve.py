"""`vertebro serve`: the web app with uvicorn, in one process or several (``--workers``)."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: Annotated[
            str,
            typer.Option(
                help="Interface to listen on. The default, 127.0.0.1, is this machine only. "
                "There is no TLS here: to serve other machines, put a TLS proxy in front "
                "(docs/web.md, README 'Running behind a TLS proxy') and keep this on "
                "127.0.0.1."
            ),
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
        workers: Annotated[int, typer.Option(
            help="Worker processes (each builds the app from the settings); more than one "
            "needs VERTEBRO_SECRET_KEY, which the workers share.", min=1, max=64)] = 1,
        forwarded_allow_ips: Annotated[str, typer.Option(
            help="Addresses of the TLS proxy whose X-Forwarded-Proto and X-Forwarded-For "
            "are trusted (comma-separated; '*' trusts anyone who can connect).",
            envvar="FORWARDED_ALLOW_IPS")] = "127.0.0.1",
    ) -> None:
        """Serve the web app: the assessment (/, /api/assess), sign-in (/login), the registry
        pages (/registry) and JSON API (/api/registry; schema at /openapi.json).

        Settings come from the environment: VERTEBRO_DATABASE_URL, VERTEBRO_SECRET_KEY,
        VERTEBRO_ALLOWED_HOSTS, VERTEBRO_COOKIE_SECURE. Request bodies are not logged.
        """
        from vertebro.errors import InvalidInput
        from vertebro.settings import get_settings

        if workers > 1 and not get_settings().secret_key:
            raise InvalidInput.field(
                "--workers", f"{workers} workers need VERTEBRO_SECRET_KEY: each worker signs "
                "the CSRF tokens the others check",
                hint="export VERTEBRO_SECRET_KEY=$(python3 -c 'import secrets; "
                "print(secrets.token_hex(32))')")
        # Imported here so that the other commands start without loading the web stack.
        import uvicorn

        extra: dict[str, Any] = {}
        if workers > 1 and "timeout_worker_healthcheck" in inspect.signature(
                uvicorn.Config).parameters:
            # a spawned worker imports this CLI again before it answers the supervisor's
            # first ping: seconds on a busy machine, more than uvicorn's 5 s default
            extra["timeout_worker_healthcheck"] = 60
        # an import string and a factory: each worker process builds its own app
        uvicorn.run("vertebro.web:create_app", factory=True, host=host, port=port,
                    workers=workers, proxy_headers=True,
                    forwarded_allow_ips=forwarded_allow_ips, server_header=False, **extra)
