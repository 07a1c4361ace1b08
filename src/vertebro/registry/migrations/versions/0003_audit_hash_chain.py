"""hash-chained audit rows, audit events, triggers for immutable assessments and no TRUNCATE

Revision ID: 0003
Revises: 0001

Existing audit rows are chained in id order when the columns are added. The triggers:
``audit_log`` refuses UPDATE and DELETE (both stores) and TRUNCATE (PostgreSQL); ``assessment``
refuses UPDATE and DELETE, so a patient with an assessment cannot be deleted even by SQL
(the foreign key's cascade reaches the trigger); on PostgreSQL every audited table refuses
TRUNCATE, which skips row triggers and so would skip the audit. SQLite has no TRUNCATE: its
``DELETE`` without ``WHERE`` fires row triggers whenever the table has any.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

AUDITED = ("site", "app_user", "patient", "assessment", "procedure", "procedure_level",
           "complication", "follow_up")
GENESIS = "0" * 64

_SQLITE_AUDIT_LOG = [
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
]
_SQLITE_NEW = [
    "CREATE TRIGGER assessment_no_update BEFORE UPDATE ON assessment "
    "BEGIN SELECT RAISE(ABORT, 'a stored assessment is immutable'); END",
    "CREATE TRIGGER assessment_no_delete BEFORE DELETE ON assessment "
    "BEGIN SELECT RAISE(ABORT, 'a stored assessment is immutable'); END",
]
_PG_AUDIT_LOG = (
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
)
_PG_NEW = [
    "CREATE FUNCTION vertebro_refuse() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION '% on % is refused: %', TG_OP, TG_TABLE_NAME, TG_ARGV[0]; END $$",
    "CREATE TRIGGER assessment_immutable BEFORE UPDATE OR DELETE ON assessment "
    "FOR EACH ROW EXECUTE FUNCTION vertebro_refuse('a stored assessment is immutable')",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION vertebro_refuse('audit_log is append-only')",
    *(f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
      "EXECUTE FUNCTION vertebro_refuse('TRUNCATE skips the audit trail')" for t in AUDITED),
]


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _drop_audit_log_triggers() -> None:
    if _pg():
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")


def _create_audit_log_triggers() -> None:
    for sql in [_PG_AUDIT_LOG] if _pg() else _SQLITE_AUDIT_LOG:
        op.execute(sql)


def _backfill() -> None:
    """Chain the rows written before this revision, in id order."""
    from vertebro.registry.audit import row_hash

    log = sa.table("audit_log", sa.column("id", sa.Integer()),
                   sa.column("at", sa.DateTime(timezone=True)), sa.column("actor", sa.String()),
                   sa.column("action", sa.String()), sa.column("table_name", sa.String()),
                   sa.column("row_id", sa.Integer()), sa.column("patient_id", sa.Integer()),
                   sa.column("before", sa.JSON()), sa.column("after", sa.JSON()),
                   sa.column("prev_hash", sa.String()), sa.column("hash", sa.String()))
    bind = op.get_bind()
    prev = GENESIS
    rows = bind.execute(sa.select(log).order_by(log.c.id)).mappings().all()
    for r in rows:
        h = row_hash(prev, dict(r))
        bind.execute(sa.update(log).where(log.c.id == r["id"]).values(prev_hash=prev, hash=h))
        prev = h


def upgrade() -> None:
    _drop_audit_log_triggers()
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
        batch_op.alter_column("action", existing_type=sa.String(length=8),
                              type_=sa.String(length=32), existing_nullable=False)
        batch_op.drop_constraint(op.f("ck_audit_log_action"), type_="check")
        batch_op.create_check_constraint(
            "action", "action IN ('insert', 'update', 'delete') OR table_name = 'event'")
    _backfill()
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_log_prev_hash"), ["prev_hash"])
    _create_audit_log_triggers()
    for sql in _PG_NEW if _pg() else _SQLITE_NEW:
        op.execute(sql)


def downgrade() -> None:
    if _pg():
        for t in ("audit_log", *AUDITED):
            op.execute(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}")
        op.execute("DROP TRIGGER IF EXISTS assessment_immutable ON assessment")
        op.execute("DROP FUNCTION IF EXISTS vertebro_refuse()")
    else:
        op.execute("DROP TRIGGER IF EXISTS assessment_no_update")
        op.execute("DROP TRIGGER IF EXISTS assessment_no_delete")
    _drop_audit_log_triggers()
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_log_prev_hash"), type_="unique")
        batch_op.drop_constraint(op.f("ck_audit_log_action"), type_="check")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    # events have no place in the old schema; they stay in the (append-only) log only if
    # the check below admits them, so refuse the downgrade instead of losing them silently
    n = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM audit_log WHERE table_name = 'event'")).scalar()
    if n:
        raise RuntimeError(f"{n} audit event row(s) cannot be kept at revision 0001")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.alter_column("action", existing_type=sa.String(length=32),
                              type_=sa.String(length=8), existing_nullable=False)
        batch_op.create_check_constraint(
            "action", "action IS NULL OR action IN ('insert', 'update', 'delete')")
    _create_audit_log_triggers()
