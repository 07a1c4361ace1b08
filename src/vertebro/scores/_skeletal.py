"""Solitary or multiple skeletal metastases, from the counts the input carries.

The scores are for a patient with a spinal metastasis, so an unknown spinal count is read as
at least one: extraspinal foci alone then make the disease multiple.
"""

from __future__ import annotations

__all__ = ["solitary_skeletal"]


def solitary_skeletal(extraspinal: int | None, spinal: int | None) -> bool | None:
    """True for a single skeletal metastasis in all, False for more, None if unknown."""
    if (spinal is not None and spinal >= 2) or (extraspinal is not None and extraspinal >= 1):
        return False
    if spinal is not None and extraspinal is not None:
        return spinal + extraspinal == 1
    return None
