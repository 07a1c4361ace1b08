"""The decision engine: validated input -> findings -> plan.

>>> from vertebro import assess
>>> result = assess({"patient": {...}, "levels": [...]})   # doctest: +SKIP
>>> result["disposition"]                                    # doctest: +SKIP
"""

from __future__ import annotations

from ._engine import DISPOSITIONS, ENGINE_VERSION, NOTICE, assess
from ._input import AssessmentInput, LevelInput, validate_input, validate_json
from ._noms import noms_section, prognostic_scores
from ._report import render_text, report_renderable
from ._rulebook import Rule, Rulebook, default_rulebook, load_rulebook
from ._view import ReportView, report_view

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
