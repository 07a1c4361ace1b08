"""accounts: password hashes, web sessions, API tokens and account events (sign-in, issue 11)

Revision ID: 0004
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_EVENTS = (
    "sign_in", "sign_in_failed", "sign_in_throttled", "sign_out", "session_expired",
    "password_set", "token_created", "token_revoked", "deactivated",
)


def upgrade() -> None:
    op.create_table(
        "user_credential",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE",
                                name=op.f("fk_user_credential_user_id_app_user")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_credential")),
    )
    for name in ("web_session", "api_token"):
        extra = (
            [sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
             sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False)]
            if name == "web_session"
            else [sa.Column("label", sa.String(length=100), nullable=False)]
        )
        op.create_table(
            name,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            *extra,
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
            sa.ForeignKeyConstraint(["user_id"], ["app_user.id"], ondelete="CASCADE",
                                    name=op.f(f"fk_{name}_user_id_app_user")),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
            sa.UniqueConstraint("token_hash", name=op.f(f"uq_{name}_token_hash")),
        )
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{name}_user_id"), ["user_id"], unique=False)
    op.create_table(
        "account_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "event IS NULL OR event IN (" + ", ".join(repr(e) for e in _EVENTS) + ")",
            name=op.f("ck_account_event_event"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_event")),
    )
    with op.batch_alter_table("account_event", schema=None) as batch_op:
        batch_op.create_index("ix_account_event_username_at", ["username", "at"], unique=False)
        batch_op.create_index("ix_account_event_address_at", ["address", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("account_event", schema=None) as batch_op:
        batch_op.drop_index("ix_account_event_address_at")
        batch_op.drop_index("ix_account_event_username_at")
    op.drop_table("account_event")
    for name in ("api_token", "web_session"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{name}_user_id"))
        op.drop_table(name)
    op.drop_table("user_credential")
