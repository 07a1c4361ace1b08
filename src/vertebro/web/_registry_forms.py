"""The registry's HTML forms: submitted strings to the service layer's input, field by field.

Each form input is named by the service's own field path (``code``, ``levels[0].technique``,
``odi_sections[3]``), so an error the service reports lands beside the input it is about. This
module only turns strings into values (a blank is "not given", never 0 or "no"; "unknown" is
``None``) and checks the registry's schemas (:mod:`vertebro.registry.schemas`) so that every
problem is listed at once; what needs the database (a level that was not assessed, a visit
before its procedure) is checked by :class:`vertebro.registry.Registry` when the record is
written. Nothing here decides who may do what.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from vertebro import scores
from vertebro.errors import FieldError, InvalidInput
from vertebro.registry.schemas import ComplicationIn, FollowUpIn, PatientIn, ProcedureIn, parse
from vertebro.registry.vocab import (
    ANAESTHESIA,
    APPROACHES,
    LEAK_SITES,
    OPERATOR_ROLES,
    ROLES,
    SEXES,
    TECHNIQUES,
    VITAL_STATUS,
)
from vertebro.scores import ODI_SECTIONS

__all__ = [
    "LEVEL_FIELDS",
    "MAX_LEVEL_ROWS",
    "Parsed",
    "complication_form",
    "field_label",
    "follow_up_form",
    "level_rows",
    "password_form",
    "patient_form",
    "procedure_form",
    "site_form",
    "user_form",
]

#: The inputs of one treated level of a procedure (``levels[i].NAME``).
LEVEL_FIELDS = ("level", "technique", "approach", "needle", "cement_type", "cement_volume_ml",
                "balloon_used")
#: A procedure form shows this many level rows at most (a session treats a few levels;
#: JNCCN-2012 and SNIS-2014 speak of up to three per session).
MAX_LEVEL_ROWS = 12
_MAX_NUMBER_TEXT = 24  # characters: longer "numbers" (a 5,000-digit integer) are refused unread
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRI = {"yes": True, "no": False, "unknown": None, "": None}
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # as registry.schemas' codes


#: What each input is called on its form, for the list of problems at the top.
LABELS = {
    "code": "Code", "site": "Site", "birth_year": "Birth year", "sex": "Sex",
    "primary_cancer": "Primary cancer", "hospital_number": "Hospital number",
    "performed_on": "Date of the procedure", "anaesthesia": "Anaesthesia",
    "operator_role": "Operator", "biopsy_taken": "Biopsy taken",
    "biopsy_result": "Biopsy result", "override_reason": "Override reason",
    "assessment_id": "Follows assessment", "levels": "Treated levels", "level": "Vertebra",
    "technique": "Technique", "approach": "Approach", "needle": "Needle",
    "cement_type": "Cement", "cement_volume_ml": "Cement volume", "balloon_used": "Balloon used",
    "procedure_id": "Procedure", "type": "Type", "leak_site": "Leak site",
    "symptomatic": "Symptomatic", "severity_grade": "Severity grade", "treatment": "Treatment",
    "followed_on": "Date of the visit", "baseline": "Baseline", "nrs": "Pain NRS",
    "odi_sections": "ODI", "rdq": "RDQ", "kps": "KPS", "ecog": "ECOG",
    "analgesic_class": "Analgesic class", "new_fracture": "New vertebral fracture",
    "new_fracture_level": "Level of the new fracture", "vital_status": "Vital status",
    "lost_to_follow_up": "Lost to follow-up", "username": "User name", "role": "Role",
    "name": "Name", "password": "Password", "password_again": "Password (again)",
}


def field_label(name: str) -> str:
    """``levels[1].technique`` -> ``Level 2: Technique``; ``odi_sections[3]`` -> ``ODI
    section 4``; a name without a label is returned as it is."""
    m = re.fullmatch(r"levels\[(\d+)\]\.(\w+)", name)
    if m:
        return f"Level {int(m.group(1)) + 1}: {LABELS.get(m.group(2), m.group(2))}"
    m = re.fullmatch(r"odi_sections\[(\d+)\]", name)
    if m:
        return f"ODI section {int(m.group(1)) + 1}"
    return LABELS.get(name, name)


@dataclass
class Parsed:
    """What a form gave: the values for the service, the problems found, and the submitted
    strings to show again (``values``) when the form comes back with errors."""

    data: dict[str, Any] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)

    def by_field(self) -> dict[str, list[str]]:
        return errors_by_field(self.errors)


def errors_by_field(errors: Iterable[FieldError]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in errors:
        out.setdefault(e.field, []).append(e.reason)
    return out


class _Reader:
    """Reads named strings from a submitted form into :class:`Parsed`."""

    def __init__(self, form: Mapping[str, str]) -> None:
        self.form = form
        self.out = Parsed()

    def raw(self, name: str) -> str:
        value = self.form.get(name, "")
        value = value if isinstance(value, str) else ""
        self.out.values[name] = value
        return value.strip()

    def fail(self, name: str, reason: str) -> None:
        self.out.errors.append(FieldError(name, reason))

    def text(self, name: str, key: str | None = None) -> str | None:
        v = self.raw(name)
        if _CONTROL.search(v):
            self.fail(name, "contains a control character")
            return None
        if v:
            self.out.data[key or name] = v
        return v or None

    def vertebra(self, name: str) -> str | None:
        """A vertebra name as typed (``t8``), stored as the registry spells it (``T8``);
        the schema checks that it is a vertebra."""
        v = self.text(name)
        if v is not None:
            self.out.data[name] = v = v.upper()
        return v

    def code(self, name: str) -> str | None:
        """A code (patient, site, user name): the schema's pattern, said in words."""
        v = self.text(name)
        if v is not None and not _CODE.fullmatch(v):
            self.out.data.pop(name, None)
            self.fail(name, f"{v[:64]!r}: use letters, digits, '.', '_' or '-' (at most 64, "
                      "starting with a letter or digit)")
            return None
        return v

    def score(self, name: str, check: Any) -> None:
        """Check a parsed score with the :mod:`vertebro.scores` function the registry
        scores it with, so that every problem is listed with the others."""
        if name in self.out.data and not any(e.field == name for e in self.out.errors):
            try:
                check(self.out.data[name])
            except InvalidInput as exc:
                self.out.errors.extend(
                    FieldError(e.field if e.field.startswith(name) else name, e.reason)
                    for e in exc.errors)

    def choice(self, name: str, allowed: Sequence[str], key: str | None = None) -> str | None:
        v = self.raw(name)
        if not v:
            return None
        if v not in allowed:
            self.fail(name, f"{v[:40]!r} is not one of {', '.join(allowed)}")
            return None
        self.out.data[key or name] = v
        return v

    def tri(self, name: str, key: str | None = None) -> bool | None:
        v = self.raw(name).lower()
        if v not in _TRI:
            self.fail(name, f"{v[:40]!r}: answer yes, no or unknown")
            return None
        if _TRI[v] is not None:
            self.out.data[key or name] = _TRI[v]
        return _TRI[v]

    def checkbox(self, name: str) -> bool:
        on = self.raw(name) != ""
        self.out.data[name] = on
        return on

    def integer(self, name: str, key: str | None = None, *, store: bool = True) -> int | None:
        v = self.raw(name)
        if not v:
            return None
        if len(v) > _MAX_NUMBER_TEXT or not re.fullmatch(r"[+-]?\d+", v):
            self.fail(name, f"{v[:_MAX_NUMBER_TEXT]!r} is not a whole number")
            return None
        n = int(v)
        if store:
            self.out.data[key or name] = n
        return n

    def number(self, name: str, key: str | None = None) -> float | None:
        v = self.raw(name).replace(",", ".")  # a decimal comma, as typed in much of Europe
        if not v:
            return None
        try:
            x = float(v) if len(v) <= _MAX_NUMBER_TEXT else math.nan
        except ValueError:
            x = math.nan
        if not math.isfinite(x) or not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", v):
            self.fail(name, f"{v[:_MAX_NUMBER_TEXT]!r} is not a number")
            return None
        self.out.data[key or name] = x
        return x

    def date(self, name: str, key: str | None = None) -> dt.date | None:
        v = self.raw(name)
        if not v:
            return None
        try:
            d = dt.date.fromisoformat(v) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v) else None
        except ValueError:
            d = None
        if d is None:
            self.fail(name, f"{v[:20]!r} is not a date (YYYY-MM-DD)")
            return None
        if not 1900 <= d.year <= 2200:
            self.fail(name, f"{v} is not a plausible date")
            return None
        self.out.data[key or name] = d
        return d

    def check(self, model: type[BaseModel], *, exclude: Iterable[str] = ()) -> Parsed:
        """Validate the values with the registry's schema; add its problems for fields not
        already refused here (a refused value is left out, so the schema would call it
        missing). ``exclude``: values that are not the schema's (the form's procedure)."""
        try:
            parse(model, {k: v for k, v in self.out.data.items() if k not in exclude})
        except InvalidInput as exc:
            refused = {e.field for e in self.out.errors}
            self.out.errors.extend(e for e in exc.errors if e.field not in refused)
        return self.out


