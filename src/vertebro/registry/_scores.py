"""The registry's scores: always computed by :mod:`vertebro.scores`, never typed in.

The score functions are pure, so results are memoised by their arguments: a bulk import
scores the same ODI answer patterns and NRS/KPS values many times over. Invalid input still
raises every time (exceptions are not cached).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from vertebro import scores

__all__ = ["kps_to_ecog", "odi_percent", "rdq", "validate_ecog", "validate_kps", "validate_nrs"]

kps_to_ecog = scores.kps_to_ecog


@lru_cache(maxsize=65536)
def _odi(sections: tuple[int | None, ...]) -> float:
    return scores.odi_percent(sections, field="odi_sections")


def odi_percent(sections: Sequence[int | None]) -> float:
    return _odi(tuple(sections))


@lru_cache(maxsize=1024)
def rdq(v: int) -> int:
    return scores.rdq(v)


@lru_cache(maxsize=1024)
def validate_nrs(v: float) -> float:
    return scores.validate_nrs(v)


@lru_cache(maxsize=1024)
def validate_kps(v: int) -> int:
    return scores.validate_kps(v)


@lru_cache(maxsize=1024)
def validate_ecog(v: int) -> int:
    return scores.validate_ecog(v)
