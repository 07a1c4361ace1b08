"""Controlled vocabularies of the registry (DESIGN.md sections 3, 6 and 7)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ANAESTHESIA",
    "APPROACHES",
    "DISPOSITIONS",
    "INTERVALS",
    "INTERVAL_LABELS",
    "LEAK_SITES",
    "OPERATOR_ROLES",
    "ROLES",
    "SEXES",
    "TECHNIQUES",
    "VITAL_STATUS",
]

ROLES: Final = ("clinician", "researcher", "admin")
SEXES: Final = ("male", "female", "other", "unknown")
DISPOSITIONS: Final = (
    "candidate",
    "refer_surgery",
    "contraindicated",
    "not_indicated",
    "incomplete",
)
ANAESTHESIA: Final = ("local", "sedation", "general")
OPERATOR_ROLES: Final = (
    "interventional_radiologist",
    "spine_surgeon",
    "neurosurgeon",
    "orthopaedic_surgeon",
    "trainee",
    "other",
)
TECHNIQUES: Final = ("vertebroplasty", "kyphoplasty")
APPROACHES: Final = (
    "transpedicular",
    "parapedicular",
    "extrapedicular",
    "anterolateral",
    "transoral",
    "other",
)
#: Leak sites as listed in issue 3 / DESIGN.md section 7.
LEAK_SITES: Final = ("disc", "venous", "epidural", "foraminal", "paravertebral", "pulmonary")
VITAL_STATUS: Final = ("alive", "dead", "unknown")

#: Follow-up intervals of Sorensen-SpineJ-2019 Table 2 (DESIGN.md section 6), as codes.
INTERVALS: Final = ("preop", "lt4w", "le6w", "lt6m", "lt1y", "ge1y")
INTERVAL_LABELS: Final[dict[str, str]] = {
    "preop": "preoperative",
    "lt4w": "< 4 weeks",
    "le6w": "<= 6 weeks",
    "lt6m": "< 6 months",
    "lt1y": "< 1 year",
    "ge1y": ">= 1 year",
}
