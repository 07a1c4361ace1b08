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
from sqlalchemy import JSON, Table, func, insert, select, text

from vertebro.errors import FieldError, Forbidden, InvalidInput

from . import audit, choices
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
from .research import research_input, research_output, research_value
from .schemas import ComplicationIn, FollowUpIn, PatientIn, ProcedureIn, SiteIn, field_errors
from .service import (
    Registry,
    follow_up_columns,
    plausible_date,
    validate_complication,
    validate_procedure,
)
from .vocab import DISPOSITIONS

__all__ = [
    "COLUMNS",
    "RECORD_TYPES",
    "Progress",
    "check_export",
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
    reg: Registry, actor: str, *, research: bool = False, progress: Progress | None = None,
    batch: int = 500,
) -> Iterator[dict[str, str]]:
    """Every record ``actor`` may see, in a deterministic order, as dicts of strings.

    ``research=True`` (mandatory for researchers): no direct identifier (pseudonyms for
    patient codes, no hospital-number hash, age at the index procedure instead of birth year),
    days from the index procedure instead of dates, and no free text
    (:mod:`vertebro.registry.research`).

    Streams: patients are read ``batch`` at a time (a server-side cursor on PostgreSQL) with
    their records, so memory does not grow with the registry. Access is checked when the
    generator starts, before any record (and before any file a caller opens on the first one):
    call :func:`check_export` first to refuse before opening anything.
    """
    with reg.session(actor) as (s, who):
        assert who is not None
        _refuse_export(who, research)
        yield from _export(s, reg, who, research, progress, batch)


def check_export(reg: Registry, actor: str, *, research: bool = False) -> str:
    """Raise what :func:`export_records` would raise for ``actor`` (unknown user, a
    researcher without ``research``), without reading any record; else return the scope the
    export covers: ``"all sites"`` or the actor's site code."""
    with reg.session(actor) as (_, who):
        assert who is not None
        _refuse_export(who, research)
        return "all sites" if who.all_sites else str(who.site_code)


def _refuse_export(who: Any, research: bool) -> None:
    if who.pseudonymised and not research:
        raise Forbidden("researchers export with --research only")


def _export(s: Any, reg: Registry, who: Any, research: bool, progress: Progress | None,
            batch: int) -> Iterator[dict[str, str]]:
    p_t, a_t, pr_t = Patient.__table__, Assessment.__table__, Procedure.__table__
    l_t, c_t, f_t = ProcedureLevel.__table__, Complication.__table__, FollowUp.__table__
    q_p = select(p_t, Site.code.label("site_code")).join(Site, Site.id == p_t.c.site_id)
    if not who.all_sites:
        q_p = q_p.where(p_t.c.site_id == who.site_id)
    total = s.scalar(select(func.count()).select_from(q_p.subquery())) or 0
    q_s = select(Site.code, Site.name).order_by(Site.code)
    if not who.all_sites:
        q_s = q_s.where(Site.id == who.site_id)
    for code, name in s.execute(q_s).all():
        yield {"record_type": "site", "site": code, "site_name": name}
    done = 0
    rows = s.execute(q_p.order_by(Site.code, p_t.c.code),
                     execution_options={"yield_per": batch})
    for part in rows.partitions():
        ids = [p.id for p in part]
        own: dict[int, dict[str, list[Any]]] = {i: {"a": [], "p": []} for i in ids}
        for a in s.execute(select(a_t).where(a_t.c.patient_id.in_(ids))
                           .order_by(a_t.c.assessed_on, a_t.c.id)):
            own[a.patient_id]["a"].append(a)
        children: dict[int, dict[str, list[Any]]] = {}
        for pr in s.execute(select(pr_t).where(pr_t.c.patient_id.in_(ids))
                            .order_by(pr_t.c.performed_on, pr_t.c.id)):
            own[pr.patient_id]["p"].append(pr)
            children[pr.id] = {"l": [], "c": [], "f": []}
        proc_ids = list(children)
        if proc_ids:
            for table, key, order in ((l_t, "l", (l_t.c.id,)), (c_t, "c", (c_t.c.id,)),
                                      (f_t, "f", (f_t.c.followed_on, f_t.c.id))):
                for r in s.execute(select(table).where(table.c.procedure_id.in_(proc_ids))
                                   .order_by(*order)):
                    children[r.procedure_id][key].append(r)
        for p in part:
            for rec in _patient_records(reg, p, p.site_code, own[p.id], children, research):
                yield _research_record(rec) if research else rec
            done += 1
            if progress:
                progress("export", done, total)


