"""Numeric rating scale (NRS) of pain, 0-10; a VAS in centimetres is scored the same way."""

from __future__ import annotations

import math
from typing import Final

from vertebro.errors import InvalidInput

__all__ = ["NRS_MAX", "validate_nrs"]

NRS_MAX: Final = 10.0


def validate_nrs(value: object, field: str = "nrs") -> float:
    """A pain score on the 0-10 numeric rating scale, checked.

    Parameters
    ----------
    value : object
        An int or float, 0-10 inclusive. ``bool`` and strings are refused (``True`` is not
        a pain score).
    field : str
        Field name used in the error message.

    Returns
    -------
    float

    References
    ----------
    Farrar JT et al. Clinical importance of changes in chronic pain intensity measured on an
    11-point numerical pain rating scale. Pain 2001;94(2):149-58.
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= NRS_MAX
    ):
        raise InvalidInput.field(field, f"{value!r} is not a pain score (a number 0-10)")
    return float(value)