# ------------------------------------------------------------------ the forms
def site_form(form: Mapping[str, str]) -> Parsed:
    r = _Reader(form)
    r.code("code")
    r.text("name")
    if "name" not in r.out.data:
        r.fail("name", "give the site's name")
    return r.out


def user_form(form: Mapping[str, str]) -> Parsed:
    r = _Reader(form)
    r.code("username")
    if "username" not in r.out.data and not r.out.errors:
        r.fail("username", "give a user name")
    r.choice("role", ROLES)
    r.text("site")
    if "role" not in r.out.data and not any(e.field == "role" for e in r.out.errors):
        r.fail("role", "choose a role")
    return r.out


def password_form(form: Mapping[str, str]) -> Parsed:
    """A new password, typed twice (kept unstripped: spaces are part of a password)."""
    out = Parsed()
    first, second = form.get("password", ""), form.get("password_again", "")
    if not first:
        out.errors.append(FieldError("password", "type the new password"))
    elif first != second:
        out.errors.append(FieldError("password_again", "the two passwords differ"))
    else:
        out.data["password"] = first
    return out


def patient_form(form: Mapping[str, str]) -> Parsed:
    r = _Reader(form)
    r.code("code")
    r.text("site")
    r.integer("birth_year")
    r.choice("sex", SEXES)
    r.text("primary_cancer")
    r.text("hospital_number")
    r.checkbox("synthetic")
    return r.check(PatientIn)


