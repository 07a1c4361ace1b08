"""Oswestry Disability Index (ODI v2.1a), scored from numeric section answers.

The questionnaire wording is copyrighted and licensed: vertebro stores and scores the ten
section scores (0-5) only and never ships the text (DESIGN.md section 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from vertebro.errors import InvalidInput

__all__ = ["ODI_MAX_MISSING", "ODI_SECTIONS", "odi_percent"]

ODI_SECTIONS: Final = 10
_SECTION_MAX: Final = 5
# Fairbank & Pynsent 2000 give the rescaled formula for one missed (or not applicable)
# section only; scoring with more gaps is not described there, so the default refuses it.
ODI_MAX_MISSING: Final = 1


def odi_percent(
    sections: Sequence[int | None], *, max_missing: int = ODI_MAX_MISSING, field: str = "sections"
) -> float:
    """Oswestry Disability Index in percent.

    Parameters
    ----------
    sections : sequence of int or None
        The ten section scores in questionnaire order, each 0-5, ``None`` if unanswered.
    max_missing : int
        How many unanswered sections are tolerated (default 1, per Fairbank & Pynsent 2000).
    field : str
        Field name used in error messages (``sections``, ``sections[3]``).

    Returns
    -------
    float
        ``sum / (5 * answered) * 100``, not rounded: 16 points over 10 sections is 32.0; 16
        points with one section unanswered is 35.55... Round for display only (the usual
        presentation is a whole number or one decimal, ``round(odi, 1)`` gives 35.6); keep the
        exact value for change scores and MCID comparisons.

    Raises
    ------
    InvalidInput
        Not ten sections, a section outside 0-5, or more than ``max_missing`` unanswered.

    References
    ----------
    Fairbank JC, Pynsent PB. The Oswestry Disability Index. Spine 2000;25(22):2940-52.
    doi:10.1097/00007632-200011150-00017
    """
    if not isinstance(sections, Sequence) or isinstance(sections, str | bytes):
        raise InvalidInput.field(field, f"{sections!r} is not a list of {ODI_SECTIONS} answers")
    if len(sections) != ODI_SECTIONS:
        raise InvalidInput.field(
            field, f"{len(sections)} answers given; the ODI has {ODI_SECTIONS} sections"
        )
    errors = [
        InvalidInput.field(
            f"{field}[{i}]", f"{s!r} is not an ODI section score (0-5 or blank)"
        ).errors[0]
        for i, s in enumerate(sections)
        if s is not None
        and (isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= _SECTION_MAX)
    ]
    if errors:
        raise InvalidInput(errors)
    answered = [s for s in sections if s is not None]
    missing = ODI_SECTIONS - len(answered)
    if missing > max_missing:
        raise InvalidInput.field(
            field,
            f"{missing} sections unanswered; at most {max_missing} may be missing to score the ODI",
        )
    return sum(answered) / (_SECTION_MAX * len(answered)) * 100.0
