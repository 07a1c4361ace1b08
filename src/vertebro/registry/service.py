"""The registry service layer: every operation takes the acting user explicitly.

Access (issue 3): a clinician sees and changes only their own site's patients; a researcher
sees pseudonymised records of every site and changes nothing; an admin manages sites and users
and may act on every site. Every write happens in one transaction that also writes its audit
rows; a refused or invalid operation writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from vertebro.errors import FieldError, Forbidden, InvalidInput, NotFound, RegistryError

from . import _keys, _scores, audit, choices, reports
from ._dberrors import translate
from .db import check_schema, make_engine, set_row_scope, upgrade
from .intervals import bin_days
from .models import (
    Assessment,
    AuditLog,
    Complication,
    FollowUp,
    Patient,
    Procedure,
    ProcedureLevel,
    Site,
    User,
)
from .research import DROPPED, research_input, research_output, research_value
from .schemas import (
    ComplicationIn,
    FollowUpIn,
    PatientIn,
    PatientUpdate,
    ProcedureIn,
    SiteIn,
    UserIn,
    parse,
)
from .vocab import DISPOSITIONS

__all__ = ["EARLIEST", "Actor", "Registry", "assessed_levels", "follow_up_columns",
           "plausible_date"]

#: No clinical date of this registry is older: the first percutaneous vertebroplasty was done
#: in 1984 (Galibert P, Deramond H et al., Neurochirurgie 1987;33(2):166-8).
EARLIEST = dt.date(1984, 1, 1)


def plausible_date(field: str, d: dt.date, birth_year: int | None, where: str = "",
                   today: dt.date | None = None) -> list[FieldError]:
    """A clinical date (assessment, procedure, follow-up) that cannot be true: after today,
    before 1984 (:data:`EARLIEST`) or before the patient's birth year. Grouped by cause."""
    today = today or dt.date.today()
    if d > today:
        return [FieldError(field, f"{d} is after today ({today})", where,
                           cause="a date after today")]
    if d < EARLIEST:
        return [FieldError(field, f"{d} is before 1984, the first percutaneous vertebroplasty "
                           "(Galibert et al. 1987)", where, cause="a date before 1984")]
    if birth_year is not None and d.year < birth_year:
        return [FieldError(field, f"{d} is before the patient's birth year {birth_year}",
                           where, cause="a date before the birth year")]
    return []

@dataclass(frozen=True)
class Actor:
    """The acting user, resolved from the database for one operation."""

    id: int
    username: str
    role: str
    site_id: int | None
    site_code: str | None

    @property
    def can_write(self) -> bool:
        return self.role in ("clinician", "admin")

    @property
    def all_sites(self) -> bool:
        return self.role in ("researcher", "admin")

    @property
    def pseudonymised(self) -> bool:
        return self.role == "researcher"


#: keys of the service's views that differ from the long format's column names
_VIEW_COLUMNS = {"type": "complication_type"}


def research_view(view: Mapping[str, Any]) -> dict[str, Any]:
    """A service view as a researcher sees it: exactly what the research export holds
    (:func:`vertebro.registry.research.research_value`, column by column; levels too)."""
    out: dict[str, Any] = {}
    for k, v in view.items():
        if k == "levels" and isinstance(v, list):
            out[k] = [research_view(lv) if isinstance(lv, Mapping) else lv for lv in v]
            continue
        column = _VIEW_COLUMNS.get(k, k)
        if column not in DROPPED:
            out[k] = research_value(column, v)
    return out


def assessed_levels(
    assessment_input: Mapping[str, Any], output: Mapping[str, Any] | None = None
) -> set[str]:
    """Levels an assessment covers: those in its input and those the engine planned (it may
    add intervening or impending levels, JNCCN-2012)."""
    found: set[str] = set()
    for doc in (assessment_input, output or {}):
        levels = doc.get("levels") or []
        if isinstance(levels, list):
            found |= {str(lv.get("level", "")).upper() for lv in levels
                      if isinstance(lv, Mapping)}
    found.discard("")
    return found


