"""The rows ``vertebro analytics compare`` needs, read from the registry in SQL, one per patient.

The unit is the patient through the index (first) procedure, as in the outcomes report. A
propensity model needs each patient's covariates, so unlike the other reports this one brings
back one row per patient; it carries no identity (no code, no date: days since the procedure),
and the acting user's scope is the service layer's (:func:`vertebro.registry.reports.
patient_scope`: a clinician reads their own site, a researcher and an admin every site).

The covariates of ``data/compare.yaml`` are names of the extractors in :data:`EXTRACTORS`:
reading one is a reviewable one-liner over the stored assessment input and the patient row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import yaml

from vertebro.errors import InvalidInput

from ._outcomes import baseline_value, interval_value
from ._records import FollowUpRecord

if TYPE_CHECKING:
    from vertebro.registry import Registry

__all__ = ["EXTRACTORS", "CompareRecord", "compare_records", "compare_settings"]


@cache
def compare_settings() -> Mapping[str, Any]:
    """The bundled ``analytics/data/compare.yaml``."""
    text = files("vertebro.analytics").joinpath("data/compare.yaml").read_text("utf-8")
    data: Mapping[str, Any] = yaml.safe_load(text)
    unknown = [c["name"] for c in data["covariates"] if c["name"] not in EXTRACTORS]
    if unknown:
        raise InvalidInput.field("covariates", f"no extractor for {', '.join(unknown)}")
    return data


@dataclass(frozen=True)
class CompareRecord:
    """One index procedure: technique, covariates (``None``: not recorded), the outcome values
    per (measure, interval) and the baseline, and the survival and new-fracture times in days
    after the procedure (``*_event`` False: censored at that day)."""

    technique: str
    covariates: Mapping[str, float | None]
    baseline: Mapping[str, float | None] = field(default_factory=dict)
    values: Mapping[tuple[str, str], float] = field(default_factory=dict)
    survival_days: int | None = None
    died: bool = False
    fracture_days: int | None = None
    fractured: bool = False
    band: str | None = None


@dataclass(frozen=True)
class _Context:
    age: float | None
    sex: str | None
    primary: str | None
    levels: int
    baseline: Mapping[str, float | None]
    inp: Mapping[str, Any]

    def patient(self, key: str) -> Any:
        return (self.inp.get("patient") or {}).get(key)


def _flag(value: Any, true: Any = True) -> float | None:
    return None if value is None else float(value == true)


def _max_height_loss(c: _Context) -> float | None:
    losses = [lv.get("height_loss_pct") for lv in c.inp.get("levels") or []]
    known = [x for x in losses if x is not None]
    return float(max(known)) if known and len(known) == len(losses) else None


#: covariate name -> how it is read (``None``: not recorded for this patient)
EXTRACTORS: Mapping[str, Callable[[_Context], float | None]] = {
    "age": lambda c: c.age,
    "female": lambda c: None if c.sex in (None, "unknown") else float(c.sex == "female"),
    "primary_myeloma": lambda c: _flag(c.primary, "myeloma") if c.primary else None,
    "primary_breast": lambda c: _flag(c.primary, "breast") if c.primary else None,
    "primary_lung": lambda c: _flag(c.primary, "lung") if c.primary else None,
    "levels": lambda c: float(c.levels),
    "baseline_nrs": lambda c: c.baseline.get("nrs"),
    "kps_assessed": lambda c: None if c.patient("kps") is None else float(c.patient("kps")),
    "max_height_loss": _max_height_loss,
    "visceral_metastases": lambda c: None
    if c.patient("visceral_metastases") is None
    else float(c.patient("visceral_metastases") != "none"),
    "ambulatory": lambda c: _flag(c.patient("ambulatory")),
}


def _band(inp: Mapping[str, Any], score: str) -> str | None:
    """The prognostic band of ``score`` from a stored assessment input, or None."""
    if not inp:
        return None
    from vertebro.assess import prognostic_scores, validate_input
    from vertebro.errors import InvalidInput as _Invalid

    try:
        scored = prognostic_scores(validate_input(inp))[score]
    except _Invalid:  # an input stored under an older contract: no band rather than a guess
        return None
    return scored.band.code if scored.band is not None else None


def compare_records(registry: Registry, actor: str) -> tuple[list[CompareRecord], int]:
    """The index procedures ``actor`` may see, as :class:`CompareRecord`, and how many index
    procedures had no treated level (technique unknown; left out).

    Raises
    ------
    RegistryError
        If ``actor`` is not an active user.
    """
    from sqlalchemy import func, select

    from vertebro.registry import models as m
    from vertebro.registry.intervals import SCHEDULE
    from vertebro.registry.reports import patient_scope

    settings = compare_settings()
    target = {v.interval: v.target_day for v in SCHEDULE}
    with registry.session(actor) as (s, who):
        assert who is not None
        number = func.row_number().over(
            partition_by=m.Procedure.patient_id,
            order_by=(m.Procedure.performed_on, m.Procedure.id),
        )
        procs = (
            select(
                m.Procedure.id.label("id"),
                m.Procedure.performed_on.label("performed_on"),
                m.Patient.birth_year.label("birth_year"),
                m.Patient.sex.label("sex"),
                m.Patient.primary_cancer.label("primary"),
                m.Assessment.input.label("input"),
                number.label("number"),
            )
            .join(m.Patient, m.Procedure.patient_id == m.Patient.id)
            .outerjoin(m.Assessment, m.Assessment.id == m.Procedure.assessment_id)
            .where(patient_scope(who))
            .subquery("procs")
        )
        index = select(procs).where(procs.c.number == 1).subquery("idx")
        rows = s.execute(select(index)).all()
        techniques: dict[int, list[str]] = {}
        for proc_id, tech in s.execute(
            select(m.ProcedureLevel.procedure_id, m.ProcedureLevel.technique).join(
                index, index.c.id == m.ProcedureLevel.procedure_id
            )
        ):
            techniques.setdefault(proc_id, []).append(tech)
        fus: dict[int, list[tuple[Any, ...]]] = {}
        for row in s.execute(
            select(
                m.FollowUp.procedure_id,
                m.FollowUp.interval,
                m.FollowUp.baseline,
                m.FollowUp.days_since_procedure,
                m.FollowUp.nrs,
                m.FollowUp.odi,
                m.FollowUp.kps,
                m.FollowUp.vital_status,
                m.FollowUp.lost_to_follow_up,
                m.FollowUp.new_fracture,
            )
            .join(index, index.c.id == m.FollowUp.procedure_id)
            .order_by(m.FollowUp.procedure_id, m.FollowUp.id)
        ):
            fus.setdefault(row[0], []).append(tuple(row[1:]))
    out: list[CompareRecord] = []
    no_level = 0
    for row in rows:
        pid: int = row.id
        performed_on: Any = row.performed_on
        birth_year: int | None = row.birth_year
        sex: str | None = row.sex
        primary: str | None = row.primary
        inp: Mapping[str, Any] | None = row.input
        techs = techniques.get(pid)
        if not techs:
            no_level += 1
            continue
        technique = "kyphoplasty" if "kyphoplasty" in techs else "vertebroplasty"
        records = [
            FollowUpRecord(interval=iv, baseline=bool(b), day=d, nrs=nrs, odi=odi, kps=kps,
                           vital_status=vs, lost_to_follow_up=bool(lost))
            for iv, b, d, nrs, odi, kps, vs, lost, _ in fus.get(pid, [])
        ]
        base = {ms: baseline_value(records, ms) for ms in settings["measures"]}
        values: dict[tuple[str, str], float] = {}
        for ms in settings["measures"]:
            for iv, day in target.items():
                v = interval_value(records, ms, iv, day)
                if v is not None:
                    values[(ms, iv)] = v
        after = [r for r in fus.get(pid, []) if not r[1]]
        deaths = [r[2] for r in after if r[6] == "dead"]
        last = max((r[2] for r in after), default=None)
        checked = [r[2] for r in after if r[8] is not None]
        broke = [r[2] for r in after if r[8] is True]
        ctx = _Context(
            age=None if birth_year is None else float(performed_on.year - birth_year),
            sex=sex,
            primary=(primary or "").strip().lower() or None,
            levels=len(techs),
            baseline=base,
            inp=inp or {},
        )
        out.append(
            CompareRecord(
                technique=technique,
                covariates={c["name"]: EXTRACTORS[c["name"]](ctx) for c in settings["covariates"]},
                baseline=base,
                values=values,
                survival_days=min(deaths) if deaths else last,
                died=bool(deaths),
                fracture_days=min(broke) if broke else (max(checked) if checked else None),
                fractured=bool(broke),
                band=_band(inp or {}, settings["band_score"]),
            )
        )
    return out, no_level
