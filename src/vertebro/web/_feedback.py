"""What the form says back while it is filled in: errors by field, scores by level.

Computed on the server, from the engine's own output (its SINS range and Genant grade, which
come from :mod:`vertebro.scores`) and the Bilsky ESCC descriptions, so the form never shows a
score the report would not. The form's script asks for it as JSON as facts are entered; with
scripting off, the "Check" button renders the same feedback in the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vertebro.assess import assess, report_view
from vertebro.errors import FieldError, InvalidInput
from vertebro.scores import ESCC_DESCRIPTIONS

from ._form import PRIOR_RT, FormState, input_from_state

__all__ = ["Feedback", "feedback", "place_errors"]

_TRAILING = re.compile(r"(\[\d+\]|\.[^.\[]+)$")


@dataclass(frozen=True)
class Feedback:
    #: error reasons by the form field (or level block ``levels[i]``, or ``""`` for the form)
    errors: dict[str, list[str]] = field(default_factory=dict)
    #: per level block ``levels[i]``: what the scores say so far
    levels: dict[str, list[str]] = field(default_factory=dict)
    #: the provisional disposition, once the input is valid
    summary: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "errors": {k: "; ".join(v) for k, v in self.errors.items()},
            "levels": {k: " · ".join(v) for k, v in self.levels.items()},
            "summary": self.summary,
        }


def place_errors(errors: Iterable[FieldError], state: FormState) -> dict[str, list[str]]:
    """Each error beside the nearest thing on the form that its path names: the field, else
    its level block, else the form as a whole (key ``""``)."""
    names = set(state.values) | {f"levels[{i}]" for i in range(state.levels)}
    names |= {PRIOR_RT, "levels"}
    out: dict[str, list[str]] = {}
    for e in errors:
        path = e.field
        while path and path not in names:
            shorter = _TRAILING.sub("", path)
            path = shorter if shorter != path else ""
        out.setdefault(path, []).append(e.reason if path else str(e))
    return out


def _escc(state: FormState, i: int) -> list[str]:
    grade = state.get(f"levels[{i}].escc")
    if grade in ESCC_DESCRIPTIONS:
        return [f"ESCC {grade}: {ESCC_DESCRIPTIONS[grade]} (Bilsky 2010)"]
    return []


def feedback(state: FormState, guideline: str | None = None) -> Feedback:
    """Errors by field, and, for a valid form, SINS, Genant and ESCC per level block and the
    provisional disposition (the engine run on the facts entered so far)."""
    levels = {f"levels[{i}]": _escc(state, i) for i in range(state.levels)}
    try:
        data = input_from_state(state)
        result = assess(data, guideline=guideline)
    except InvalidInput as exc:
        return Feedback(place_errors(exc.errors, state), {k: v for k, v in levels.items() if v})
    view = report_view(result)
    by_name = {lv.level: lv for lv in view.levels}
    for i, lv_in in enumerate(data["levels"]):
        lv = by_name[lv_in["level"]]
        scores = [s for s in (lv.sins, lv.genant) if s]
        levels[f"levels[{i}]"] = scores + levels[f"levels[{i}]"]
    missing = len(result["missing"])
    summary = f"So far: {view.disposition_label} ({view.meaning})"
    if missing:
        summary += f"; {missing} unknown fact{'s' if missing > 1 else ''} could change it"
    return Feedback({}, {k: v for k, v in levels.items() if v}, summary)