def _research_record(rec: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in rec.items():
        r = v if k in ("record_type", "site", "patient") else research_value(k, v)
        if r is not None:
            out[k] = r
    return out


def _patient_records(
    reg: Registry, p: Any, scode: str, own: dict[str, list[Any]],
    children: dict[int, dict[str, list[Any]]], research: bool,
) -> Iterator[dict[str, str]]:
    procs: list[Any] = own["p"]
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
               "input_json": _json(research_input(a.input) if research else a.input),
               "output_json": _json(research_output(a.output, a.input) if research
                                    else a.output)}
    for n, pr in enumerate(procs, 1):
        pb = {**base, "procedure": str(n)}
        rec = {"record_type": "procedure", **pb,
               "assessment": _s(a_ord.get(pr.assessment_id)) if pr.assessment_id else "",
               **when(pr.performed_on), "anaesthesia": _s(pr.anaesthesia),
               "operator_role": _s(pr.operator_role), "biopsy_taken": _s(pr.biopsy_taken),
               "biopsy_result": _s(pr.biopsy_result), "override_reason": _s(pr.override_reason)}
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
    #: follow-ups' derived columns as the file gives them: (where, stored columns, given)
    derived: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)


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


#: the hint of every error that says a file is a research export
_RESEARCH_HINT = ("research exports are not for import: they hold pseudonyms, ages and day "
                  "offsets instead of codes, birth years and dates; import a full export "
                  "(made without --research)")
_DATED = frozenset({"assessment", "procedure", "follow_up"})
#: problems listed in full; past them an import only counts (a file wrong in every row)
MAX_ERRORS = 10_000


def import_records(
    reg: Registry,
    actor: str,
    rows: Iterable[tuple[str, dict[str, str]]],
    *,
    progress: Progress | None = None,
    chunk: int = 5000,
    skip_duplicates: bool = False,
    field_name: Callable[[str, str], str] | None = None,
) -> dict[str, int]:
    """Check every ``(where, record)`` and write all of them, or nothing.

    Imports add new patients (with everything recorded about them); a patient that already
    exists at its site is an error. A patient's records follow its patient row (as every
    export writes them), so that the rows are checked and written one patient at a time,
    ``chunk`` rows per write, in one transaction: memory stays bounded whatever the size of
    ``rows`` (an iterator is read once). An exact duplicate of a record of the same patient is
    an error, or with ``skip_duplicates`` left out and counted (``duplicates_skipped``).
    ``field_name(record_type, column)`` names columns in errors (REDCap field names).
    Returns the number of rows inserted per table.
    """
    # Many small objects are built and kept: the cyclic GC would rescan them over and over.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _Importer(reg, actor, progress, chunk, skip_duplicates, field_name).run(rows)
    finally:
        if enabled:
            gc.enable()


