"""Pydantic schemas: what the registry accepts at its edges (CLI, imports, later HTTP).

Types and vocabularies are checked here; domain rules that need the database (a follow-up
before its procedure, a level that was not assessed, ...) are checked by the service layer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from vertebro.errors import FieldError, InvalidInput
from vertebro.spine import VERTEBRA_RANGE_TEXT, is_vertebra

from .vocab import (
    Anaesthesia,
    Approach,
    CementType,
    ComplicationTreatment,
    ComplicationType,
    LeakSite,
    OperatorRole,
    Role,
    Sex,
    Technique,
    VitalStatus,
)

__all__ = [
    "MAX_CELL_BYTES",
    "ComplicationIn",
    "FollowUpIn",
    "PatientIn",
    "PatientUpdate",
    "ProcedureIn",
    "ProcedureLevelIn",
    "SiteIn",
    "UserIn",
    "field_errors",
    "parse",
    "text_problem",
]

M = TypeVar("M", bound=BaseModel)

_CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


#: the largest text value the registry stores, in UTF-8 bytes (the same limit for every entry
#: point, so that SQLite and PostgreSQL hold the same data)
MAX_CELL_BYTES = 128 * 1024


def text_problem(value: str) -> str | None:
    """Why a text value cannot be stored alike on every store, or None. A NUL byte is kept by
    SQLite and refused by PostgreSQL; an oversized value is refused on both."""
    if "\x00" in value:
        return "contains a NUL byte"
    # a UTF-8 character is at most 4 bytes: only long strings need encoding to measure
    if len(value) * 4 > MAX_CELL_BYTES and len(value.encode("utf-8", "surrogatepass")) > \
            MAX_CELL_BYTES:
        return f"longer than {MAX_CELL_BYTES // 1024} KiB"
    return None


def _vocab_key(v: Any) -> Any:
    """Vocabulary codes are lower case with underscores ("PMMA" is pmma)."""
    return v.strip().lower().replace(" ", "_").replace("-", "_") if isinstance(v, str) else v


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, v: Any) -> Any:
        if isinstance(v, str) and (problem := text_problem(v)):
            raise ValueError(problem)
        return v


def _level(v: str | None) -> str | None:
    if v is None:
        return v
    v = v.upper()
    if not is_vertebra(v):
        raise ValueError(f"{v!r} is not a vertebra ({VERTEBRA_RANGE_TEXT})")
    return v


class SiteIn(_In):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=200)


class UserIn(_In):
    username: str = Field(pattern=_CODE)
    role: Role
    site: str | None = None


class PatientIn(_In):
    code: str = Field(pattern=_CODE, description="site-local pseudonymous code, never a name")
    site: str | None = Field(None, description="site code; default: the acting user's site")
    birth_year: int | None = Field(None, ge=1880, le=2200)
    sex: Sex | None = None
    primary_cancer: str | None = Field(None, max_length=64)
    hospital_number: str | None = Field(
        None, min_length=1, max_length=64, description="stored only as a keyed hash"
    )
    synthetic: bool = False

    @field_validator("primary_cancer")
    @classmethod
    def _lower(cls, v: str | None) -> str | None:
        return v.lower() if v else v


class PatientUpdate(_In):
    birth_year: int | None = Field(None, ge=1880, le=2200)
    sex: Sex | None = None
    primary_cancer: str | None = Field(None, max_length=64)


class ProcedureLevelIn(_In):
    level: str
    technique: Technique
    approach: Approach | None = None
    needle: str | None = Field(None, max_length=64)
    cement_type: CementType | None = None
    cement_volume_ml: float | None = Field(None, ge=0, le=50)
    balloon_used: bool | None = None

    _v_level = field_validator("level")(classmethod(lambda cls, v: _level(v)))
    _v_cement = field_validator("cement_type", mode="before")(
        classmethod(lambda cls, v: _vocab_key(v)))


class ProcedureIn(_In):
    performed_on: dt.date
    levels: list[ProcedureLevelIn] = Field(min_length=1)
    anaesthesia: Anaesthesia | None = None
    operator_role: OperatorRole | None = None
    biopsy_taken: bool | None = None
    biopsy_result: str | None = None
    override_reason: str | None = Field(None, min_length=3)
    assessment_id: int | None = None


class ComplicationIn(_In):
    type: ComplicationType
    level: str | None = None
    leak_site: LeakSite | None = None
    symptomatic: bool | None = None
    severity_grade: int | None = Field(None, ge=1, le=5, description="CTCAE-style grade 1-5")
    treatment: ComplicationTreatment | None = None

    _v_level = field_validator("level")(classmethod(lambda cls, v: _level(v)))
    _v_vocab = field_validator("type", "treatment", mode="before")(
        classmethod(lambda cls, v: _vocab_key(v)))


class FollowUpIn(_In):
    followed_on: dt.date
    baseline: bool = False
    procedure_id: int | None = None
    nrs: float | None = None
    odi_sections: list[int | None] | None = None
    odi_version: str = "2.1a"
    rdq: int | None = None
    rdq_version: str = "RDQ-24"
    kps: int | None = None
    ecog: int | None = None
    analgesic_class: int | None = Field(None, ge=0, le=3, description="VERTOS analgesic class")
    new_fracture: bool | None = None
    new_fracture_level: str | None = None
    vital_status: VitalStatus | None = None
    lost_to_follow_up: bool = False

    _v_level = field_validator("new_fracture_level")(classmethod(lambda cls, v: _level(v)))


def field_errors(exc: ValidationError, *, prefix: str = "", where: str = "") -> list[FieldError]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in e["loc"])
        loc = loc.replace(".[", "[")
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] not in ("missing", "extra_forbidden") and "input" in e:
            shown = repr(e["input"])
            msg = f"{shown if len(shown) <= 60 else shown[:56] + '...'}: {msg}"
        out.append(FieldError(f"{prefix}{loc}", msg, where))
    return out


def parse(model: type[M], data: Any) -> M:
    """Validate ``data`` (mapping or model) or raise :class:`InvalidInput` listing every error."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc)) from None
