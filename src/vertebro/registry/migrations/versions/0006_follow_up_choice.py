"""follow_up_choice: the chosen value per (procedure, interval, measure), derived (issue 15.6)

Revision ID: 0006
Revises: 0005

The outcome reports read the one value each procedure gives per interval and measure from
this table instead of choosing it again over every follow-up
(``vertebro.registry.choices``); the service layer rewrites a procedure's rows in the
transaction of every follow-up write. Keyed by procedure, so row-level security restricts
it by site like ``follow_up`` (the same condition as migration 0005's). Backfilled here by
the same SQL the registry uses (``choices.rebuild``).
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_0005 = importlib.import_module("vertebro.registry.migrations.versions.0005_row_level_security")

#: table -> site condition, as 0005's ``POLICIES`` (a procedure of the acting user's site)
POLICIES = {"follow_up_choice": _0005.POLICIES["follow_up"]}


def upgrade() -> None:
    from vertebro.registry.choices import rebuild

    op.create_table(
        "follow_up_choice",
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("interval", sa.String(length=8), nullable=False),
        sa.Column("measure", sa.String(length=8), nullable=False),
        sa.Column("follow_up_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["procedure_id"], ["procedure.id"], ondelete="CASCADE",
                                name=op.f("fk_follow_up_choice_procedure_id_procedure")),
        sa.PrimaryKeyConstraint("procedure_id", "interval", "measure",
                                name=op.f("pk_follow_up_choice")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, condition in POLICIES.items():
            op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            op.execute(f"CREATE POLICY {table}_by_site ON {table} FOR ALL "
                       f"USING ({condition}) WITH CHECK ({condition})")
    rebuild(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in POLICIES:
            op.execute(f"DROP POLICY IF EXISTS {table}_by_site ON {table}")
    op.drop_table("follow_up_choice")
