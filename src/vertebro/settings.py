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


def get_settings() -> Settings:
    return Settings()
