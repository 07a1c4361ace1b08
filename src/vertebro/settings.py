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


def get_settings() -> Settings:
    return Settings()