def follow_up_columns(data: FollowUpIn, performed_on: dt.date, where: str = "") -> dict[str, Any]:
    """The stored columns of a follow-up: scores computed by :mod:`vertebro.scores`.

    Raises :class:`InvalidInput` listing every problem (dates, score ranges).
    """
    errors: list[FieldError] = []
    days = (data.followed_on - performed_on).days
    if data.baseline and days > 0:
        errors.append(
            FieldError("followed_on", f"a baseline is on or before the procedure ({performed_on})",
                       where)
        )
    if not data.baseline and days < 0:
        errors.append(
            FieldError("followed_on", f"{data.followed_on} is before the procedure on "
                       f"{performed_on}", where)
        )
    odi_sections = data.odi_sections
    cols: dict[str, Any] = {
        "followed_on": data.followed_on,
        "baseline": data.baseline,
        "days_since_procedure": days,
        "interval": "preop" if data.baseline else ("lt4w" if days < 0 else bin_days(days)),
        "nrs": None if data.nrs is None else _score(errors, where, "nrs", _scores.validate_nrs,
                                                    data.nrs),
        "odi_version": None,
        "odi_sections": None,
        "odi": None,
        "rdq_version": None,
        "rdq": None,
        "kps": None if data.kps is None else _score(errors, where, "kps", _scores.validate_kps,
                                                    data.kps),
        "ecog": None if data.ecog is None else _score(errors, where, "ecog",
                                                      _scores.validate_ecog, data.ecog),
        "analgesic_class": data.analgesic_class,
        "new_fracture": data.new_fracture,
        "new_fracture_level": data.new_fracture_level,
        "vital_status": data.vital_status,
        "lost_to_follow_up": data.lost_to_follow_up,
    }
    if odi_sections is not None:
        odi = _score(errors, where, "odi_sections", _scores.odi_percent, odi_sections)
        if odi is not None:
            cols["odi_sections"] = odi_sections
            cols["odi_version"] = data.odi_version
            cols["odi"] = round(odi, 2)
    if data.rdq is not None:
        cols["rdq"] = _score(errors, where, "rdq", _scores.rdq, data.rdq)
        cols["rdq_version"] = data.rdq_version
    if data.new_fracture_level and data.new_fracture is False:
        errors.append(FieldError("new_fracture_level", "given but new_fracture is false", where))
    if errors:
        raise InvalidInput(errors)
    return cols


def _score(errors: list[FieldError], where: str, field: str, f: Any, value: Any) -> Any:
    """``f(value)`` from :mod:`vertebro.scores`; its errors are collected under ``field``."""
    try:
        return f(value)
    except InvalidInput as exc:
        for e in exc.errors:
            errors.append(FieldError(e.field if e.field.startswith(field) else field, e.reason,
                                     where))
        return None


def _birth_year_not_ahead(year: int | None) -> None:
    if year is not None and year > dt.date.today().year:
        raise InvalidInput.field("birth_year", f"{year} is after this year")


