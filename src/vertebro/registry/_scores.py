"""The registry's scores: always computed by :mod:`vertebro.scores`, never typed in."""

from __future__ import annotations

from vertebro.scores import (
    kps_to_ecog,
    odi_percent,
    rdq,
    validate_ecog,
    validate_kps,
    validate_nrs,
)

__all__ = ["kps_to_ecog", "odi_percent", "rdq", "validate_ecog", "validate_kps", "validate_nrs"]
