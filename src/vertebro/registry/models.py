"""SQLAlchemy 2 typed models of the outcomes registry (DESIGN.md section 7).

The schema itself is owned by the Alembic migrations in ``vertebro/registry/migrations``;
a test checks that these models and the migrations agree (autogenerate finds no difference).
Controlled vocabularies are kept in :mod:`vertebro.registry.vocab` and enforced twice: by the
pydantic schemas at the edge and by CHECK constraints in the database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from . import vocab

__all__ = [
    "AccountEvent",
    "ApiToken",
    "Assessment",
    "AuditLog",
    "Base",
    "Complication",
    "FollowUp",
    "FollowUpChoice",
    "Meta",
    "Patient",
    "Procedure",
    "ProcedureLevel",
    "Site",
    "User",
    "UserCredential",
    "WebSession",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IS NULL OR {column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Meta(Base):
    """Key/value facts about this database (e.g. the pseudonymisation key's fingerprint;
    never the key itself)."""

    __tablename__ = "registry_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Site(Base):
    __tablename__ = "site"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class User(Base):
    __tablename__ = "app_user"
    __table_args__ = (CheckConstraint(_in("role", vocab.ROLES), name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    site: Mapped[Site | None] = relationship()


class Patient(Base):
    """A pseudonymous patient: a site-local code, never a name."""

    __tablename__ = "patient"
    __table_args__ = (
        UniqueConstraint("site_id", "code", name="uq_patient_site_code"),
        # enforced by the database, so that concurrent writers cannot both register it
        UniqueConstraint("site_id", "hospital_number_hash",
                         name="uq_patient_site_hospital_number"),
        CheckConstraint(_in("sex", vocab.SEXES), name="sex"),
        CheckConstraint("birth_year IS NULL OR (birth_year >= 1880 AND birth_year <= 2200)",
                        name="birth_year"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(16))
    primary_cancer: Mapped[str | None] = mapped_column(String(64))
    #: keyed hash (HMAC-SHA256) of the hospital number, for de-duplication only
    hospital_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    site: Mapped[Site] = relationship()


class Assessment(Base):
    """The decision engine's input and output, exactly as run. Immutable once stored."""

    __tablename__ = "assessment"
    __table_args__ = (CheckConstraint(_in("disposition", vocab.DISPOSITIONS), name="disposition"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    assessed_on: Mapped[dt.date] = mapped_column(Date)
    guideline: Mapped[str] = mapped_column(String(32))
    input: Mapped[dict[str, Any]] = mapped_column(JSON)
    output: Mapped[dict[str, Any]] = mapped_column(JSON)
    disposition: Mapped[str] = mapped_column(String(32))
    rulebook_version: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Procedure(Base):
    __tablename__ = "procedure"
    __table_args__ = (
        CheckConstraint(_in("anaesthesia", vocab.ANAESTHESIA), name="anaesthesia"),
        CheckConstraint(_in("operator_role", vocab.OPERATOR_ROLES), name="operator_role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patient.id", ondelete="CASCADE"), index=True
    )
    assessment_id: Mapped[int | None] = mapped_column(ForeignKey("assessment.id"))
    performed_on: Mapped[dt.date] = mapped_column(Date)
    anaesthesia: Mapped[str | None] = mapped_column(String(16))
    operator_role: Mapped[str | None] = mapped_column(String(32))
    #: why the procedure went ahead although the last assessment was ``contraindicated``
    override_reason: Mapped[str | None] = mapped_column(Text)
    biopsy_taken: Mapped[bool | None] = mapped_column(Boolean)
    biopsy_result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    levels: Mapped[list[ProcedureLevel]] = relationship(
        back_populates="procedure", cascade="all, delete-orphan", order_by="ProcedureLevel.id"
    )


class ProcedureLevel(Base):
    """One treated vertebra of a procedure, with its technique."""

    __tablename__ = "procedure_level"
    __table_args__ = (
        UniqueConstraint("procedure_id", "level", name="uq_procedure_level_level"),
        CheckConstraint(_in("technique", vocab.TECHNIQUES), name="technique"),
        CheckConstraint(_in("approach", vocab.APPROACHES), name="approach"),
        CheckConstraint("cement_volume_ml IS NULL OR cement_volume_ml >= 0", name="cement_volume"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedure.id", ondelete="CASCADE"), index=True
    )
    level: Mapped[str] = mapped_column(String(3))
    technique: Mapped[str] = mapped_column(String(16))
    approach: Mapped[str | None] = mapped_column(String(16))
    needle: Mapped[str | None] = mapped_column(String(64))
    cement_type: Mapped[str | None] = mapped_column(String(64))
    cement_volume_ml: Mapped[float | None] = mapped_column(Float)
    balloon_used: Mapped[bool | None] = mapped_column(Boolean)

    procedure: Mapped[Procedure] = relationship(back_populates="levels")


class Complication(Base):
    __tablename__ = "complication"
    __table_args__ = (
        CheckConstraint(_in("leak_site", vocab.LEAK_SITES), name="leak_site"),
        CheckConstraint("severity_grade IS NULL OR (severity_grade BETWEEN 1 AND 5)",
                        name="severity_grade"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedure.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(64))
    level: Mapped[str | None] = mapped_column(String(3))
    leak_site: Mapped[str | None] = mapped_column(String(16))
    symptomatic: Mapped[bool | None] = mapped_column(Boolean)
    severity_grade: Mapped[int | None] = mapped_column(Integer)
    treatment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FollowUp(Base):
    """One visit after (or, for the baseline, just before) a procedure.

    Raw instrument answers are stored with the instrument and its version; the scores beside
    them are computed by :mod:`vertebro.scores` when the row is written, never typed in.
    """

    __tablename__ = "follow_up"
    __table_args__ = (
        CheckConstraint(_in("interval", vocab.INTERVALS), name="interval"),
        CheckConstraint(_in("vital_status", vocab.VITAL_STATUS), name="vital_status"),
        CheckConstraint("analgesic_class IS NULL OR (analgesic_class BETWEEN 0 AND 3)",
                        name="analgesic_class"),
        Index("ix_follow_up_procedure_interval", "procedure_id", "interval"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedure.id", ondelete="CASCADE"))
    followed_on: Mapped[dt.date] = mapped_column(Date)
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    days_since_procedure: Mapped[int] = mapped_column(Integer)
    interval: Mapped[str] = mapped_column(String(8))
    nrs: Mapped[float | None] = mapped_column(Float)
    odi_version: Mapped[str | None] = mapped_column(String(16))
    odi_sections: Mapped[list[Any] | None] = mapped_column(JSON)
    odi: Mapped[float | None] = mapped_column(Float)
    rdq_version: Mapped[str | None] = mapped_column(String(16))
    rdq: Mapped[int | None] = mapped_column(Integer)
    kps: Mapped[int | None] = mapped_column(Integer)
    ecog: Mapped[int | None] = mapped_column(Integer)
    analgesic_class: Mapped[int | None] = mapped_column(Integer)
    new_fracture: Mapped[bool | None] = mapped_column(Boolean)
    new_fracture_level: Mapped[str | None] = mapped_column(String(3))
    vital_status: Mapped[str | None] = mapped_column(String(8))
    lost_to_follow_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FollowUpChoice(Base):
    """Derived, not clinical: the one value each procedure gives per interval and measure
    (:mod:`vertebro.registry.choices`), kept so that the outcome reports read it instead of
    choosing again over every follow-up (issue 15.6).

    Rewritten per procedure by the service layer in the transaction of every follow-up write;
    no audit rows (it is recomputed from audited rows); ``vertebro db verify`` compares it with
    a fresh computation and ``vertebro db rebuild-derived`` rewrites it. ``baseline`` is the
    procedure's chosen baseline value of the same measure beside a follow-up interval's value
    (``None`` at ``preop`` or without a baseline).
    """

    __tablename__ = "follow_up_choice"
    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedure.id", ondelete="CASCADE"), primary_key=True)
    interval: Mapped[str] = mapped_column(String(8), primary_key=True)
    measure: Mapped[str] = mapped_column(String(8), primary_key=True)
    follow_up_id: Mapped[int] = mapped_column(Integer)
    value: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)


class AuditLog(Base):
    """Append-only: one row per insert, update or delete, with the row before and after, or
    one row per non-table event (``table_name = 'event'``, e.g. a sign-in).

    Rows are hash-chained (:mod:`vertebro.registry.audit`): ``hash`` covers the row's content
    and ``prev_hash``, the previous row's ``hash``; ``prev_hash`` is unique, so the chain cannot
    fork even if two writers raced past the lock.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint("action IN ('insert', 'update', 'delete') OR table_name = 'event'",
                        name="action"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    table_name: Mapped[str] = mapped_column(String(32))
    row_id: Mapped[int | None] = mapped_column(Integer)
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))


# ---------------------------------------------------------------------------- accounts
# Sign-in state (vertebro.registry.accounts). Secrets are stored only as hashes: Argon2id for
# passwords, SHA-256 for random session and API tokens (256 bits of entropy need no slow hash).
# These rows are written with Core statements, not through the ORM, so that hashes never
# reach the audit log and touching a session does not write an audit row per request; every
# change of sign-in state is recorded as an AccountEvent, whose ORM insert is audited.


class UserCredential(Base):
    """A user's password hash (Argon2id, PHC string)."""

    __tablename__ = "user_credential"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A browser session: expires, ends after idle time, revoked on sign-out/deactivation."""

    __tablename__ = "web_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A per-user token for scripts (``Authorization: Bearer``), shown once, stored hashed."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


#: What an AccountEvent records.
ACCOUNT_EVENTS = (
    "sign_in", "sign_in_failed", "sign_in_throttled", "sign_out", "session_expired",
    "password_set", "token_created", "token_revoked", "deactivated",
)


class AccountEvent(Base):
    """Sign-in, failure, sign-out and credential changes; also the throttling window."""

    __tablename__ = "account_event"
    __table_args__ = (
        CheckConstraint(_in("event", ACCOUNT_EVENTS), name="event"),
        Index("ix_account_event_username_at", "username", "at"),
        Index("ix_account_event_address_at", "address", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    username: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(200))