class Registry:
    """Entry point of the registry: ``Registry(url)``; every method takes ``actor``."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        """Open the registry at ``url`` (default: settings). A store without a registry, or
        with an older schema, is refused with a message naming what to run: only
        :meth:`create` (``vertebro db init`` / ``db upgrade``) makes or migrates a schema."""
        self.engine = engine if engine is not None else make_engine(url, migrate=False)
        try:
            check_schema(self.engine)
        except BaseException:
            self.engine.dispose()
            raise
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        audit.install(self._sessions)
        choices.install(self._sessions)  # the derived choice table, same transaction
        self._key_cache: bytes | None = None
        #: a key file :meth:`create` wrote for a new store (for the CLI to say so)
        self.key_file_written: str | None = None

    @classmethod
    def create(cls, url: str | None = None) -> Registry:
        """Create (or migrate) the registry schema at ``url``, then open it.

        The explicit way to make a new store (``vertebro db init``, ``db upgrade`` and the
        test fixtures): a new SQLite file is made with mode 0600; when no key is configured,
        a new key file (0600) is written beside a SQLite store and its fingerprint stored
        (:mod:`vertebro.registry._keys`).
        """
        engine = make_engine(url, migrate=False, create=True)
        try:
            upgrade(engine)
            written = _keys.bind_new_store(engine)
        except BaseException:
            engine.dispose()
            raise
        reg = cls(engine=engine)
        reg.key_file_written = written
        return reg

    def close(self) -> None:
        self.engine.dispose()

    # ---------------------------------------------------------------- sessions and access
    @contextmanager
    def session(
        self, actor: str | None, *, resolve: bool = True
    ) -> Iterator[tuple[Session, Actor | None]]:
        """One transaction as ``actor``: committed on success, rolled back on any error."""
        try:
            with self._sessions() as s, s.begin():
                s.info["actor"] = actor
                who = self._resolve(s, actor) if actor is not None and resolve else None
                if who is not None:  # row-level security by site, behind this layer's checks
                    set_row_scope(s, site_id=who.site_id, all_sites=who.all_sites)
                yield s, who
        except DBAPIError as exc:  # a held lock, a concurrent duplicate, a lost server
            raise translate(exc, self.engine.url) from None

    def _resolve(self, s: Session, username: str) -> Actor:
        row = s.execute(
            select(User, Site.code).outerjoin(Site, User.site_id == Site.id)
            .where(User.username == username)
        ).first()
        if row is None or not row[0].active:
            raise Forbidden(f"no active user {username!r} (an admin adds users)")
        u, code = row
        return Actor(u.id, u.username, u.role, u.site_id, code)

    @contextmanager
    def _tx(self, actor: str, *, write: bool) -> Iterator[tuple[Session, Actor]]:
        with self.session(actor) as (s, who):
            assert who is not None
            if write and not who.can_write:
                raise Forbidden(f"{who.username} is a {who.role} and cannot change records")
            yield s, who

    @staticmethod
    def _require_admin(who: Actor) -> None:
        if who.role != "admin":
            raise Forbidden(f"only an admin may do this ({who.username} is a {who.role})")

    def key(self) -> bytes:
        """The pseudonymisation key (never stored in the database; its fingerprint is)."""
        if self._key_cache is None:
            self._key_cache = _keys.registry_key(self.engine)
        return self._key_cache

    def hash_hospital_number(self, number: str) -> str:
        return hmac.new(self.key(), number.strip().encode(), hashlib.sha256).hexdigest()

    def pseudonym(self, site_code: str, code: str) -> str:
        digest = hmac.new(self.key(), f"pseudonym:{site_code}/{code}".encode(), hashlib.sha256)
        return "R" + digest.hexdigest()[:12].upper()

    def _patient(self, s: Session, who: Actor, ref: str) -> Patient:
        site_code, _, code = ref.rpartition("/")
        q = select(Patient).join(Site).where(Patient.code == code)
        if site_code:
            q = q.where(Site.code == site_code)
        if not who.all_sites:
            q = q.where(Patient.site_id == who.site_id)
        found = [] if who.pseudonymised else list(s.scalars(q))
        if who.pseudonymised:
            # researchers address patients by pseudonym only
            found = [
                p for p, sc in s.execute(select(Patient, Site.code).join(Site))
                if self.pseudonym(sc, p.code) == code
            ]
        if not found:
            raise NotFound(f"no patient {ref!r} visible to {who.username}")
        if len(found) > 1:
            raise RegistryError(f"patient code {ref!r} is used at several sites: use SITE/CODE")
        return found[0]

    def _site(self, s: Session, code: str) -> Site:
        site = s.scalar(select(Site).where(Site.code == code))
        if site is None:
            raise InvalidInput.field("site", f"no site {code!r}")
        return site

    # ---------------------------------------------------------------- admin
    def bootstrap(self, username: str, site_code: str, site_name: str) -> None:
        """Create the first site and admin of an empty registry (refused once users exist)."""
        with self.session(username, resolve=False) as (s, _):
            if s.scalar(select(func.count()).select_from(User)):
                raise RegistryError("the registry already has users; an admin adds more")
            site = Site(**parse(SiteIn, {"code": site_code, "name": site_name}).model_dump())
            s.add(site)
            s.flush()
            s.add(User(username=parse(UserIn, {"username": username, "role": "admin"}).username,
                       role="admin", site_id=site.id, active=True))

    def add_site(self, actor: str, code: str, name: str) -> dict[str, Any]:
        data = parse(SiteIn, {"code": code, "name": name})
        with self._tx(actor, write=True) as (s, who):
            self._require_admin(who)
            if s.scalar(select(Site).where(Site.code == data.code)):
                raise InvalidInput.field("code", f"site {data.code!r} exists")
            s.add(Site(code=data.code, name=data.name))
        return data.model_dump()

    def add_user(self, actor: str, username: str, role: str, site: str | None) -> dict[str, Any]:
        data = parse(UserIn, {"username": username, "role": role, "site": site})
        with self._tx(actor, write=True) as (s, who):
            self._require_admin(who)
            if data.role == "clinician" and not data.site:
                raise InvalidInput.field("site", "a clinician belongs to a site")
            site_id = self._site(s, data.site).id if data.site else None
            if s.scalar(select(User).where(User.username == data.username)):
                raise InvalidInput.field("username", f"user {data.username!r} exists")
            s.add(User(username=data.username, role=data.role, site_id=site_id, active=True))
        return data.model_dump()

    def deactivate_user(self, actor: str, username: str) -> None:
        with self._tx(actor, write=True) as (s, who):
            self._require_admin(who)
            u = s.scalar(select(User).where(User.username == username))
            if u is None:
                raise NotFound(f"no user {username!r}")
            u.active = False

    def record_event(self, actor: str, action: str,
                     detail: Mapping[str, Any] | None = None) -> None:
        """Audit an event of ``actor`` that changes no table (e.g. a web export)."""
        with self._tx(actor, write=False) as (s, who):
            audit.event(s, who.username, action, detail)

    def list_sites(self, actor: str) -> list[dict[str, Any]]:
        """Every site's code and name (any active user: site codes are on every record)."""
        with self._tx(actor, write=False) as (s, _):
            rows = s.execute(select(Site.code, Site.name).order_by(Site.code))
            return [{"code": code, "name": name} for code, name in rows]

    def list_users(self, actor: str) -> list[dict[str, Any]]:
        with self._tx(actor, write=False) as (s, who):
            self._require_admin(who)
            rows = s.execute(
                select(User, Site.code).outerjoin(Site).order_by(User.username)
            ).all()
            return [
                {"username": u.username, "role": u.role, "site": code, "active": u.active}
                for u, code in rows
            ]

    # ---------------------------------------------------------------- patients
    def add_patient(self, actor: str, data: PatientIn | Mapping[str, Any]) -> dict[str, Any]:
        p = parse(PatientIn, data)
        _birth_year_not_ahead(p.birth_year)
        with self._tx(actor, write=True) as (s, who):
            site_code = p.site or who.site_code
            if site_code is None:
                raise InvalidInput.field("site", "give the patient's site")
            if not who.all_sites and site_code != who.site_code:
                raise Forbidden(f"{who.username} cannot add patients to site {site_code}")
            site = self._site(s, site_code)
            if s.scalar(select(Patient.id).where(Patient.site_id == site.id,
                                                  Patient.code == p.code)):
                raise InvalidInput.field("code", f"patient {p.code!r} exists at {site_code}")
            h = self.hash_hospital_number(p.hospital_number) if p.hospital_number else None
            if h and s.scalar(select(Patient.code).where(Patient.site_id == site.id,
                                                          Patient.hospital_number_hash == h)):
                raise InvalidInput.field("hospital_number", "already registered at this site "
                                         "under another code")
            patient = Patient(site_id=site.id, code=p.code, birth_year=p.birth_year, sex=p.sex,
                              primary_cancer=p.primary_cancer, hospital_number_hash=h,
                              synthetic=p.synthetic, created_at=audit.now())
            s.add(patient)
            s.flush()
            return self._patient_view(who, patient, site_code)

    def update_patient(
        self, actor: str, ref: str, changes: PatientUpdate | Mapping[str, Any]
    ) -> dict[str, Any]:
        c = parse(PatientUpdate, changes)
        _birth_year_not_ahead(c.birth_year)
        with self._tx(actor, write=True) as (s, who):
            patient = self._patient(s, who, ref)
            if c.birth_year is not None:
                first = min((d for d in (
                    s.scalar(select(func.min(Assessment.assessed_on))
                             .where(Assessment.patient_id == patient.id)),
                    self._index_date(s, patient)) if d is not None), default=None)
                if first is not None and first.year < c.birth_year:
                    raise InvalidInput.field("birth_year", f"{c.birth_year} is after the "
                                             f"patient's first assessment or procedure ({first})")
            for k, v in c.model_dump(exclude_unset=True).items():
                setattr(patient, k, v)
            s.flush()
            return self._patient_view(who, patient, patient.site.code)

    def get_patient(self, actor: str, ref: str) -> dict[str, Any]:
        with self._tx(actor, write=False) as (s, who):
            p = self._patient(s, who, ref)
            return self._patient_view(who, p, p.site.code, self._index_date(s, p))

    def list_patients(self, actor: str) -> list[dict[str, Any]]:
        with self._tx(actor, write=False) as (s, who):
            index = (select(Procedure.patient_id, func.min(Procedure.performed_on).label("d"))
                     .group_by(Procedure.patient_id).subquery())
            q = (select(Patient, Site.code, index.c.d).join(Site)
                 .outerjoin(index, index.c.patient_id == Patient.id)
                 .order_by(Site.code, Patient.code))
            if not who.all_sites:
                q = q.where(Patient.site_id == who.site_id)
            rows: list[tuple[Patient, str, dt.date | None]] = [
                (r[0], r[1], r[2]) for r in s.execute(q)]
            return [self._patient_view(who, p, sc, d) for p, sc, d in rows]

    @staticmethod
    def _index_date(s: Session, patient: Patient) -> dt.date | None:
        return s.scalar(select(func.min(Procedure.performed_on))
                        .where(Procedure.patient_id == patient.id))

    def _patient_view(self, who: Actor, p: Patient, site_code: str,
                      index: dt.date | None = None) -> dict[str, Any]:
        """A patient as ``who`` may see it; a researcher sees what the research export
        holds: the pseudonym, age at the index procedure (``index``), no free text."""
        if who.pseudonymised:
            return research_view({
                "patient": self.pseudonym(site_code, p.code), "site": site_code,
                "age_at_index": (index.year - p.birth_year
                                 if index is not None and p.birth_year is not None else None),
                "sex": p.sex, "primary_cancer": p.primary_cancer, "synthetic": p.synthetic})
        return {"patient": p.code, "site": site_code, "birth_year": p.birth_year, "sex": p.sex,
                "primary_cancer": p.primary_cancer,
                "hospital_number_hashed": p.hospital_number_hash is not None,
                "synthetic": p.synthetic}

    # ---------------------------------------------------------------- assessments
    def record_assessment(
        self,
        actor: str,
        ref: str,
        patient_input: Mapping[str, Any],
        *,
        guideline: str = "jnccn2012",
        assessed_on: dt.date | None = None,
        max_levels_per_session: int | None = None,
    ) -> dict[str, Any]:
        """Run the decision engine on ``patient_input`` and store its input and output."""
        import vertebro

        with self._tx(actor, write=True) as (s, who):
            patient = self._patient(s, who, ref)  # refuse before running the engine
            output = vertebro.assess(dict(patient_input), guideline=guideline,
                                     max_levels_per_session=max_levels_per_session)
            return self._store_assessment(s, patient, patient_input, output, guideline,
                                          assessed_on)

    def store_assessment(
        self,
        actor: str,
        ref: str,
        patient_input: Mapping[str, Any],
        output: Mapping[str, Any],
        *,
        guideline: str = "jnccn2012",
        assessed_on: dt.date | None = None,
    ) -> dict[str, Any]:
        """Store an assessment that the engine produced earlier (e.g. migrated records)."""
        with self._tx(actor, write=True) as (s, who):
            patient = self._patient(s, who, ref)
            return self._store_assessment(s, patient, patient_input, output, guideline,
                                          assessed_on)

    @staticmethod
    def _store_assessment(
        s: Session,
        patient: Patient,
        patient_input: Mapping[str, Any],
        output: Mapping[str, Any],
        guideline: str,
        assessed_on: dt.date | None,
    ) -> dict[str, Any]:
        disposition = output.get("disposition")
        if disposition not in DISPOSITIONS:
            raise InvalidInput.field("output.disposition", f"{disposition!r} is not one of "
                                     f"{', '.join(DISPOSITIONS)}")
        errors = plausible_date("assessed_on", assessed_on or dt.date.today(), patient.birth_year)
        if errors:
            raise InvalidInput(errors)
        a = Assessment(
            patient_id=patient.id, assessed_on=assessed_on or dt.date.today(),
            guideline=guideline, input=dict(patient_input), output=dict(output),
            disposition=disposition,
            rulebook_version=str(output.get("rulebook_version") or ""),
            engine_version=str(output.get("engine_version") or ""), created_at=audit.now(),
        )
        s.add(a)
        s.flush()
        return {"assessment_id": a.id, "patient": patient.code,
                "assessed_on": a.assessed_on.isoformat(), "disposition": a.disposition,
                "output": dict(output)}

    # ---------------------------------------------------------------- procedures
    def add_procedure(
        self, actor: str, ref: str, data: ProcedureIn | Mapping[str, Any]
    ) -> dict[str, Any]:
        p = parse(ProcedureIn, data)
        with self._tx(actor, write=True) as (s, who):
            patient = self._patient(s, who, ref)
            q = select(Assessment).where(Assessment.patient_id == patient.id)
            if p.assessment_id is not None:
                assessment = s.scalar(q.where(Assessment.id == p.assessment_id))
                if assessment is None:
                    raise InvalidInput.field("assessment_id", f"no assessment {p.assessment_id} "
                                             "of this patient")
            else:
                assessment = s.scalar(
                    q.where(Assessment.assessed_on <= p.performed_on)
                    .order_by(Assessment.assessed_on.desc(), Assessment.id.desc()).limit(1)
                )
            errors = validate_procedure(p, assessment.input if assessment else None,
                                        assessment.output if assessment else None,
                                        assessment.disposition if assessment else None,
                                        assessment.assessed_on if assessment else None)
            errors += plausible_date("performed_on", p.performed_on, patient.birth_year)
            if errors:
                raise InvalidInput(errors)
            proc = Procedure(
                patient_id=patient.id, assessment_id=assessment.id if assessment else None,
                performed_on=p.performed_on, anaesthesia=p.anaesthesia,
                operator_role=p.operator_role, override_reason=p.override_reason,
                biopsy_taken=p.biopsy_taken, biopsy_result=p.biopsy_result,
                created_at=audit.now(),
            )
            proc.levels = [ProcedureLevel(**lv.model_dump()) for lv in p.levels]
            s.add(proc)
            s.flush()
            return self._procedure_view(proc)

    @staticmethod
    def _procedure_view(proc: Procedure) -> dict[str, Any]:
        return {
            "procedure_id": proc.id, "performed_on": proc.performed_on.isoformat(),
            "assessment_id": proc.assessment_id, "anaesthesia": proc.anaesthesia,
            "operator_role": proc.operator_role, "override_reason": proc.override_reason,
            "biopsy_taken": proc.biopsy_taken, "biopsy_result": proc.biopsy_result,
            "levels": [
                {k: getattr(lv, k) for k in ("level", "technique", "approach", "needle",
                                              "cement_type", "cement_volume_ml", "balloon_used")}
                for lv in proc.levels
            ],
        }

    def _procedure(self, s: Session, who: Actor, procedure_id: int) -> Procedure:
        proc = s.get(Procedure, procedure_id)
        if proc is not None:
            patient = s.get(Patient, proc.patient_id)
            if patient is not None and (who.all_sites or patient.site_id == who.site_id):
                return proc
        raise NotFound(f"no procedure {procedure_id} visible to {who.username}")

    def _patient_procedure(
        self, s: Session, who: Actor, ref: str, procedure_id: int | None, on: dt.date,
        *, baseline: bool = False,
    ) -> Procedure:
        patient = self._patient(s, who, ref)
        if procedure_id is not None:
            proc = self._procedure(s, who, procedure_id)
            if proc.patient_id != patient.id:
                raise InvalidInput.field("procedure_id", f"procedure {procedure_id} is not "
                                         f"{ref}'s")
            return proc
        procs = list(s.scalars(select(Procedure).where(Procedure.patient_id == patient.id)
                               .order_by(Procedure.performed_on, Procedure.id)))
        if not procs:
            raise InvalidInput.field("procedure_id", f"{ref} has no procedure yet")
        if baseline:
            after = [p for p in procs if p.performed_on >= on]
            return after[0] if after else procs[-1]
        before = [p for p in procs if p.performed_on <= on]
        # a date before every procedure is attached to the first one and refused there
        return before[-1] if before else procs[0]

    # ---------------------------------------------------------------- complications, follow-ups
    def add_complication(
        self, actor: str, ref: str, data: ComplicationIn | Mapping[str, Any],
        *, procedure_id: int | None = None,
    ) -> dict[str, Any]:
        c = parse(ComplicationIn, data)
        with self._tx(actor, write=True) as (s, who):
            proc = self._patient_procedure(s, who, ref, procedure_id, dt.date.max)
            errors = validate_complication(c, {lv.level for lv in proc.levels})
            if errors:
                raise InvalidInput(errors)
            comp = Complication(procedure_id=proc.id, created_at=audit.now(), **c.model_dump())
            s.add(comp)
            s.flush()
            return {"complication_id": comp.id, "procedure_id": proc.id, **c.model_dump()}

    def add_follow_up(
        self, actor: str, ref: str, data: FollowUpIn | Mapping[str, Any]
    ) -> dict[str, Any]:
        f = parse(FollowUpIn, data)
        with self._tx(actor, write=True) as (s, who):
            proc = self._patient_procedure(s, who, ref, f.procedure_id, f.followed_on,
                                           baseline=f.baseline)
            patient = s.get(Patient, proc.patient_id)
            errors = plausible_date("followed_on", f.followed_on,
                                    patient.birth_year if patient else None)
            if errors:
                raise InvalidInput(errors)
            cols = follow_up_columns(f, proc.performed_on)
            fu = FollowUp(procedure_id=proc.id, created_at=audit.now(), **cols)
            s.add(fu)
            s.flush()
            return self._follow_up_view(fu)

    def delete_follow_up(self, actor: str, follow_up_id: int) -> None:
        """Remove a follow-up entered in error (audited with its content as ``before``)."""
        with self._tx(actor, write=True) as (s, who):
            fu = s.get(FollowUp, follow_up_id)
            if fu is None:
                raise NotFound(f"no follow-up {follow_up_id}")
            self._procedure(s, who, fu.procedure_id)
            s.delete(fu)

    @staticmethod
    def _follow_up_view(fu: FollowUp) -> dict[str, Any]:
        keys = ("procedure_id", "baseline", "days_since_procedure", "interval", "nrs",
                "odi_sections", "odi", "rdq", "kps", "ecog", "analgesic_class", "new_fracture",
                "new_fracture_level", "vital_status", "lost_to_follow_up")
        return {"follow_up_id": fu.id, "followed_on": fu.followed_on.isoformat(),
                **{k: getattr(fu, k) for k in keys}}

    # ---------------------------------------------------------------- reading
    def timeline(self, actor: str, ref: str) -> dict[str, Any]:
        """The patient and every event, oldest first (researchers: days from the index
        procedure instead of dates)."""
        with self._tx(actor, write=False) as (s, who):
            patient = self._patient(s, who, ref)
            procs = list(s.scalars(select(Procedure).where(Procedure.patient_id == patient.id)
                                   .order_by(Procedure.performed_on, Procedure.id)))
            index = procs[0].performed_on if procs else None
            view = self._patient_view(who, patient, patient.site.code, index)
            events: list[dict[str, Any]] = []
            for a in s.scalars(select(Assessment).where(Assessment.patient_id == patient.id)
                               .order_by(Assessment.assessed_on, Assessment.id)):
                events.append({"event": "assessment", "date": a.assessed_on,
                               "assessment_id": a.id, "guideline": a.guideline,
                               "disposition": a.disposition,
                               "levels": sorted(assessed_levels(a.input, a.output)),
                               "rulebook_version": a.rulebook_version,
                               "engine_version": a.engine_version})
            proc_ids = [p.id for p in procs]
            for proc in procs:
                events.append({"event": "procedure", "date": proc.performed_on,
                               **self._procedure_view(proc)})
            for c in s.scalars(select(Complication).where(Complication.procedure_id.in_(proc_ids))
                               .order_by(Complication.id)):
                events.append({"event": "complication", "date": None,
                               "complication_id": c.id, "procedure_id": c.procedure_id,
                               "type": c.type, "level": c.level, "leak_site": c.leak_site,
                               "symptomatic": c.symptomatic, "severity_grade": c.severity_grade,
                               "treatment": c.treatment})
            for fu in s.scalars(select(FollowUp).where(FollowUp.procedure_id.in_(proc_ids))
                                .order_by(FollowUp.followed_on, FollowUp.id)):
                events.append({"event": "follow_up", "date": fu.followed_on,
                               **self._follow_up_view(fu)})
            proc_date = {p.id: p.performed_on for p in procs}
            for e in events:
                if e["date"] is None:
                    e["date"] = proc_date[e["procedure_id"]]
            events.sort(key=lambda e: (e["date"], ["assessment", "follow_up", "procedure",
                                                   "complication"].index(e["event"])))
            for e in events:
                d: dt.date = e.pop("date")
                if who.pseudonymised:
                    e["day"] = (d - index).days if index else None
                    e.pop("followed_on", None)
                    e.pop("performed_on", None)
                    e.pop("assessed_on", None)
                else:
                    e["date"] = d.isoformat()
            if who.pseudonymised:
                events = [research_view(e) for e in events]
            return {**view, "events": events}

    def get_assessment(self, actor: str, assessment_id: int) -> dict[str, Any]:
        """One stored assessment as ``actor`` may see it: its patient, input, output, versions
        and who stored it (the actor of its audited insert). Another site's assessment is
        reported exactly as a missing one. Researchers get what the research export's
        assessment record holds: the pseudonym, the day from the index procedure (no date,
        no author, no storage time) and no free text (:func:`research.research_input`,
        :func:`research.research_output`).
        """
        with self._tx(actor, write=False) as (s, who):
            a = s.get(Assessment, assessment_id)
            patient = s.get(Patient, a.patient_id) if a is not None else None
            if a is None or patient is None or not (
                who.all_sites or patient.site_id == who.site_id
            ):
                raise NotFound(f"no assessment {assessment_id} visible to {who.username}")
            view = self._patient_view(who, patient, patient.site.code)
            run_by = s.scalar(
                select(AuditLog.actor).where(AuditLog.table_name == Assessment.__tablename__,
                                             AuditLog.row_id == a.id,
                                             AuditLog.action == "insert")
                .order_by(AuditLog.id).limit(1))
            out: dict[str, Any] = {
                "assessment_id": a.id, "patient": view["patient"], "site": view["site"],
                "guideline": a.guideline, "disposition": a.disposition,
                "rulebook_version": a.rulebook_version, "engine_version": a.engine_version,
                "input": dict(a.input), "output": dict(a.output),
                "assessed_on": a.assessed_on.isoformat(), "run_by": run_by,
                "stored_at": a.created_at.isoformat(),
            }
            if who.pseudonymised:  # the research export's assessment record, no more
                index = s.scalar(select(func.min(Procedure.performed_on))
                                 .where(Procedure.patient_id == patient.id))
                for k in ("assessed_on", "run_by", "stored_at"):
                    del out[k]
                out["day"] = (a.assessed_on - index).days if index else None
                out["input"] = research_input(a.input)
                out["output"] = research_output(a.output, a.input)
                return research_view(out)
            return out

    def due(self, actor: str, today: dt.date | None = None, *, include_missed: bool = False
            ) -> list[dict[str, Any]]:
        """Follow-ups due or overdue per interval, for living patients still followed.

        A visit is ``due`` from a week before its target day, ``overdue`` two weeks after it
        while its interval is still open, and ``missed`` once the interval has closed.
        Computed in the database (:func:`vertebro.registry.reports.due`).
        """
        return reports.due(self, actor, today, include_missed=include_missed)

    def summary(self, actor: str) -> dict[str, Any]:
        """Outcomes by technique and interval, laid out like Sorensen-SpineJ-2019 Table 2.

        A patient's technique is kyphoplasty if any level of the procedure used it. Means are
        over follow-ups; N is the number of follow-ups with that measure. Computed in the
        database (:func:`vertebro.registry.reports.summary`).
        """
        return reports.summary(self, actor)

    def audit_trail(self, actor: str, ref: str) -> list[dict[str, Any]]:
        """Every audit row about a patient, oldest first (not for researchers)."""
        with self._tx(actor, write=False) as (s, who):
            if who.pseudonymised:
                raise Forbidden("researchers do not read the audit trail")
            patient = self._patient(s, who, ref)
            rows = s.scalars(select(AuditLog).where(AuditLog.patient_id == patient.id)
                             .order_by(AuditLog.id))
            return [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                     "table": r.table_name, "row_id": r.row_id, "before": r.before,
                     "after": r.after} for r in rows]

    def counts(self) -> dict[str, int]:
        """Row counts per table (no access check: numbers only, used by tests and ``demo``)."""
        tables = (Site, User, Patient, Assessment, Procedure, ProcedureLevel, Complication,
                  FollowUp, AuditLog)
        with self._sessions() as s:
            set_row_scope(s, site_id=None, all_sites=True)
            return {t.__tablename__: s.scalar(select(func.count()).select_from(t)) or 0
                    for t in tables}


