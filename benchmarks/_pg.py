"""A throwaway PostgreSQL database for a benchmark run, shared by the registry benchmarks."""

from __future__ import annotations

import uuid
from collections.abc import Callable


def pg_database(server_url: str, prefix: str = "bench") -> tuple[str, Callable[[], None]]:
    """Create an empty database on the server at ``server_url``; return its URL and a function
    that drops it. SQLAlchemy is imported here, so importing this module costs nothing."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from vertebro.registry.db import normalise_url

    server = make_url(normalise_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop
