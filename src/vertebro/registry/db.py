"""Engines, sessions and programmatic migrations.

The default store is a SQLite file (WAL journal, foreign keys enforced on every connection);
``VERTEBRO_DATABASE_URL`` or ``--db`` select PostgreSQL through psycopg 3
(``postgresql+psycopg://user@host:port/db``; a bare ``postgresql://`` URL is mapped to psycopg).

Only the explicit paths create or migrate a schema (``vertebro db init``, ``db upgrade``,
:meth:`Registry.create`): opening a store checks that it holds a registry at the latest
revision and says what to run when it does not (:func:`check_schema`). A new SQLite file is
created with mode 0600, and only on the explicit paths.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session

from vertebro.errors import DatabaseError
from vertebro.settings import get_settings

from ._dberrors import translate

__all__ = [
    "check_schema",
    "current_revision",
    "display_url",
    "downgrade",
    "head_revision",
    "make_engine",
    "normalise_url",
    "revision_at",
    "set_row_scope",
    "sqlite_path",
    "upgrade",
]

MIGRATIONS = Path(__file__).with_name("migrations")
BACKENDS = ("sqlite", "postgresql")
_EXAMPLES = "e.g. sqlite:///vertebro.db or postgresql+psycopg://user@host:5432/vertebro"


def _url(url: str | None) -> URL:
    raw = url or get_settings().database_url
    try:
        u = make_url(raw)
    except ArgumentError:
        raise DatabaseError(f"database URL {raw!r} is not a URL ({_EXAMPLES})") from None
    if u.get_backend_name() not in BACKENDS:
        raise DatabaseError(f"database URL: {u.get_backend_name()!r} is not supported "
                            f"(sqlite or postgresql; {_EXAMPLES})")
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def normalise_url(url: str | None) -> str:
    """The URL to connect to (default: settings); psycopg 3 for a bare ``postgresql://``."""
    return _url(url).render_as_string(hide_password=False)


def display_url(url: str | None) -> str:
    """The URL for messages: no password."""
    return _url(url).render_as_string(hide_password=True)


def sqlite_path(url: str | None) -> Path | None:
    """The file of a SQLite store (``None`` for PostgreSQL or an in-memory store)."""
    u = _url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _sqlite_pragmas(timeout_ms: int) -> Any:
    def connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={timeout_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return connect


def _pg_options(u: URL) -> dict[str, str]:
    """A lock wait on PostgreSQL ends after the busy timeout, as on SQLite (``lock_timeout``,
    SQLSTATE 55P03, reported as :class:`~vertebro.errors.ConcurrencyError`), instead of
    hanging behind a stuck writer; options given in the URL are kept."""
    ms = round(get_settings().db_busy_timeout * 1000)
    given = u.query.get("options")
    given = given if isinstance(given, str) else " ".join(given or ())
    return {"options": f"{given} -c lock_timeout={ms}".strip()}


def _create_sqlite_file(path: Path) -> None:
    if not path.parent.is_dir():
        raise DatabaseError(f"cannot create a registry at {path}: folder {path.parent} does "
                            "not exist")
    try:  # created here, 0600, before SQLite opens it (its -wal and -shm files copy the mode)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise DatabaseError(f"cannot create a registry at {path}: {exc.strerror}") from None


def make_engine(url: str | None = None, *, migrate: bool = True,
                create: bool | None = None) -> Engine:
    """An engine for ``url`` (default: settings).

    ``create`` (default: ``migrate``) may make a new SQLite file; otherwise a missing file is
    refused. ``migrate`` upgrades the schema to the latest revision (the explicit path of
    ``vertebro db upgrade`` and :meth:`Registry.create`).
    """
    create = migrate if create is None else create
    u = _url(url)
    path = sqlite_path(url)
    if path is not None:
        if create:
            _create_sqlite_file(path)
        elif not path.is_file():
            raise DatabaseError(f"no registry at {display_url(url)} (no such file): create one "
                                "with `vertebro db init`, or give the right --db")
    try:
        if u.get_backend_name() == "sqlite":
            engine = create_engine(u)
            timeout = round(get_settings().db_busy_timeout * 1000)
            event.listen(engine, "connect", _sqlite_pragmas(timeout))
        else:
            engine = create_engine(u, pool_pre_ping=True, connect_args=_pg_options(u))
    except (NoSuchModuleError, ModuleNotFoundError, ArgumentError) as exc:
        raise DatabaseError(f"database URL {display_url(url)}: {exc}") from None
    if migrate and current_revision(engine) != head_revision():
        upgrade(engine)
    return engine


_SCOPE = text("SELECT set_config('vertebro.site', :site, true), "
              "set_config('vertebro.all_sites', :all_sites, true)")


def set_row_scope(bind: Session | Connection, *, site_id: int | None, all_sites: bool) -> None:
    """Tell PostgreSQL's row-level security (migration 0005) which site's clinical rows this
    transaction may read and write: ``site_id``, or every site. Transaction-local, so a pooled
    connection carries nothing over; a transaction that never calls this sees no clinical row
    when connected as the application role. ``bind`` is a session or a connection; SQLite has
    no row-level security and nothing is done."""
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    if dialect.name != "postgresql":
        return
    bind.execute(_SCOPE, {"site": "" if site_id is None else str(site_id),
                          "all_sites": "on" if all_sites else "off"})


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def _scripts() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg)


def head_revision() -> str | None:
    return _scripts().get_current_head()


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except DBAPIError as exc:
        raise translate(exc, engine.url) from None


def revision_at(url: str | None) -> str | None:
    """The schema revision of the store at ``url``; ``None`` when there is no store (a
    missing SQLite file) or no registry schema in it. Creates nothing."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        return None
    engine = make_engine(url, migrate=False)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def check_schema(engine: Engine) -> None:
    """Refuse a store that holds no registry, or one at another revision than this code's,
    naming what to run."""
    url = engine.url.render_as_string(hide_password=True)
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    if current is None:
        raise DatabaseError(f"no registry at {url}: create one with `vertebro db init` (or "
                            "`vertebro db upgrade`), or give the right --db")
    known = {s.revision for s in _scripts().walk_revisions()}
    if current in known:
        raise DatabaseError(f"the registry at {url} has an older schema ({current}; this "
                            f"vertebro needs {head}): run `vertebro db upgrade`")
    raise DatabaseError(f"the registry at {url} has schema {current}, which this vertebro "
                        f"does not know (its latest is {head}): use a newer vertebro")


def upgrade(engine: Engine, revision: str = "head") -> None:
    try:
        command.upgrade(_config(engine), revision)
    except DBAPIError as exc:
        raise translate(exc, engine.url) from None


def downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(_config(engine), revision)
