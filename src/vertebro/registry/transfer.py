"""Moving whole cohorts in and out: the neutral record stream behind every file format.

Export reads every record the acting user may see and yields flat *records* (one dict of
strings per site, patient, assessment, procedure, treated level, complication or follow-up).
Import takes such records (from the CSV long format or from a REDCap records export), checks
all of them first and lists every problem with its row and column; only a clean file is
written, in one transaction, with one audit row per inserted row.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from pydantic import ValidationError
from sqlalchemy import JSON, Table, insert, select, text

from vertebro.errors import FieldError, Forbidden, InvalidInput

from . import audit
from .models import (
    Assessment,
    Base,
    Complication,
    FollowUp,
    Patient,
    Procedure,
    ProcedureLevel,
    Site,
)
from .schemas import ComplicationIn, FollowUpIn, PatientIn, ProcedureIn, SiteIn, field_errors
from .service import Registry, follow_up_columns, validate_complication, validate_procedure
from .vocab import DISPOSITIONS

__all__ = [
    "COLUMNS",
    "RECORD_TYPES",
    "Progress",
    "export_records",
    "import_records",
]

#: progress callback: (phase, done, total)
Progress = Callable[[str, int, int], None]

RECORD_TYPES = ("site", "patient", "assessment", "procedure", "level", "complication",
                "follow_up")
ODI_COLUMNS = tuple(f"odi_{i}" for i in range(1, 11))

#: The columns of the long format, in file order (see docs/registry.md).
COLUMNS: tuple[str, ...] = (
    "record_type", "site", "patient", "assessment", "procedure", "date", "day",
    # site
    "site_name",
    # patient
    "birth_year", "age_at_index", "sex", "primary_cancer", "hospital_number_hash", "synthetic",
    # assessment
    "guideline", "disposition", "rulebook_version", "engine_version", "input_json",
    "output_json",
    # procedure
    "anaesthesia", "operator_role", "override_reason", "biopsy_taken", "biopsy_result",
    # level (and complication level)
    "level", "technique", "approach", "needle", "cement_type", "cement_volume_ml",
    "balloon_used",
    # complication
    "complication_type", "leak_site", "symptomatic", "severity_grade", "treatment",
    # follow-up
    "baseline", "interval", "nrs", "odi_version", *ODI_COLUMNS, "odi", "rdq_version", "rdq",
    "kps", "ecog", "analgesic_class", "new_fracture", "new_fracture_level", "vital_status",
    "lost_to_follow_up",
)
#: derived on export, recomputed (and ignored) on import
DERIVED = {"day", "interval", "odi", "age_at_index"}

_ALLOWED: dict[str, set[str]] = {
    "site": {"site_name"},
    "patient": {"birth_year", "age_at_index", "sex", "primary_cancer", "hospital_number_hash",
                "synthetic"},
    "assessment": {"assessment", "date", "guideline", "disposition", "rulebook_version",
                   "engine_version", "input_json", "output_json"},
    "procedure": {"procedure", "assessment", "date", "anaesthesia", "operator_role",
                  "override_reason", "biopsy_taken", "biopsy_result"},
    "level": {"procedure", "level", "technique", "approach", "needle", "cement_type",
              "cement_volume_ml", "balloon_used"},
    "complication": {"procedure", "complication_type", "level", "leak_site", "symptomatic",
                     "severity_grade", "treatment"},
    "follow_up": {"procedure", "date", "baseline", "nrs", "odi_version", *ODI_COLUMNS,
                  "rdq_version", "rdq", "kps", "ecog", "analgesic_class", "new_fracture",
                  "new_fracture_level", "vital_status", "lost_to_follow_up"},
}


#: columns that may be filled in a record of each type
_PERMITTED: dict[str, set[str]] = {
    t: _ALLOWED[t] | {"record_type", "site", "patient"} | DERIVED for t in _ALLOWED
} | {"site": {"record_type", "site", "site_name"}}


# ------------------------------------------------------------------------------ export
def _s(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _json(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def export_records(
    reg: Registry, actor: str, *, research: bool = False, progress: Progress | None = None
) -> Iterator[dict[str, str]]:
    """Every record ``actor`` may see, in a deterministic order, as dicts of strings.

    ``research=True`` (mandatory for researchers): no direct identifier (pseudonyms for
    patient codes, no hospital-number hash, age at the index procedure instead of birth year,
    no free-text override reason) and days from the index procedure instead of dates.
    """
    with reg.session(actor) as (s, who):
        assert who is not None
        if who.pseudonymised and not research:
            raise Forbidden("researchers export with --research only")
        q_p = select(Patient, Site.code).join(Site).order_by(Site.code, Patient.code)
        if not who.all_sites:
            q_p = q_p.where(Patient.site_id == who.site_id)
        patients = s.execute(q_p).all()
        ids = [p.id for p, _ in patients]
        sites = s.execute(select(Site).order_by(Site.code)).scalars().all()
        site_codes = {sc for _, sc in patients}
        if not who.all_sites:
            site_codes.add(who.site_code or "")
        by_patient: dict[int, dict[str, list[Any]]] = {i: {"a": [], "p": []} for i in ids}
        for a in s.scalars(select(Assessment).order_by(Assessment.assessed_on, Assessment.id)):
            if a.patient_id in by_patient:
                by_patient[a.patient_id]["a"].append(a)
        procs: dict[int, Procedure] = {}
        for pr in s.scalars(select(Procedure).order_by(Procedure.performed_on, Procedure.id)):
            if pr.patient_id in by_patient:
                by_patient[pr.patient_id]["p"].append(pr)
                procs[pr.id] = pr
        children: dict[int, dict[str, list[Any]]] = {i: {"l": [], "c": [], "f": []}
                                                     for i in procs}
        for lv in s.scalars(select(ProcedureLevel).order_by(ProcedureLevel.id)):
            if lv.procedure_id in children:
                children[lv.procedure_id]["l"].append(lv)
        for c in s.scalars(select(Complication).order_by(Complication.id)):
            if c.procedure_id in children:
                children[c.procedure_id]["c"].append(c)
        for f in s.scalars(select(FollowUp).order_by(FollowUp.followed_on, FollowUp.id)):
            if f.procedure_id in children:
                children[f.procedure_id]["f"].append(f)

        total = len(patients)
        for site in sites:
            if site.code in site_codes or who.all_sites:
                yield {"record_type": "site", "site": site.code, "site_name": site.name}
        for n, (p, scode) in enumerate(patients, 1):
            yield from _patient_records(reg, p, scode, by_patient[p.id], children, research)
            if progress:
                progress("export", n, total)


def _patient_records(
    reg: Registry, p: Patient, scode: str, own: dict[str, list[Any]],
    children: dict[int, dict[str, list[Any]]], research: bool,
) -> Iterator[dict[str, str]]:
    procs: list[Procedure] = own["p"]
    index = procs[0].performed_on if procs else None
    code = reg.pseudonym(scode, p.code) if research else p.code
    base = {"site": scode, "patient": code}

    def when(d: dt.date) -> dict[str, str]:
        day = _s((d - index).days) if index else ""
        return {"day": day} if research else {"date": d.isoformat(), "day": day}

    rec: dict[str, str] = {"record_type": "patient", **base, "sex": _s(p.sex),
                           "primary_cancer": _s(p.primary_cancer), "synthetic": _s(p.synthetic)}
    if research:
        if p.birth_year is not None and index is not None:
            rec["age_at_index"] = _s(index.year - p.birth_year)
    else:
        rec["birth_year"] = _s(p.birth_year)
        rec["hospital_number_hash"] = _s(p.hospital_number_hash)
    yield rec
    a_ord = {}
    for n, a in enumerate(own["a"], 1):
        a_ord[a.id] = n
        yield {"record_type": "assessment", **base, "assessment": str(n), **when(a.assessed_on),
               "guideline": a.guideline, "disposition": a.disposition,
               "rulebook_version": a.rulebook_version, "engine_version": a.engine_version,
               "input_json": _json(a.input), "output_json": _json(a.output)}
    for n, pr in enumerate(procs, 1):
        pb = {**base, "procedure": str(n)}
        rec = {"record_type": "procedure", **pb,
               "assessment": _s(a_ord.get(pr.assessment_id)) if pr.assessment_id else "",
               **when(pr.performed_on), "anaesthesia": _s(pr.anaesthesia),
               "operator_role": _s(pr.operator_role), "biopsy_taken": _s(pr.biopsy_taken),
               "biopsy_result": _s(pr.biopsy_result)}
        if not research:
            rec["override_reason"] = _s(pr.override_reason)
        yield rec
        ch = children[pr.id]
        for lv in ch["l"]:
            yield {"record_type": "level", **pb, "level": lv.level, "technique": lv.technique,
                   "approach": _s(lv.approach), "needle": _s(lv.needle),
                   "cement_type": _s(lv.cement_type),
                   "cement_volume_ml": _s(lv.cement_volume_ml),
                   "balloon_used": _s(lv.balloon_used)}
        for c in ch["c"]:
            yield {"record_type": "complication", **pb, "complication_type": c.type,
                   "level": _s(c.level), "leak_site": _s(c.leak_site),
                   "symptomatic": _s(c.symptomatic), "severity_grade": _s(c.severity_grade),
                   "treatment": _s(c.treatment)}
        for f in ch["f"]:
            rec = {"record_type": "follow_up", **pb, **when(f.followed_on),
                   "baseline": _s(f.baseline), "interval": f.interval, "nrs": _s(f.nrs),
                   "odi_version": _s(f.odi_version), "odi": _s(f.odi),
                   "rdq_version": _s(f.rdq_version), "rdq": _s(f.rdq), "kps": _s(f.kps),
                   "ecog": _s(f.ecog), "analgesic_class": _s(f.analgesic_class),
                   "new_fracture": _s(f.new_fracture),
                   "new_fracture_level": _s(f.new_fracture_level),
                   "vital_status": _s(f.vital_status),
                   "lost_to_follow_up": _s(f.lost_to_follow_up)}
            if f.odi_sections is not None:
                for i, v in enumerate(f.odi_sections):
                    rec[ODI_COLUMNS[i]] = _s(v)
            yield rec


# ------------------------------------------------------------------------------ import
@dataclass
class _Plan:
    """Everything a clean file will insert, keyed by its references in the file."""

    sites: list[dict[str, Any]] = field(default_factory=list)
    patients: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    assessments: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    procedures: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    levels: list[tuple[tuple[str, str, str], dict[str, Any]]] = field(default_factory=list)
    complications: list[tuple[tuple[str, str, str], dict[str, Any]]] = field(
        default_factory=list)
    follow_ups: list[tuple[tuple[str, str, str], dict[str, Any]]] = field(default_factory=list)


_FIELD_TO_COLUMN = {"followed_on": "date", "performed_on": "date", "type": "complication_type",
                    "code": "patient"}


def _column(fieldname: str) -> str:
    if fieldname.startswith("odi_sections["):
        return f"odi_{int(fieldname[13:-1]) + 1}"
    if fieldname.startswith("levels[0]."):
        fieldname = fieldname[10:]
    return _FIELD_TO_COLUMN.get(fieldname, fieldname)


def _errs(exc: InvalidInput | ValidationError, where: str) -> list[FieldError]:
    errs = field_errors(exc) if isinstance(exc, ValidationError) else exc.errors
    return [FieldError(_column(e.field), e.reason, where) for e in errs]


def _present(row: dict[str, str], keys: Iterable[str]) -> dict[str, str]:
    return {k: v for k in keys if (v := row.get(k, "")) != ""}


def import_records(
    reg: Registry,
    actor: str,
    rows: Iterable[tuple[str, dict[str, str]]],
    *,
    progress: Progress | None = None,
    chunk: int = 5000,
) -> dict[str, int]:
    """Check every ``(where, record)`` and write all of them, or nothing.

    Imports add new patients (with everything recorded about them); a patient that already
    exists at its site is an error. Returns the number of rows inserted per table.
    """
    # Many small objects are built and kept: the cyclic GC would rescan them over and over.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _import(reg, actor, list(rows), progress, chunk)
    finally:
        if enabled:
            gc.enable()


def _import(reg: Registry, actor: str, rows: list[tuple[str, dict[str, str]]],
            progress: Progress | None, chunk: int) -> dict[str, int]:
    total = len(rows)
    with reg.session(actor) as (s, who):
        assert who is not None
        if not who.can_write:
            raise Forbidden(f"{who.username} is a {who.role} and cannot import")
        known_sites = {st.code: st.id for st in s.scalars(select(Site))}
        errors: list[FieldError] = []
        plan = _Plan()
        new_sites: set[str] = set()
        deferred: list[tuple[str, str, dict[str, str]]] = []
        for n, (where, row) in enumerate(rows, 1):
            rtype = row.get("record_type", "")
            if rtype not in RECORD_TYPES:
                errors.append(FieldError("record_type", f"{rtype!r} is not one of "
                                         f"{', '.join(RECORD_TYPES)}", where))
                continue
            extra = row.keys() - _PERMITTED[rtype]
            if extra:
                errors.extend(FieldError(k, f"not a field of a {rtype} record", where)
                              for k in sorted(extra) if row[k])
            site = row.get("site", "")
            if rtype == "site":
                errors.extend(_plan_site(plan, row, where, who, known_sites, new_sites))
                continue
            if site not in known_sites and site not in new_sites:
                errors.append(FieldError("site", f"unknown site {site!r}", where))
                continue
            if not who.all_sites and site != who.site_code:
                errors.append(FieldError("site", f"{who.username} may import only site "
                                         f"{who.site_code}", where))
                continue
            if rtype == "patient":
                errors.extend(_plan_patient(reg, plan, row, where))
            else:
                deferred.append((rtype, where, row))
            if progress and n % chunk == 0:
                progress("check", n, total)
        # patients already in the database
        if plan.patients:
            for sc, code in s.execute(select(Site.code, Patient.code).join(Site)):
                if (sc, code) in plan.patients:
                    errors.append(FieldError("patient", f"{code} already exists at site {sc}",
                                             plan.patients[(sc, code)]["_where"]))
        for kind in ("assessment", "procedure"):
            for rtype, where, row in deferred:
                if rtype == kind:
                    errors.extend(_plan_child(plan, rtype, row, where))
        for rtype, where, row in deferred:
            if rtype not in ("assessment", "procedure"):
                errors.extend(_plan_child(plan, rtype, row, where))
        errors.extend(_check_procedures(plan))
        if progress:
            progress("check", total, total)
        if errors:
            raise InvalidInput(sorted(errors, key=_row_number))
        return _write(s, plan, actor, known_sites, progress, chunk)


def _row_number(e: FieldError) -> int:
    digits = "".join(c for c in e.where if c.isdigit())
    return int(digits) if digits else 0


def _plan_site(plan: _Plan, row: dict[str, str], where: str, who: Any,
               known: dict[str, int], new: set[str]) -> list[FieldError]:
    code = row.get("site", "")
    if code in known:
        return []
    if who.role != "admin":
        return [FieldError("site", f"unknown site {code!r} (only an admin adds sites)", where)]
    try:
        data = SiteIn(code=code, name=row.get("site_name") or code)
    except ValidationError as exc:
        return _errs(exc, where)
    if code in new:
        return [FieldError("site", f"site {code} is listed twice", where)]
    new.add(code)
    plan.sites.append({"code": data.code, "name": data.name})
    return []


def _plan_patient(reg: Registry, plan: _Plan, row: dict[str, str],
                  where: str) -> list[FieldError]:
    key = (row["site"], row.get("patient", ""))
    data = {"code": key[1], **_present(row, ("birth_year", "sex", "primary_cancer",
                                              "synthetic"))}
    try:
        p = PatientIn.model_validate(data)
    except ValidationError as exc:
        return _errs(exc, where)
    if key in plan.patients:
        return [FieldError("patient", f"patient {key[1]} is listed twice", where)]
    h = row.get("hospital_number_hash") or None
    if h is not None and (len(h) != 64 or any(c not in "0123456789abcdef" for c in h)):
        return [FieldError("hospital_number_hash", "not a hex SHA-256 digest", where)]
    plan.patients[key] = {"_where": where, "code": p.code, "birth_year": p.birth_year,
                          "sex": p.sex, "primary_cancer": p.primary_cancer,
                          "hospital_number_hash": h, "synthetic": p.synthetic}
    return []


def _date(row: dict[str, str], where: str) -> tuple[dt.date | None, list[FieldError]]:
    try:
        return dt.date.fromisoformat(row.get("date", "")), []
    except ValueError:
        return None, [FieldError("date", f"{row.get('date', '')!r} is not a date (YYYY-MM-DD)",
                                 where)]


_FOLLOW_UP_FIELDS = frozenset((
    "baseline", "nrs", "rdq", "kps", "ecog", "analgesic_class", "new_fracture",
    "new_fracture_level", "vital_status", "lost_to_follow_up", "odi_version", "rdq_version"))


def _plan_child(plan: _Plan, rtype: str, row: dict[str, str], where: str) -> list[FieldError]:
    pkey = (row["site"], row.get("patient", ""))
    if pkey not in plan.patients:
        return [FieldError("patient", f"no patient {pkey[1]!r} of site {pkey[0]} in this file",
                           where)]
    if rtype == "assessment":
        return _plan_assessment(plan, pkey, row, where)
    proc_key = (*pkey, row.get("procedure", ""))
    if rtype == "procedure":
        return _plan_procedure(plan, pkey, proc_key, row, where)
    if proc_key not in plan.procedures:
        return [FieldError("procedure", f"no procedure {proc_key[2]!r} of patient {pkey[1]} "
                           "in this file", where)]
    if rtype == "level":
        plan.procedures[proc_key]["_levels"].append((where, row))
        return []
    if rtype == "complication":
        cdata = {"type": row.get("complication_type", ""),
                **_present(row, ("level", "leak_site", "symptomatic", "severity_grade",
                                 "treatment"))}
        try:
            c = ComplicationIn.model_validate(cdata)
        except ValidationError as exc:
            return _errs(exc, where)
        plan.procedures[proc_key]["_complications"].append((where, c))
        return []
    # follow_up
    sections = [v or None for v in map(row.get, ODI_COLUMNS)]
    data: dict[str, Any] = {k: row[k] for k in _FOLLOW_UP_FIELDS & row.keys() if row[k]}
    data["followed_on"] = row.get("date", "")
    if any(sections):
        data["odi_sections"] = sections
    try:
        f = FollowUpIn.model_validate(data)
    except ValidationError as exc:
        return _errs(exc, where)
    try:
        cols = follow_up_columns(f, plan.procedures[proc_key]["performed_on"], where)
    except InvalidInput as exc:
        return _errs(exc, where)
    plan.follow_ups.append((proc_key, cols))
    return []


def _plan_assessment(plan: _Plan, pkey: tuple[str, str], row: dict[str, str],
                     where: str) -> list[FieldError]:
    errs: list[FieldError] = []
    key = (*pkey, row.get("assessment", ""))
    if not key[2]:
        errs.append(FieldError("assessment", "an assessment needs its number", where))
    elif key in plan.assessments:
        errs.append(FieldError("assessment", f"assessment {key[2]} is listed twice", where))
    d, e = _date(row, where)
    errs.extend(e)
    parsed: dict[str, Any] = {}
    for col in ("input_json", "output_json"):
        try:
            parsed[col] = json.loads(row.get(col, ""))
            if not isinstance(parsed[col], dict):
                raise ValueError
        except ValueError:
            errs.append(FieldError(col, "not a JSON object", where))
    disposition = row.get("disposition", "")
    if disposition not in DISPOSITIONS:
        errs.append(FieldError("disposition", f"{disposition!r} is not one of "
                               f"{', '.join(DISPOSITIONS)}", where))
    elif "output_json" in parsed and parsed["output_json"].get("disposition") != disposition:
        errs.append(FieldError("disposition", "differs from output_json", where))
    if not row.get("guideline"):
        errs.append(FieldError("guideline", "missing", where))
    if errs:
        return errs
    plan.assessments[key] = {
        "assessed_on": d, "guideline": row["guideline"], "input": parsed["input_json"],
        "output": parsed["output_json"], "disposition": disposition,
        "rulebook_version": row.get("rulebook_version", ""),
        "engine_version": row.get("engine_version", ""),
    }
    return []


def _plan_procedure(plan: _Plan, pkey: tuple[str, str], key: tuple[str, str, str],
                    row: dict[str, str], where: str) -> list[FieldError]:
    if not key[2]:
        return [FieldError("procedure", "a procedure needs its number", where)]
    if key in plan.procedures:
        return [FieldError("procedure", f"procedure {key[2]} is listed twice", where)]
    errs: list[FieldError] = []
    d, e = _date(row, where)
    errs.extend(e)
    a_key = None
    if row.get("assessment"):
        a_key = (*pkey, row["assessment"])
        if a_key not in plan.assessments:
            errs.append(FieldError("assessment", f"no assessment {a_key[2]} of patient "
                                   f"{pkey[1]} in this file", where))
    if errs:
        return errs
    plan.procedures[key] = {
        "_where": where, "_assessment": a_key, "_levels": [], "_complications": [],
        "performed_on": d,
        **_present(row, ("anaesthesia", "operator_role", "override_reason", "biopsy_taken",
                         "biopsy_result")),
    }
    return []


def _check_procedures(plan: _Plan) -> list[FieldError]:
    """Validate each procedure with its levels, as the service would, and plan the children."""
    errors: list[FieldError] = []
    for key, proc in plan.procedures.items():
        where = proc["_where"]
        data = {k: v for k, v in proc.items() if not k.startswith("_")}
        levels_in = [
            {"level": r.get("level", ""), "technique": r.get("technique", ""),
             **_present(r, ("approach", "needle", "cement_type", "cement_volume_ml",
                            "balloon_used"))}
            for _, r in proc["_levels"]
        ]
        if not levels_in:
            errors.append(FieldError("level", "a procedure needs at least one level record",
                                     where))
            continue
        level_errs: list[FieldError] = []
        for (lwhere, _), lv in zip(proc["_levels"], levels_in, strict=True):
            try:
                ProcedureIn.model_validate({**data, "levels": [lv]})
            except ValidationError as exc:
                level_errs.extend(e for e in _errs(exc, lwhere)
                                  if e.field in _ALLOWED["level"])
        try:
            p = ProcedureIn.model_validate({**data, "levels": levels_in})
        except ValidationError as exc:
            errors.extend(e for e in _errs(exc, where) if not e.field.startswith("levels"))
            errors.extend(level_errs)
            continue
        a = plan.assessments.get(proc["_assessment"]) if proc["_assessment"] else None
        for e in validate_procedure(p, a["input"] if a else None, a["output"] if a else None,
                                    a["disposition"] if a else None,
                                    a["assessed_on"] if a else None, where):
            if e.field.startswith("levels["):
                i = int(e.field[7:e.field.index("]")])
                errors.append(FieldError("level", e.reason, proc["_levels"][i][0]))
            else:
                errors.append(e)
        treated = {lv.level for lv in p.levels}
        for cwhere, c in proc["_complications"]:
            errors.extend(validate_complication(c, treated, cwhere))
            plan.complications.append((key, c.model_dump()))
        proc["_parsed"] = p
        for parsed_level in p.levels:
            plan.levels.append((key, parsed_level.model_dump()))
    return errors


class _BulkWriter:
    """Many-row inserts on the session's own connection and transaction, bypassing the
    per-row statement machinery: ``executemany`` on SQLite, ``COPY`` on PostgreSQL. Values
    go through SQLAlchemy's own bind processors of each column, so they are stored exactly
    as an ORM insert would store them."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.dialect = conn.dialect
        self.raw = conn.connection.driver_connection
        self._procs: dict[tuple[str, tuple[str, ...]], list[tuple[int, Any, bool]]] = {}

    def insert(self, model: type[Base], rows: list[dict[str, Any]]) -> None:
        table: Table = model.__table__  # type: ignore[assignment]
        cols = tuple(rows[0])
        key = (table.name, cols)
        if key not in self._procs:
            self._procs[key] = [
                (i, p, isinstance(table.c[c].type, JSON))
                for i, c in enumerate(cols)
                if (p := table.c[c].type._cached_bind_processor(self.dialect)) is not None
            ]
        procs = self._procs[key]
        getter = itemgetter(*cols)
        tuples: list[Any] = []
        memo: dict[Any, Any] = {}  # dates and times repeat a lot (e.g. the import's timestamp)
        for r in rows:
            t = list(getter(r))
            for i, p, is_json in procs:
                v = t[i]
                if v is None:
                    continue
                if is_json:
                    if isinstance(v, list):  # e.g. ODI answer patterns repeat
                        k = tuple(v)
                        m = memo.get(k)
                        if m is None:
                            m = memo[k] = p(v)
                        t[i] = m
                    else:
                        t[i] = p(v)
                else:
                    m = memo.get(v)
                    if m is None:
                        m = memo[v] = p(v)
                    t[i] = m
            tuples.append(t)
        names = ", ".join(f'"{c}"' for c in cols)
        if self.dialect.name == "postgresql":
            with self.raw.cursor() as cur, cur.copy(
                f'COPY "{table.name}" ({names}) FROM STDIN'
            ) as copy:
                for t in tuples:
                    copy.write_row(t)
        elif self.dialect.name == "sqlite":
            marks = ", ".join("?" for _ in cols)
            cur = self.raw.cursor()
            try:
                cur.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', tuples)
            finally:
                cur.close()
        else:  # any other backend: SQLAlchemy's executemany
            self.conn.execute(insert(table), rows)


def _write(s: Any, plan: _Plan, actor: str, known_sites: dict[str, int],
           progress: Progress | None, chunk: int) -> dict[str, int]:
    at = audit.now()
    total = (len(plan.sites) + len(plan.patients) + len(plan.assessments)
             + len(plan.procedures) + len(plan.levels) + len(plan.complications)
             + len(plan.follow_ups))
    done = 0

    conn = s.connection()
    if conn.dialect.name == "sqlite":
        # take the write lock now, so that the ids read below stay ours until commit
        conn.execute(text("UPDATE registry_meta SET value = value WHERE 0 = 1"))

    def allocate(model: type[Base], n: int) -> list[int]:
        table = model.__tablename__
        if conn.dialect.name == "postgresql":
            return list(conn.execute(text(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                "FROM generate_series(1, :n)"), {"n": n}).scalars())
        start = conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
        return list(range(start + 1, start + 1 + n))

    writer = _BulkWriter(conn)

    def put(model: type[Base], rows: list[dict[str, Any]]) -> list[int]:
        nonlocal done
        if not rows:
            return []
        ids = allocate(model, len(rows))
        for i in range(0, len(rows), chunk):
            part = rows[i:i + chunk]
            part_ids = ids[i:i + chunk]
            for rid, r in zip(part_ids, part, strict=True):
                r["id"] = rid
            writer.insert(model, part)
            audit.audit_inserted(conn, model, part_ids, actor, at)
            done += len(part)
            if progress:
                progress("write", done, total)
        return ids

    site_ids = dict(known_sites)
    if plan.sites:
        for code, sid in zip((x["code"] for x in plan.sites),
                             put(Site, plan.sites), strict=True):
            site_ids[code] = sid
    pkeys = list(plan.patients)
    prow = [{k: v for k, v in plan.patients[k].items() if k != "_where"}
            | {"site_id": site_ids[k[0]], "created_at": at} for k in pkeys]
    pids = dict(zip(pkeys, put(Patient, prow), strict=True))
    akeys = list(plan.assessments)
    arow = [plan.assessments[k] | {"patient_id": pids[k[:2]], "created_at": at} for k in akeys]
    aids = dict(zip(akeys, put(Assessment, arow), strict=True))
    prkeys = list(plan.procedures)
    prrows: list[dict[str, Any]] = []
    for k in prkeys:
        p: ProcedureIn = plan.procedures[k]["_parsed"]
        a_key = plan.procedures[k]["_assessment"]
        prrows.append({
            "patient_id": pids[k[:2]], "assessment_id": aids[a_key] if a_key else None,
            "performed_on": p.performed_on, "anaesthesia": p.anaesthesia,
            "operator_role": p.operator_role, "override_reason": p.override_reason,
            "biopsy_taken": p.biopsy_taken, "biopsy_result": p.biopsy_result, "created_at": at,
        })
    prids = dict(zip(prkeys, put(Procedure, prrows), strict=True))
    put(ProcedureLevel, [lv | {"procedure_id": prids[k]} for k, lv in plan.levels])
    put(Complication, [c | {"procedure_id": prids[k], "created_at": at}
                       for k, c in plan.complications])
    put(FollowUp, [f | {"procedure_id": prids[k], "created_at": at}
                   for k, f in plan.follow_ups])
    return {"site": len(plan.sites), "patient": len(pids), "assessment": len(aids),
            "procedure": len(prids), "procedure_level": len(plan.levels),
            "complication": len(plan.complications), "follow_up": len(plan.follow_ups)}
