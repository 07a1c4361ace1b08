"""What a database error means to the user, in one line.

SQLAlchemy wraps the driver's exception (sqlite3, psycopg) in a ``DBAPIError``; this module
turns the ones a user can meet (an unreachable server, a held lock, a full disk, a row that a
concurrent change made a duplicate) into :mod:`vertebro.errors`, so that the CLI prints one
line instead of a traceback. Uniqueness is enforced by the database's constraints; their names
(or, on SQLite, their columns) say which field is a duplicate.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from vertebro.errors import (
    ConcurrencyError,
    DatabaseError,
    FieldError,
    InvalidInput,
    VertebroError,
)

__all__ = ["translate"]

# constraint name (PostgreSQL) and the columns SQLite names -> (field, reason)
_UNIQUE: dict[str, tuple[str, str, str]] = {
    "uq_patient_site_code": ("patient.site_id, patient.code", "code",
                             "a patient with this code exists at this site"),
    "uq_patient_site_hospital_number": ("patient.site_id, patient.hospital_number_hash",
                                        "hospital_number",
                                        "already registered at this site under another code"),
    "uq_site_code": ("site.code", "code", "this site exists"),
    "uq_app_user_username": ("app_user.username", "username", "this user exists"),
}
_RETRY = "nothing was written; try again"


def _first_line(exc: DBAPIError) -> str:
    text = str(exc.orig).strip() or type(exc.orig).__name__
    return text.splitlines()[0]


def translate(exc: DBAPIError, url: Any = None) -> VertebroError:
    """The :mod:`vertebro.errors` error for ``exc`` (from a statement on the store ``url``)."""
    msg = _first_line(exc)
    low = msg.lower()
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    where = f" at {url.render_as_string(hide_password=True)}" if url is not None else ""
    if isinstance(exc, IntegrityError):
        for name, (columns, field, reason) in _UNIQUE.items():
            if name in msg or columns in msg:
                return InvalidInput([FieldError(field, f"{reason} (perhaps added by a "
                                                f"concurrent change); {_RETRY} with another "
                                                "value", cause=name)])
        return InvalidInput([FieldError("", f"refused by the database: {msg}")])
    if sqlstate == "42501":  # insufficient privilege, or a row-level security policy
        hint = ("a row of another site than the acting user's" if "row-level security" in low
                else "migrations (`db init`, `db upgrade`) and `db grant` run as the owner "
                "role; the application role may not change the schema, truncate, or change "
                "audit rows and assessments")
        return DatabaseError(f"refused by the database{where}: {msg} ({hint})")
    if "locked" in low or sqlstate in ("55P03", "57014"):
        return ConcurrencyError(f"the registry{where} is busy: another process held its lock "
                                f"too long; {_RETRY}")
    if sqlstate in ("40001", "40P01"):
        return ConcurrencyError(f"conflict with a concurrent change to the registry; {_RETRY}")
    if "disk is full" in low or "disk full" in low or sqlstate == "53100":
        return DatabaseError(f"the disk of the registry{where} is full; nothing was written")
    if "nul" in low and ("0x00" in low or "nul character" in low or "nul byte" in low):
        return InvalidInput([FieldError("", "text contains a NUL byte")])
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return DatabaseError(f"cannot use the registry{where}: {msg}")
    return DatabaseError(f"database error{where}: {msg}")
