"""Configuration in one object, read from the environment once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["Settings", "get_settings"]

DEFAULT_DATABASE_URL = "sqlite:///vertebro.db"


@dataclass(frozen=True)
class Settings:
    #: SQLAlchemy URL of the registry; PostgreSQL via ``postgresql+psycopg://...``.
    database_url: str = field(
        default_factory=lambda: os.environ.get("VERTEBRO_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    #: Secret for hospital-number hashes and research pseudonyms; when unset, the registry
    #: keeps a random key inside the database it serves.
    registry_key: str | None = field(
        default_factory=lambda: os.environ.get("VERTEBRO_REGISTRY_KEY") or None
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