class _Importer:
    """One import: rows are checked as they come, one patient's group at a time."""

    def __init__(self, reg: Registry, actor: str, progress: Progress | None, chunk: int,
                 skip_duplicates: bool, field_name: Callable[[str, str], str] | None) -> None:
        self.reg, self.actor, self.progress, self.chunk = reg, actor, progress, chunk
        self.skip_duplicates, self.field_name = skip_duplicates, field_name
        self.errors: list[FieldError] = []
        self.unlisted = 0  # problems past MAX_ERRORS, counted only
        self.research: list[FieldError] = []
        self.plan = _Plan()  # the batch to write next
        self.new_sites: set[str] = set()
        self.seen: set[tuple[str, str]] = set()  # patients of this file
        self.unchecked: list[tuple[tuple[str, str], str]] = []  # not yet looked up in the db
        self.group: list[tuple[str, str, dict[str, str]]] = []
        self.group_key: tuple[str, str] | None = None
        self.group_rows: set[tuple[tuple[str, str], ...]] = set()
        self.duplicates = 0
        self.counts: dict[str, int] = dict.fromkeys(
            ("site", "patient", "assessment", "procedure", "procedure_level", "complication",
             "follow_up"), 0)

    def run(self, rows: Iterable[tuple[str, dict[str, str]]]) -> dict[str, int]:
        with self.reg.session(self.actor) as (s, who):
            assert who is not None
            if not who.can_write:
                raise Forbidden(f"{who.username} is a {who.role} and cannot import")
            self.s, self.who = s, who
            self.sites = {st.code: (st.id, st.name) for st in s.scalars(select(Site))}
            n = 0
            try:
                for n, (where, row) in enumerate(rows, 1):
                    self._row(where, row)
                    if self.progress and n % self.chunk == 0:
                        self.progress("read", n, 0)
            except InvalidInput as exc:  # the reader's own problems (encoding, columns...)
                self.errors.extend(exc.errors[:MAX_ERRORS])
                self.unlisted += max(0, len(exc.errors) - MAX_ERRORS)
            self._close_group()
            self._lookup()
            if self.research:  # everything else follows from it
                raise InvalidInput(self.research)
            if self.errors:
                errors = sorted(self.errors, key=_row_number)
                if self.unlisted:
                    errors.append(FieldError("", f"... and {self.unlisted} more problems (the "
                                             f"first {MAX_ERRORS} are listed)"))
                raise InvalidInput(errors)
            self._flush(force=True)
            if self.progress:
                self.progress("read", n, n)
        if self.skip_duplicates:
            self.counts["duplicates_skipped"] = self.duplicates
        return self.counts

    # ---------------------------------------------------------------- one row
    def _fail(self, rtype: str, errs: Iterable[FieldError]) -> None:
        for e in errs:
            if len(self.errors) >= MAX_ERRORS:  # a file wrong in every row: memory stays bounded
                self.unlisted += 1
                continue
            if self.field_name is not None:
                e = FieldError(self.field_name(rtype, e.field), e.reason, e.where, cause=e.cause,
                               hint=e.hint)
            self.errors.append(e)

    def _row(self, where: str, row: dict[str, str]) -> None:
        rtype = row.get("record_type", "")
        if rtype not in RECORD_TYPES:
            self._fail(rtype, [FieldError("record_type", f"{rtype!r} is not one of "
                                          f"{', '.join(RECORD_TYPES)}", where)])
            return
        if "age_at_index" in row or (rtype in _DATED and "day" in row and "date" not in row):
            if len(self.research) < MAX_ERRORS:
                self.research.append(FieldError(
                    "", "a research export (days from the index procedure, no dates)", where,
                    cause="research export", hint=_RESEARCH_HINT))
            return
        extra = sorted(k for k in row.keys() - _PERMITTED[rtype] if row[k])
        if extra:
            self._fail(rtype, [FieldError(k, f"not a field of a {rtype} record", where)
                               for k in extra])
        site = row.get("site", "")
        if rtype == "site":
            self._fail(rtype, self._site(row, where))
            return
        if site not in self.sites and site not in self.new_sites:
            self._fail(rtype, [FieldError(
                "site", f"unknown site {site!r}", where, cause="unknown site",
                hint="an admin adds a site with `vertebro registry add-site CODE NAME`, or "
                     "imports a file with its site row")])
            return
        if not self.who.all_sites and site != self.who.site_code:
            self._fail(rtype, [FieldError("site", f"{self.who.username} may import only site "
                                          f"{self.who.site_code}", where)])
            return
        key = (site, row.get("patient", ""))
        if rtype == "patient":
            self._close_group()
            if key in self.seen:
                self._fail(rtype, [FieldError("patient", f"patient {key[1]} is listed twice",
                                              where)])
                return
            self.seen.add(key)
            self.group_key = key
        elif key != self.group_key:
            reason = (f"patient {key[1]}'s records must follow its patient row, without "
                      "other patients' rows in between" if key in self.seen else
                      f"no patient row for {key[1]!r} of site {site} before this row")
            self._fail(rtype, [FieldError("patient", reason, where)])
            return
        ident = tuple(sorted(row.items()))
        if ident in self.group_rows:
            if self.skip_duplicates:
                self.duplicates += 1
                return
            self._fail(rtype, [FieldError(
                "", f"an exact duplicate of an earlier {rtype} record of patient {key[1]}",
                where, cause="exact duplicate",
                hint="remove the duplicates, or import with --skip-duplicates to leave them "
                     "out (they are counted)")])
            return
        self.group_rows.add(ident)
        self.group.append((rtype, where, row))

    def _site(self, row: dict[str, str], where: str) -> list[FieldError]:
        code, name = row.get("site", ""), row.get("site_name", "")
        if not self.who.all_sites and code != self.who.site_code:
            return [FieldError("site", f"{self.who.username} may import only site "
                               f"{self.who.site_code}, not {code!r}", where)]
        if code in self.sites:
            if name and name != self.sites[code][1]:
                return [FieldError("site_name", f"site {code} is {self.sites[code][1]!r} in "
                                   f"this registry, not {name!r}", where)]
            return []
        return _plan_site(self.plan, row, where, self.who, {}, self.new_sites)

    # ---------------------------------------------------------------- one patient
    def _close_group(self) -> None:
        if self.group_key is None:
            return
        group, key = self.group, self.group_key
        self.group, self.group_key, self.group_rows = [], None, set()
        plan = _Plan()
        types = {where: rtype for rtype, where, _ in group}
        errs: list[FieldError] = []
        for rtype, where, row in group:
            if rtype == "patient":
                errs += _plan_patient(self.reg, plan, row, where)
        if not errs:
            for kind in ("assessment", "procedure"):
                for rtype, where, row in group:
                    if rtype == kind:
                        errs += _plan_child(plan, rtype, row, where)
            for rtype, where, row in group:
                if rtype not in ("patient", "assessment", "procedure"):
                    errs += _plan_child(plan, rtype, row, where)
            errs += _check_procedures(plan)
            errs += _check_derived(plan, group)
        for e in errs:
            self._fail(types.get(e.where, ""), [e])
        if key in plan.patients:
            self.unchecked.append((key, plan.patients[key]["_where"]))
        if len(self.unchecked) >= 1000:
            self._lookup()
        if not self.errors:
            _merge(self.plan, plan)
            self._flush()

    def _lookup(self) -> None:
        """Patients of the file that already exist at their site."""
        if not self.unchecked:
            return
        wanted = dict(self.unchecked)
        self.unchecked = []
        q = (select(Site.code, Patient.code).join(Site)
             .where(Patient.code.in_({code for _, code in wanted})))
        for sc, code in self.s.execute(q):
            if (sc, code) in wanted:
                self._fail("patient", [FieldError(
                    "patient", f"{code} already exists at site {sc}", wanted[(sc, code)],
                    cause="patient already exists",
                    hint="an import adds new patients only: leave out the patients the "
                         "registry already has")])

    def _flush(self, *, force: bool = False) -> None:
        plan = self.plan
        size = (len(plan.patients) + len(plan.assessments) + len(plan.procedures)
                + len(plan.levels) + len(plan.complications) + len(plan.follow_ups))
        if not plan.sites and (size == 0 or (size < self.chunk and not force)):
            return
        self._lookup()
        if self.errors:
            return
        known = {code: sid for code, (sid, _) in self.sites.items()}
        written, site_ids = _write(self.s, plan, self.actor, known, self.chunk)
        for x in plan.sites:
            self.sites[x["code"]] = (site_ids[x["code"]], x["name"])
        self.new_sites -= set(site_ids)
        for k, v in written.items():
            self.counts[k] += v
        self.plan = _Plan()
        if self.progress:  # rows written so far (the total is not known while streaming)
            self.progress("write", sum(self.counts.values()), 0)


