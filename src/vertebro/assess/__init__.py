"""The decision engine: validated input -> findings -> plan."""

from __future__ import annotations

from typing import Any

__all__ = ["assess"]


def assess(patient: Any, **options: Any) -> dict[str, Any]:
    raise NotImplementedError("the engine is being written")
