"""`vertebro db grant`: give the PostgreSQL application role exactly its privileges.

Its own module so that the registry commands' module stays as it is; the command joins the
``db`` group of :mod:`vertebro.cli._registry`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._output import console
from ._registry import DbOpt, db_app

__all__ = ["register"]


@db_app.command("grant")
def db_grant(
    role: Annotated[str, typer.Argument(help="the application role (it logs in; owns nothing)")],
    db: DbOpt = None,
    show: Annotated[bool, typer.Option("--print", help="print the SQL instead of running it")]
    = False,
) -> None:
    """Grant the application role its least privileges (run as the owner, after every
    `db upgrade`): no DDL or TRUNCATE, INSERT-only audit log and assessments; the site
    policies of row-level security then apply to it (docs/registry.md)."""
    from vertebro.registry.db import make_engine
    from vertebro.registry.roles import grant_app_role, grant_statements

    if show:
        from sqlalchemy.engine import make_url

        from vertebro.registry.db import normalise_url

        database = make_url(normalise_url(db)).database or "vertebro"
        for sql in grant_statements(role, database):
            console().print(f"{sql};", markup=False, highlight=False, soft_wrap=True)
        return
    engine = make_engine(db, migrate=False)
    try:
        done = grant_app_role(engine, role)
    finally:
        engine.dispose()
    console().print(f"granted {role}: {len(done)} statements (least privilege, row-level "
                    "security by site applies)", markup=False)


def register(app: typer.Typer) -> None:
    """Nothing to add to ``app``: importing this module adds the command to ``db``."""
