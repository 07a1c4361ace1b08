# ruff: noqa: E501
"""initial registry schema (sites, users, patients, assessments, procedures, follow-ups, audit)

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:25:05.505740
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# The audit log is append-only: the database itself refuses UPDATE and DELETE on it.
_SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
_PG_TRIGGERS = [
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
]


def _create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for sql in _PG_TRIGGERS if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(sql)


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "action IS NULL OR action IN ('insert', 'update', 'delete')",
            name=op.f("ck_audit_log_action"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "registry_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_registry_meta")),
    )
    op.create_table(
        "site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
        sa.UniqueConstraint("code", name=op.f("uq_site_code")),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "role IS NULL OR role IN ('clinician', 'researcher', 'admin')",
            name=op.f("ck_app_user_role"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_app_user_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "patient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(length=16), nullable=True),
        sa.Column("primary_cancer", sa.String(length=64), nullable=True),
        sa.Column("hospital_number_hash", sa.String(length=64), nullable=True),
        sa.Column("synthetic", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "sex IS NULL OR sex IN ('male', 'female', 'other', 'unknown')",
            name=op.f("ck_patient_sex"),
        ),
        sa.CheckConstraint(
            "birth_year IS NULL OR (birth_year >= 1880 AND birth_year <= 2200)",
            name=op.f("ck_patient_birth_year"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_patient_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient")),
        sa.UniqueConstraint("site_id", "code", name="uq_patient_site_code"),
    )
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patient_hospital_number_hash"), ["hospital_number_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_patient_site_id"), ["site_id"], unique=False)

    op.create_table(
        "assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("guideline", sa.String(length=32), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=False),
        sa.Column("disposition", sa.String(length=32), nullable=False),
        sa.Column("rulebook_version", sa.String(length=64), nullable=False),
        sa.Column("engine_version", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "disposition IS NULL OR disposition IN ('candidate', 'refer_surgery', 'contraindicated', 'not_indicated', 'incomplete')",
            name=op.f("ck_assessment_disposition"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_assessment_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment")),
    )
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assessment_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "procedure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=True),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("anaesthesia", sa.String(length=16), nullable=True),
        sa.Column("operator_role", sa.String(length=32), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("biopsy_taken", sa.Boolean(), nullable=True),
        sa.Column("biopsy_result", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "anaesthesia IS NULL OR anaesthesia IN ('local', 'sedation', 'general')",
            name=op.f("ck_procedure_anaesthesia"),
        ),
        sa.CheckConstraint(
            "operator_role IS NULL OR operator_role IN ('interventional_radiologist', 'spine_surgeon', 'neurosurgeon', 'orthopaedic_surgeon', 'trainee', 'other')",
            name=op.f("ck_procedure_operator_role"),
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"], name=op.f("fk_procedure_assessment_id_assessment")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patient.id"],
            name=op.f("fk_procedure_patient_id_patient"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure")),
    )
    with op.batch_alter_table("procedure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedure_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "complication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=3), nullable=True),
        sa.Column("leak_site", sa.String(length=16), nullable=True),
        sa.Column("symptomatic", sa.Boolean(), nullable=True),
        sa.Column("severity_grade", sa.Integer(), nullable=True),
        sa.Column("treatment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "leak_site IS NULL OR leak_site IN ('disc', 'venous', 'epidural', 'foraminal', 'paravertebral', 'pulmonary')",
            name=op.f("ck_complication_leak_site"),
        ),
        sa.CheckConstraint(
            "severity_grade IS NULL OR (severity_grade BETWEEN 1 AND 5)",
            name=op.f("ck_complication_severity_grade"),
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedure.id"],
            name=op.f("fk_complication_procedure_id_procedure"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complication")),
    )
    with op.batch_alter_table("complication", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_complication_procedure_id"), ["procedure_id"], unique=False
        )

    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("followed_on", sa.Date(), nullable=False),
        sa.Column("baseline", sa.Boolean(), nullable=False),
        sa.Column("days_since_procedure", sa.Integer(), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("nrs", sa.Float(), nullable=True),
        sa.Column("odi_version", sa.String(length=16), nullable=True),
        sa.Column("odi_sections", sa.JSON(), nullable=True),
        sa.Column("odi", sa.Float(), nullable=True),
        sa.Column("rdq_version", sa.String(length=16), nullable=True),
        sa.Column("rdq", sa.Integer(), nullable=True),
        sa.Column("kps", sa.Integer(), nullable=True),
        sa.Column("ecog", sa.Integer(), nullable=True),
        sa.Column("analgesic_class", sa.Integer(), nullable=True),
        sa.Column("new_fracture", sa.Boolean(), nullable=True),
        sa.Column("new_fracture_level", sa.String(length=3), nullable=True),
        sa.Column("vital_status", sa.String(length=8), nullable=True),
        sa.Column("lost_to_follow_up", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "interval IS NULL OR interval IN ('preop', 'lt4w', 'le6w', 'lt6m', 'lt1y', 'ge1y')",
            name=op.f("ck_follow_up_interval"),
        ),
        sa.CheckConstraint(
            "vital_status IS NULL OR vital_status IN ('alive', 'dead', 'unknown')",
            name=op.f("ck_follow_up_vital_status"),
        ),
        sa.CheckConstraint(
            "analgesic_class IS NULL OR (analgesic_class BETWEEN 0 AND 3)",
            name=op.f("ck_follow_up_analgesic_class"),
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedure.id"],
            name=op.f("fk_follow_up_procedure_id_procedure"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_up")),
    )
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.create_index(
            "ix_follow_up_procedure_interval", ["procedure_id", "interval"], unique=False
        )

    op.create_table(
        "procedure_level",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=3), nullable=False),
        sa.Column("technique", sa.String(length=16), nullable=False),
        sa.Column("approach", sa.String(length=16), nullable=True),
        sa.Column("needle", sa.String(length=64), nullable=True),
        sa.Column("cement_type", sa.String(length=64), nullable=True),
        sa.Column("cement_volume_ml", sa.Float(), nullable=True),
        sa.Column("balloon_used", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            "approach IS NULL OR approach IN ('transpedicular', 'parapedicular', 'extrapedicular', 'anterolateral', 'transoral', 'other')",
            name=op.f("ck_procedure_level_approach"),
        ),
        sa.CheckConstraint(
            "technique IS NULL OR technique IN ('vertebroplasty', 'kyphoplasty')",
            name=op.f("ck_procedure_level_technique"),
        ),
        sa.CheckConstraint(
            "cement_volume_ml IS NULL OR cement_volume_ml >= 0",
            name=op.f("ck_procedure_level_cement_volume"),
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedure.id"],
            name=op.f("fk_procedure_level_procedure_id_procedure"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure_level")),
        sa.UniqueConstraint("procedure_id", "level", name="uq_procedure_level_level"),
    )
    with op.batch_alter_table("procedure_level", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_procedure_level_procedure_id"), ["procedure_id"], unique=False
        )
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("procedure_level", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedure_level_procedure_id"))

    op.drop_table("procedure_level")
    with op.batch_alter_table("follow_up", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_up_procedure_interval")

    op.drop_table("follow_up")
    with op.batch_alter_table("complication", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complication_procedure_id"))

    op.drop_table("complication")
    with op.batch_alter_table("procedure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedure_patient_id"))

    op.drop_table("procedure")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_patient_id"))

    op.drop_table("assessment")
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patient_site_id"))
        batch_op.drop_index(batch_op.f("ix_patient_hospital_number_hash"))

    op.drop_table("patient")
    op.drop_table("app_user")
    op.drop_table("site")
    op.drop_table("registry_meta")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_patient_id"))

    op.drop_table("audit_log")
