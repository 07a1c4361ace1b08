"""The assessment input contract (DESIGN.md section 3) as pydantic models.

Every clinical field may be absent or ``null``: that means *unknown*, never "no". Unknown keys,
wrong types and out-of-range values are errors that name the field, e.g.
``levels[1].level: 'T13' is not a vertebra (C1-C7, T1-T12, L1-L5, S1-S5)``.
Keys beyond the contract (marked *extension*) are additions; contract keys are never renamed.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from vertebro.errors import FieldError, InvalidInput
from vertebro.spine import VERTEBRA_RANGE_TEXT, is_vertebra

__all__ = [
    "AssessmentInput",
    "Context",
    "Contraindications",
    "Heights",
    "LevelInput",
    "Neurology",
    "Pain",
    "Patient",
    "TherapyFailed",
    "validate_input",
    "validate_json",
]

ESCC_GRADES = ("0", "1a", "1b", "1c", "2", "3")


def _vertebra(value: str) -> str:
    if not is_vertebra(value):
        raise ValueError(f"{value!r} is not a vertebra ({VERTEBRA_RANGE_TEXT})")
    return value


def _kps(value: int) -> int:
    # Karnofsky 1949: 0-100 in steps of 10.
    if value % 10 or not 0 <= value <= 100:
        raise ValueError(f"{value} is not a Karnofsky score (0-100 in steps of 10)")
    return value


def _escc(value: Any) -> Any:
    # Bilsky 2010 grades; accept 0/2/3 as numbers and "1A" in capitals, as people write them.
    if isinstance(value, bool):
        return value  # rejected below as a wrong type
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v not in ESCC_GRADES:
            raise ValueError(f"{value!r} is not a Bilsky ESCC grade (0, 1a, 1b, 1c, 2, 3)")
        return v
    return value


Vertebra = Annotated[str, AfterValidator(_vertebra)]
KPS = Annotated[int, AfterValidator(_kps)]
ESCC = Annotated[Literal["0", "1a", "1b", "1c", "2", "3"], BeforeValidator(_escc)]
# Finite numbers only (JSON's Infinity, NaN and 1e309 are not counts), each with an upper
# bound that no patient reaches, so that an absurd value is refused by name (issue 11).
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Weeks = Annotated[float, Field(ge=0, le=5200, allow_inf_nan=False)]  # 100 years
Months = Annotated[float, Field(ge=0, le=1200, allow_inf_nan=False)]  # 100 years
Millimetres = Annotated[float, Field(ge=0, le=200, allow_inf_nan=False)]  # a vertebral body is < 60


class _Model(BaseModel):
    # strict: "8" is not a pain score and true is not a number; extra keys are misspellings.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Patient(_Model):
    age: Annotated[int, Field(ge=0, le=120)] | None = None
    sex: Literal["male", "female", "other"] | None = None
    primary_cancer: str | None = None
    cancer_history: bool | None = None
    histology_confirmed: bool | None = None
    kps: KPS | None = None
    ecog: Annotated[int, Field(ge=0, le=5)] | None = None
    life_expectancy_months: Months | None = None
    # extension: reasons that make a biopsy essential (JNCCN-2012)
    multiple_primaries: bool | None = None
    long_latency: bool | None = None
    # extension: inputs of the prognostic scores (Tokuhashi 2005, Tomita 2001, modified Bauer
    # in Leithner 2008, NESMS in Ghori 2015); read by the NOMS section, never by a rule
    visceral_metastases: Literal["none", "treatable", "untreatable"] | None = None
    extraspinal_bone_metastases: Annotated[int, Field(ge=0, le=1000)] | None = None
    spinal_metastases: Annotated[int, Field(ge=1, le=33)] | None = None  # vertebrae involved
    ambulatory: bool | None = None  # walks independently
    albumin_g_dl: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] | None = None


class TherapyFailed(_Model):
    prevents_ambulation: bool | None = None
    analgesic_side_effects: bool | None = None


class Pain(_Model):
    nrs: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] | None = None
    mechanical: bool | None = None
    concordant_exam: bool | None = None
    radicular_exceeds_axial: bool | None = None
    medical_therapy_weeks: Weeks | None = None
    therapy_failed: TherapyFailed = TherapyFailed()
    # extension: a clear alternative source of the back pain (SNIS-2014: do not augment)
    alternative_source: bool | None = None


class Neurology(_Model):
    deficit: Literal["none", "radiculopathy", "myelopathy", "cauda_equina"] | None = None
    clinical_cord_compression: bool | None = None
    # extension: pending (impending) neurological compromise (AOSpine-EBSJ-2012 editorial)
    pending_compromise: bool | None = None
    # extension: Frankel grade A-E (Tokuhashi 2005 palsy item); "none" deficit reads as E
    frankel: Literal["A", "B", "C", "D", "E"] | None = None


class Contraindications(_Model):
    active_systemic_infection: bool | None = None
    spinal_infection: bool | None = None
    uncorrectable_coagulopathy: bool | None = None
    unfit_for_anaesthesia: bool | None = None
    cement_allergy: bool | None = None


class Heights(_Model):
    anterior: Millimetres
    middle: Millimetres
    posterior: Millimetres
    reference: Annotated[float, Field(gt=0, le=200, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _not_taller_than_reference(self) -> Heights:
        for name in ("anterior", "middle", "posterior"):
            if getattr(self, name) > self.reference * 1.5:
                raise ValueError(
                    f"{name} height {getattr(self, name)} mm is implausible against the "
                    f"reference height {self.reference} mm"
                )
        return self


class LevelInput(_Model):
    level: Vertebra
    index: bool | None = None
    mri_edema: bool | None = None
    height_loss_pct: Percent | None = None
    heights_mm: Heights | None = None
    lesion: Literal["lytic", "mixed", "blastic"] | None = None
    posterior_wall: Literal["intact", "disrupted", "retropulsion"] | None = None
    escc: ESCC | None = None
    alignment: Literal["normal", "deformity", "subluxation"] | None = None
    posterolateral: Literal["none", "unilateral", "bilateral"] | None = None
    instrumentation: Literal["none", "unilateral_screw", "bilateral_screws"] | None = None
    fracture_age_weeks: Weeks | None = None
    sins_total: Annotated[int, Field(ge=0, le=18)] | None = None
    # extensions
    body_involved_over_50: bool | None = None  # SINS collapse "none, but > 50% of body involved"
    kyphosis_concern: bool | None = None  # AOSpine editorial: correction of kyphosis matters
    vertebra_plana: bool | None = None  # relative contraindication (IMWG 2008); CAFE excluded it
    concordant_exam: bool | None = None  # examination matches this level; else pain.concordant_exam
    plasmacytoma: bool | None = None  # a plasmacytoma is the fracture (CAFE excluded it)
    comminuted: bool | None = None  # comminuted fracture (CAFE excluded it)
    # AJNR-instrumented hazards after surgery at or next to a construct
    posterior_elements_resected: bool | None = None  # pedicles/posterior elements resected
    costovertebral_junction_removed: bool | None = None
    fluid_collection_on_path: bool | None = None  # seroma or pseudomeningocele on the needle path
    hardware_failure: bool | None = None  # screw/rod failure or back-out at the level
    hardware_prohibits: bool | None = None  # the hardware's position makes augmentation unsafe

    @model_validator(mode="after")
    def _one_height_measure(self) -> LevelInput:
        if self.height_loss_pct is not None and self.heights_mm is not None:
            raise ValueError("give height_loss_pct or heights_mm, not both")
        return self


class Context(_Model):
    mdt_agreed: bool | None = None
    spine_surgery_available: bool | None = None
    prior_radiotherapy_levels: list[Vertebra] | None = None
    mri_contraindicated: bool | None = None  # extension: bone scan/SPECT instead (SNIS-2014)


class AssessmentInput(_Model):
    note: str | None = None  # extension: free text about the case; no rule reads it
    patient: Patient = Patient()
    pain: Pain = Pain()
    neurology: Neurology = Neurology()
    contraindications: Contraindications = Contraindications()
    levels: list[LevelInput] = Field(default_factory=list)
    context: Context = Context()

    @field_validator("levels")
    @classmethod
    def _levels_unique(cls, levels: list[LevelInput]) -> list[LevelInput]:
        seen: set[str] = set()
        for lv in levels:
            if lv.level in seen:
                raise ValueError(f"level {lv.level} is listed twice")
            seen.add(lv.level)
        return levels


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(
            ("function-after", "function-before", "literal[", "lax-or-strict")
        ):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = AssessmentInput
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        ann = field.annotation
        for cand in (ann, *getattr(ann, "__args__", ())):
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                model = cand
                break
            inner = getattr(cand, "__args__", ())
            sub = [c for c in inner if isinstance(c, type) and issubclass(c, BaseModel)]
            if sub:
                model = sub[0]
                break
    return list(model.model_fields)


def _reason(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        near = difflib.get_close_matches(key, _allowed_keys(tuple(err["loc"])), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        return f"unknown field{hint}"
    if kind == "missing":
        return "required"
    if kind in ("value_error", "assertion_error"):
        return str(err["msg"]).removeprefix("Value error, ")
    msg = str(err["msg"])
    if "input" not in err:
        return msg
    try:
        shown = repr(value)
    except ValueError:  # an integer too long to print (> 4,300 digits)
        shown = "a number too large"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{shown}: {msg[0].lower()}{msg[1:]}"


def to_invalid_input(exc: ValidationError, where: str = "") -> InvalidInput:
    """Translate pydantic's errors into vertebro's, one per field, with dotted paths."""
    errors = []
    for err in exc.errors(include_url=False):
        errors.append(FieldError(_path(tuple(err["loc"])) or "(input)", _reason(err), where))
    return InvalidInput(errors)


def validate_input(data: Mapping[str, Any] | AssessmentInput) -> AssessmentInput:
    """Validate a patient given as a mapping (e.g. parsed JSON). Raises :class:`InvalidInput`."""
    if isinstance(data, AssessmentInput):
        return data
    if not isinstance(data, Mapping):
        raise InvalidInput.field("(input)", f"expected a JSON object, got {type(data).__name__}")
    try:
        return AssessmentInput.model_validate(data)
    except ValidationError as exc:
        raise to_invalid_input(exc) from None


def validate_json(text: str | bytes, where: str = "") -> AssessmentInput:
    """Parse and validate JSON text; malformed JSON is reported with its line and column."""
    try:
        # pydantic's Rust parser: a third less time than json.loads + model_validate (17 against
        # 24-26 µs on the benchmark's patients). The model is strict and its fields JSON types,
        # so both accept the same inputs; any failure is parsed again below, whose messages
        # (JSON line and column, too-long integers) are the ones users see.
        return AssessmentInput.model_validate_json(text)
    except ValidationError:
        pass
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            [
                FieldError(
                    "(json)",
                    f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                    where,
                )
            ]
        ) from None
    except (ValueError, RecursionError) as exc:
        # e.g. an integer of more than 4,300 digits, or nesting deeper than the parser allows
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise InvalidInput([FieldError("(json)", f"not accepted: {reason}", where)]) from None
    if not isinstance(data, dict):
        raise InvalidInput([FieldError("(input)", "expected a JSON object", where)])
    try:
        return AssessmentInput.model_validate(data)
    except ValidationError as exc:
        raise to_invalid_input(exc, where) from None