def _merge(into: _Plan, plan: _Plan) -> None:
    into.patients.update(plan.patients)
    into.assessments.update(plan.assessments)
    into.procedures.update(plan.procedures)
    into.levels += plan.levels
    into.complications += plan.complications
    into.follow_ups += plan.follow_ups


def _check_derived(plan: _Plan, group: list[tuple[str, str, dict[str, str]]]
                   ) -> list[FieldError]:
    """Derived columns a file gives must agree with what they are derived from (a REDCap
    follow-up in another interval's event, a day offset that does not match its date)."""
    errs: list[FieldError] = []
    dates = [p["performed_on"] for p in plan.procedures.values()]
    index = min(dates) if dates else None
    for rtype, where, row in group:
        day = row.get("day")
        if day and index is not None and rtype in _DATED and "date" in row:
            try:
                d = dt.date.fromisoformat(row["date"])
            except ValueError:
                continue
            if day != str((d - index).days):
                errs.append(FieldError("day", f"{day!r} but {d} is day {(d - index).days} from "
                                       f"the index procedure ({index})", where,
                                       cause="day differs from the date"))
    for where, cols, given in plan.derived:
        if given.get("interval") and given["interval"] != cols["interval"]:
            errs.append(FieldError(
                "interval", f"{given['interval']!r}, but the visit on day "
                f"{cols['days_since_procedure']} after its procedure is in {cols['interval']!r}",
                where, cause="interval differs from the date"))
        odi = given.get("odi")
        if odi:
            try:
                ok = cols["odi"] is not None and abs(float(odi) - cols["odi"]) < 0.005
            except ValueError:
                ok = False
            if not ok:
                errs.append(FieldError("odi", f"{odi!r}, but the section answers give "
                                       f"{cols['odi']}", where, cause="odi differs"))
    return errs


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
    if p.birth_year is not None and p.birth_year > dt.date.today().year:
        return [FieldError("birth_year", f"{p.birth_year} is after this year", where)]
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
    errs = plausible_date("date", f.followed_on, plan.patients[pkey]["birth_year"], where)
    try:
        cols = follow_up_columns(f, plan.procedures[proc_key]["performed_on"], where)
    except InvalidInput as exc:
        return errs + _errs(exc, where)
    if errs:
        return errs
    plan.follow_ups.append((proc_key, cols))
    if row.keys() & {"interval", "odi"}:
        plan.derived.append((where, cols, _present(row, ("interval", "odi"))))
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
    if d is not None:
        errs += plausible_date("date", d, plan.patients[pkey]["birth_year"], where)
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
    if d is not None:
        errs += plausible_date("date", d, plan.patients[pkey]["birth_year"], where)
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
            # a level's problem is reported once, on its level row (issue 13): filter by the
            # model's path, before _errs renames "levels[0].level" to the column "level"
            errors.extend(FieldError(_column(e.field), e.reason, where)
                          for e in field_errors(exc) if not e.field.startswith("levels"))
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
        self._rls: dict[str, bool] = {}

    def _row_security(self, table: str) -> bool:
        if table not in self._rls:
            self._rls[table] = bool(self.conn.execute(
                text("SELECT row_security_active(CAST(:t AS regclass))"), {"t": table}
            ).scalar())
        return self._rls[table]

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
        if self.dialect.name == "postgresql" and self._row_security(table.name):
            # COPY FROM refuses a table whose row-level security binds this role (migration
            # 0005, the application role): the same rows as one pipelined executemany
            marks = ", ".join("%s" for _ in cols)
            with self.raw.cursor() as cur:
                cur.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})',
                                tuples)
        elif self.dialect.name == "postgresql":
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
           chunk: int) -> tuple[dict[str, int], dict[str, int]]:
    """Insert ``plan`` (one batch) with its audit rows; returns the counts and site ids."""
    at = audit.now()
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
    choices.refresh(conn, prids.values())  # derived rows of this batch's procedures
    return {"site": len(plan.sites), "patient": len(pids), "assessment": len(aids),
            "procedure": len(prids), "procedure_level": len(plan.levels),
            "complication": len(plan.complications), "follow_up": len(plan.follow_ups)}, {
        code: site_ids[code] for code in (x["code"] for x in plan.sites)}