def validate_procedure(
    p: ProcedureIn,
    assessment_input: Mapping[str, Any] | None,
    assessment_output: Mapping[str, Any] | None,
    disposition: str | None,
    assessed_on: dt.date | None,
    where: str = "",
) -> list[FieldError]:
    """Domain checks of a procedure against the assessment it follows."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, lv in enumerate(p.levels):
        if lv.level in seen:
            errors.append(FieldError(f"levels[{i}].level", f"{lv.level} is listed twice", where))
        seen.add(lv.level)
    if assessment_input is not None:
        assessed = assessed_levels(assessment_input, assessment_output)
        for i, lv in enumerate(p.levels):
            if lv.level not in assessed:
                errors.append(FieldError(
                    f"levels[{i}].level",
                    f"{lv.level} was not in the assessment (assessed: "
                    f"{', '.join(sorted(assessed)) or 'none'})", where))
    if assessed_on is not None and p.performed_on < assessed_on:
        errors.append(FieldError("performed_on", f"before the assessment on {assessed_on}",
                                 where))
    if disposition == "contraindicated" and not p.override_reason:
        errors.append(FieldError(
            "override_reason",
            "the last assessment was 'contraindicated': a procedure needs an explicit "
            "override reason", where))
    return errors


def validate_complication(c: ComplicationIn, treated: Sequence[str] | set[str],
                          where: str = "") -> list[FieldError]:
    errors: list[FieldError] = []
    if c.leak_site is not None and "leak" not in c.type:
        errors.append(FieldError("leak_site", f"given for a {c.type!r}, not a cement leak",
                                 where))
    if c.type == "cement_leak" and c.level is not None and c.level not in treated:
        errors.append(FieldError("level", f"{c.level} was not treated in this procedure",
                                 where))
    return errors
