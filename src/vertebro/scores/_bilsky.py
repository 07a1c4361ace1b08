"""Epidural spinal cord compression (ESCC) grade of Bilsky.

Written by hand (a six-value scale). Bilsky MH et al. J Neurosurg Spine 2010;13(3):324-8;
DESIGN.md section 5.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from vertebro.errors import InvalidInput

__all__ = ["ESCC_DESCRIPTIONS", "ESCC_GRADES", "escc_high_grade", "parse_escc"]

ESCC_GRADES: Final[tuple[str, ...]] = ("0", "1a", "1b", "1c", "2", "3")

# Bilsky 2010, grading on axial T2-weighted MRI at the most compressed level.
ESCC_DESCRIPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "0": "disease confined to bone",
        "1a": "epidural impingement without deformation of the thecal sac",
        "1b": "thecal sac deformed, spinal cord not abutted",
        "1c": "thecal sac deformed, spinal cord abutted but not compressed",
        "2": "spinal cord compressed, CSF visible around the cord",
        "3": "spinal cord compressed, no CSF visible around the cord",
    }
)

# Bilsky 2010: grades 2 and 3 are high-grade (clinically significant) compression.
_HIGH_GRADES: Final = frozenset({"2", "3"})
_EXPECTED: Final = ", ".join(ESCC_GRADES)


def parse_escc(value: str | int) -> str:
    """Canonical ESCC grade from user input.

    Parameters
    ----------
    value : str or int
        ``"1A"``, ``" 1b "``, ``2`` ... Case and surrounding spaces are ignored. A bare
        ``1`` is rejected: grade 1 is always subdivided into 1a, 1b or 1c.

    Returns
    -------
    str
        One of :data:`ESCC_GRADES`.

    Raises
    ------
    InvalidInput
        Not an ESCC grade, e.g. ``"4"`` or ``"1d"``.

    References
    ----------
    Bilsky MH et al. Reliability analysis of the epidural spinal cord compression scale.
    J Neurosurg Spine 2010;13(3):324-8. doi:10.3171/2010.3.SPINE09459
    """
    if isinstance(value, bool):
        code = ""
    elif isinstance(value, int):
        code = str(value)
    elif isinstance(value, str):
        code = value.strip().lower()
    else:
        code = ""
    if code not in ESCC_DESCRIPTIONS:
        raise InvalidInput.field("escc", f"{value!r} is not a Bilsky ESCC grade ({_EXPECTED})")
    return code


def escc_high_grade(grade: str) -> bool:
    """Whether an ESCC grade is high grade (2 or 3).

    Parameters
    ----------
    grade : str
        An ESCC grade in any form :func:`parse_escc` accepts.

    References
    ----------
    Bilsky MH et al. J Neurosurg Spine 2010;13(3):324-8. doi:10.3171/2010.3.SPINE09459
    """
    return parse_escc(grade) in _HIGH_GRADES
