"""Vertebral levels: names, order and regions.

The one place that knows the spine has C1-C7, T1-T12, L1-L5 and S1-S5, so that scores, the
engine and the registry agree on what a level is and which levels are adjacent.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["REGIONS", "VERTEBRAE", "Region", "is_vertebra", "region", "vertebra_index"]

Region = Literal["cervical", "thoracic", "lumbar", "sacral"]

REGIONS: Final[dict[str, tuple[Region, int]]] = {
    "C": ("cervical", 7),
    "T": ("thoracic", 12),
    "L": ("lumbar", 5),
    "S": ("sacral", 5),
}

VERTEBRAE: Final[tuple[str, ...]] = tuple(
    f"{prefix}{n}" for prefix, (_, count) in REGIONS.items() for n in range(1, count + 1)
)
_INDEX: Final[dict[str, int]] = {name: i for i, name in enumerate(VERTEBRAE)}

#: Shown in error messages so the user sees what a valid level looks like.
VERTEBRA_RANGE_TEXT: Final[str] = "C1-C7, T1-T12, L1-L5, S1-S5"


def is_vertebra(name: str) -> bool:
    return name in _INDEX


def vertebra_index(name: str) -> int:
    """Position from the skull down (C1 = 0). Raises ``KeyError`` for a non-vertebra."""
    return _INDEX[name]


def region(name: str) -> Region:
    return REGIONS[name[0]][0]
