"""The outcomes registry: persistence, access control, audit, import and export.

Entry point: :class:`Registry` (``Registry(url)``; every method takes the acting user).
See ``docs/registry.md`` for the data model, roles, the CSV long format and REDCap/FHIR.
"""

from __future__ import annotations

from .db import make_engine
from .service import Registry

__all__ = ["Registry", "make_engine"]
