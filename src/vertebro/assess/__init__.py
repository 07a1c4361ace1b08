"""The decision engine: validated input -> findings -> plan.

>>> from vertebro import assess
>>> result = assess({"patient": {...}, "levels": [...]})   # doctest: +SKIP
>>> result["disposition"]                                    # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._engine import DISPOSITIONS, ENGINE_VERSION, NOTICE, assess
from ._input import AssessmentInput, LevelInput, validate_input, validate_json
from ._noms import noms_section, prognostic_scores
from ._rulebook import Rule, Rulebook, default_rulebook, load_rulebook

if TYPE_CHECKING:
    from ._report import render_text, report_renderable
    from ._view import ReportView, report_view

# The report's modules load on first use: `vertebro assess --format json` and the batch
# workers never lay out a report (start-up, issue 13.5).
_LAZY = {
    "render_text": "._report",
    "report_renderable": "._report",
    "ReportView": "._view",
    "report_view": "._view",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "DISPOSITIONS",
    "ENGINE_VERSION",
    "NOTICE",
    "AssessmentInput",
    "LevelInput",
    "ReportView",
    "Rule",
    "Rulebook",
    "assess",
    "default_rulebook",
    "load_rulebook",
    "noms_section",
    "prognostic_scores",
    "render_text",
    "report_renderable",
    "report_view",
    "validate_input",
    "validate_json",
]
