"""Roland-Morris Disability Questionnaire (RDQ): 0-24, the number of statements that apply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from vertebro.errors import InvalidInput

__all__ = ["RDQ_ITEMS", "rdq"]

RDQ_ITEMS: Final = 24  # Roland & Morris 1983: 24 yes/no statements


def rdq(value: int | Sequence[bool], field: str = "rdq") -> int:
    """Roland-Morris Disability Questionnaire score.

    Parameters
    ----------
    value : int or sequence of bool
        The score itself (0-24), or the 24 yes/no answers (``True`` = the statement applies).
    field : str
        Field name used in error messages.

    Returns
    -------
    int
        0 (no disability) to 24.

    References
    ----------
    Roland M, Morris R. A study of the natural history of back pain. Part I: development of a
    reliable and sensitive measure of disability in low-back pain. Spine 1983;8(2):141-4.
    doi:10.1097/00007632-198303000-00004
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= RDQ_ITEMS:
            raise InvalidInput.field(field, f"{value!r} is not an RDQ score (0-{RDQ_ITEMS})")
        return value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if len(value) != RDQ_ITEMS:
            raise InvalidInput.field(field, f"{len(value)} answers given; the RDQ has {RDQ_ITEMS}")
        bad = [i for i, v in enumerate(value) if not isinstance(v, bool)]
        if bad:
            raise InvalidInput.field(
                f"{field}[{bad[0]}]", f"{value[bad[0]]!r} is not a yes/no answer (true or false)"
            )
        return sum(value)
    raise InvalidInput.field(field, f"{value!r} is not an RDQ score (0-{RDQ_ITEMS}) or 24 answers")