def level_rows(form: Mapping[str, str]) -> int:
    """How many level rows the submitted procedure form had."""
    rows = 0
    for key in form:
        m = re.fullmatch(r"levels\[(\d{1,2})\]\.\w+", key)
        if m:
            rows = max(rows, int(m.group(1)) + 1)
    return min(rows, MAX_LEVEL_ROWS)


def procedure_form(form: Mapping[str, str]) -> Parsed:
    """A procedure and its levels. Level rows left wholly blank are dropped and the filled
    rows renumbered (``values`` follows), so an error's ``levels[i]`` is the i-th row shown."""
    r = _Reader(form)
    r.date("performed_on")
    r.choice("anaesthesia", ANAESTHESIA)
    r.choice("operator_role", OPERATOR_ROLES)
    r.tri("biopsy_taken")
    r.text("biopsy_result")
    r.text("override_reason")
    r.integer("assessment_id")
    levels: list[dict[str, Any]] = []
    for i in range(level_rows(form)):
        names = [f"levels[{i}].{k}" for k in LEVEL_FIELDS]
        if not any(str(form.get(n, "")).strip() for n in names if not n.endswith("balloon_used")):
            continue
        j = len(levels)
        row = {k: form.get(f"levels[{i}].{k}", "") for k in LEVEL_FIELDS}
        sub = _Reader({f"levels[{j}].{k}": v for k, v in row.items()})
        p = f"levels[{j}]."
        sub.vertebra(p + "level")
        sub.choice(p + "technique", TECHNIQUES)
        sub.choice(p + "approach", APPROACHES)
        sub.text(p + "needle")
        sub.text(p + "cement_type")
        sub.number(p + "cement_volume_ml")
        sub.tri(p + "balloon_used")
        levels.append({k.removeprefix(p): v for k, v in sub.out.data.items()})
        r.out.errors.extend(sub.out.errors)
        r.out.values.update(sub.out.values)
    if levels:
        r.out.data["levels"] = levels
    else:
        r.fail("levels", "give at least one treated level")
    return r.check(ProcedureIn)


def complication_form(form: Mapping[str, str]) -> Parsed:
    r = _Reader(form)
    r.integer("procedure_id")
    r.text("type")
    r.vertebra("level")
    r.choice("leak_site", LEAK_SITES)
    r.tri("symptomatic")
    r.integer("severity_grade")
    r.text("treatment")
    return r.check(ComplicationIn, exclude=("procedure_id",))


def follow_up_form(form: Mapping[str, str]) -> Parsed:
    """A follow-up visit. The ODI is the ten section scores (0-5) as numbers only: the
    licensed questionnaire wording is never shown (DESIGN.md section 5)."""
    r = _Reader(form)
    r.date("followed_on")
    r.checkbox("baseline")
    r.checkbox("lost_to_follow_up")
    r.integer("procedure_id")
    r.number("nrs")
    sections = [r.integer(f"odi_sections[{i}]", store=False) for i in range(ODI_SECTIONS)]
    if any(s is not None for s in sections):
        r.out.data["odi_sections"] = sections
    r.integer("rdq")
    r.integer("kps")
    r.integer("ecog")
    r.integer("analgesic_class")
    r.tri("new_fracture")
    r.vertebra("new_fracture_level")
    r.choice("vital_status", VITAL_STATUS)
    r.score("nrs", scores.validate_nrs)
    r.score("kps", scores.validate_kps)
    r.score("ecog", scores.validate_ecog)
    r.score("rdq", scores.rdq)
    if not any(e.field.startswith("odi_sections") for e in r.out.errors):
        r.score("odi_sections", lambda v: scores.odi_percent(v, field="odi_sections"))
    return r.check(FollowUpIn)
