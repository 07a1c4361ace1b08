"""`vertebro serve`: the web app (assessment API and pages) with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: Annotated[
            str,
            typer.Option(
                help="Interface to listen on. The default, 127.0.0.1, is this machine only; "
                "there is no authentication and no TLS, so put a reverse proxy with both in "
                "front before binding to a network interface."
            ),
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    ) -> None:
        """Serve the assessment in a browser (/) and as JSON (/api/assess, /api/rulebook,
        /api/health). Binds to localhost only unless --host says otherwise.

        Nothing is stored; request bodies are not logged. The registry is not served.
        """
        # Imported here so that the other commands start without loading the web stack.
        import uvicorn

        uvicorn.run("vertebro.web:create_app", factory=True, host=host, port=port)
