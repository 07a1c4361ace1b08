"""Configuration in one object, read from the environment once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "get_settings"]

DEFAULT_DATABASE_URL = "sqlite:///vertebro.db"


def _path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


@dataclass(frozen=True)
class Settings:
    #: SQLAlchemy URL of the registry; PostgreSQL via ``postgresql+psycopg://...``.
    database_url: str = field(
        default_factory=lambda: os.environ.get("VERTEBRO_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    #: Secret for hospital-number hashes and research pseudonyms. Never stored in the
    #: database (it keeps only the key's fingerprint). When unset, the key is read from
    #: ``registry_key_file``.
    registry_key: str | None = field(
        default_factory=lambda: os.environ.get("VERTEBRO_REGISTRY_KEY") or None
    )
    #: File holding the key (mode 0600). Default: beside a SQLite store, the store's path
    #: plus ``.key`` (``vertebro.db.key``), written by ``vertebro db init``; a PostgreSQL
    #: store needs ``VERTEBRO_REGISTRY_KEY`` or this setting.
    registry_key_file: Path | None = field(
        default_factory=lambda: _path("VERTEBRO_REGISTRY_KEY_FILE")
    )
    #: How long a SQLite write waits for another writer's lock before giving up (seconds).
    db_busy_timeout: float = field(
        default_factory=lambda: float(os.environ.get("VERTEBRO_DB_BUSY_TIMEOUT") or 30)
    )


    #: Key for CSRF tokens of the web app (``VERTEBRO_SECRET_KEY``). When unset, a random
    #: key per process: fine for one process, but ``vertebro serve --workers N`` refuses to
    #: start without it, as the workers must share it.
    secret_key: str | None = field(
        default_factory=lambda: os.environ.get("VERTEBRO_SECRET_KEY") or None
    )
    #: Host names the web app answers to (``VERTEBRO_ALLOWED_HOSTS``, comma-separated); any
    #: other ``Host`` header gets HTTP 400.
    allowed_hosts: tuple[str, ...] = field(
        default_factory=lambda: tuple(
            h.strip() for h in os.environ.get(
                "VERTEBRO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h.strip()
        )
    )
    #: Whether the session cookie is ``Secure`` (``VERTEBRO_COOKIE_SECURE``: ``true``,
    #: ``false`` or ``auto``, the default: secure unless the request came to a loopback
    #: address over plain HTTP, as ``vertebro serve`` does on this machine).
    cookie_secure: str = field(
        default_factory=lambda: os.environ.get("VERTEBRO_COOKIE_SECURE", "auto").lower()
    )


def get_settings() -> Settings:
    return Settings()
