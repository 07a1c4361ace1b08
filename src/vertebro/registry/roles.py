"""Least privilege on PostgreSQL (issue 15.4): what the application role may do, as data.

Two roles: the **owner** owns the schema and runs the migrations (``vertebro db init`` /
``db upgrade``) and nothing else; the **application** role is what ``vertebro`` and ``vertebro
serve`` connect as day to day. The application role owns nothing, so it cannot run DDL
(``CREATE``, ``ALTER``, ``DROP``), ``TRUNCATE`` or change privileges; it gets the table
privileges of :data:`APP_PRIVILEGES`, which leave the audit log and stored assessments
INSERT-only (no UPDATE or DELETE, beside the triggers of migration 0003), and row-level
security by site (migration 0005) applies to it. :func:`grant_statements` is the script (also
``vertebro db grant ROLE --print``), :func:`grant_app_role` runs it as the owner; run it again
after every ``db upgrade`` (it is idempotent, and refuses a table it has no rule for).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from vertebro.errors import DatabaseError

from ._dberrors import translate
from .models import Base

__all__ = [
    "APP_PRIVILEGES",
    "RLS_TABLES",
    "RoleCheck",
    "check_app_role",
    "grant_app_role",
    "grant_statements",
    "missing_policies",
    "schema_tables",
]

_RW: Final = ("SELECT", "INSERT", "UPDATE", "DELETE")
_APPEND: Final = ("SELECT", "INSERT")

#: table -> what the application role may do to it; every table of the schema is listed
#: (a test checks it), so a new table cannot be granted by accident or forgotten
APP_PRIVILEGES: Final[dict[str, tuple[str, ...]]] = {
    # clinical records: the service adds, corrects and (audited) removes them
    "patient": _RW,
    "procedure": _RW,
    "procedure_level": _RW,
    "complication": _RW,
    "follow_up": _RW,
    # derived from the follow-ups (registry.choices): rewritten per procedure, never updated
    "follow_up_choice": ("SELECT", "INSERT", "DELETE"),
    # immutable once written
    "assessment": _APPEND,
    "audit_log": _APPEND,
    "account_event": _APPEND,
    # administration and sign-in state: nothing is ever deleted, users are deactivated
    "site": ("SELECT", "INSERT", "UPDATE"),
    "app_user": ("SELECT", "INSERT", "UPDATE"),
    "user_credential": ("SELECT", "INSERT", "UPDATE"),
    "web_session": ("SELECT", "INSERT", "UPDATE"),
    "api_token": ("SELECT", "INSERT", "UPDATE"),
    # written by the owner when the store is made (the key's fingerprint) and by migrations
    "registry_meta": ("SELECT",),
    "alembic_version": ("SELECT",),
}

#: tables with a site policy (migrations 0005 and 0006), as in their ``POLICIES``
RLS_TABLES: Final = ("patient", "assessment", "procedure", "procedure_level", "complication",
                     "follow_up", "follow_up_choice")


def _ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (a role name comes from the command line)."""
    if not name or len(name) > 63 or "\x00" in name:
        raise DatabaseError(f"role name {name!r}: 1-63 characters, no NUL")
    return '"' + name.replace('"', '""') + '"'


def grant_statements(app_role: str, database: str, tables: list[str] | None = None
                     ) -> list[str]:
    """The SQL that gives ``app_role`` exactly :data:`APP_PRIVILEGES` on ``database`` (run by
    the owner; revokes first, so running it again after an upgrade leaves the same grants)."""
    role, db = _ident(app_role), _ident(database)
    names = sorted(APP_PRIVILEGES) if tables is None else tables
    unknown = [t for t in names if t not in APP_PRIVILEGES]
    if unknown:
        raise DatabaseError(f"no privilege rule for table(s) {', '.join(unknown)}: add them to "
                            "vertebro.registry.roles.APP_PRIVILEGES before granting")
    out = [
        f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",  # no TEMP tables, no schemas, for anyone
        f"GRANT CONNECT ON DATABASE {db} TO {role}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"REVOKE ALL ON SCHEMA public FROM {role}",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM {role}",
    ]
    out += [f'GRANT {", ".join(APP_PRIVILEGES[t])} ON "{t}" TO {role}' for t in names]
    # ids: nextval (inserts, the import's and the audit's pre-allocated ids), no setval
    out.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    return out


@dataclass(frozen=True)
class RoleCheck:
    """Why a role would not be held to least privilege (empty: it is)."""

    problems: tuple[str, ...]


def check_app_role(conn: Connection, app_role: str) -> RoleCheck:
    """Refusals for an application role that would bypass what the grants and policies do:
    a superuser or ``BYPASSRLS`` role, one that owns a registry table, or that can create
    roles or databases."""
    row = conn.execute(text(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles "
        "WHERE rolname = :r"), {"r": app_role}).first()
    if row is None:
        return RoleCheck((f"no role {app_role!r} (create it first: scripts/pg_roles.sql)",))
    problems = [what for flag, what in zip(row, (
        "is a superuser (row-level security and privileges do not apply)",
        "has BYPASSRLS (row-level security does not apply)",
        "has CREATEROLE", "has CREATEDB"), strict=True) if flag]
    owned: list[str] = list(conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = :r AND c.relnamespace = 'public'::regnamespace "
        "ORDER BY c.relname"), {"r": app_role}).scalars())
    if owned:
        problems.append(f"owns {', '.join(owned)} (an owner may ALTER, DROP and TRUNCATE, and "
                        "bypasses row-level security): the owner role runs migrations only")
    return RoleCheck(tuple(f"role {app_role!r} {p}" for p in problems))


def missing_policies(conn: Connection) -> list[str]:
    """The site policies of migration 0005 that are missing or not enforced (PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return []
    enabled: dict[str, bool] = dict(conn.execute(text(
        "SELECT relname, relrowsecurity FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'")).all())
    policies: set[str] = set(conn.execute(text(
        "SELECT tablename FROM pg_policies WHERE schemaname = 'public' "
        "AND policyname = tablename || '_by_site'")).scalars())
    out = []
    for t in RLS_TABLES:
        if t not in policies:
            out.append(f"policy {t}_by_site on {t}")
        elif not enabled.get(t):
            out.append(f"row level security on {t} (disabled)")
    return out


def grant_app_role(engine: Engine, app_role: str) -> list[str]:
    """Grant ``app_role`` its privileges on the store behind ``engine`` (connected as the
    owner); returns the statements run. Refuses a role that would not be held to them."""
    if engine.dialect.name != "postgresql":
        raise DatabaseError("roles and row-level security are PostgreSQL's; a SQLite store is "
                            "protected by its file's permissions (0600, its own account)")
    try:
        with engine.begin() as conn:
            check = check_app_role(conn, app_role)
            if check.problems:
                raise DatabaseError("; ".join(check.problems))
            me: str = conn.execute(text("SELECT current_user")).scalar_one()
            if me == app_role:
                raise DatabaseError(f"connect as the owner role to grant {app_role!r} its "
                                    "privileges, not as that role")
            database: str = conn.execute(text("SELECT current_database()")).scalar_one()
            tables: list[str] = list(conn.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "ORDER BY tablename")).scalars())
            statements = grant_statements(app_role, database, tables)
            for sql in statements:
                conn.execute(text(sql))
    except DBAPIError as exc:
        raise translate(exc, engine.url) from None
    return statements


def schema_tables() -> list[str]:
    """Every table the migrations make (the models' and Alembic's own)."""
    return sorted([*Base.metadata.tables, "alembic_version"])
