"""integrity: a hospital number once per site, enforced by the database

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:50:00

The pseudonymisation key an older vertebro kept in ``registry_meta`` is moved out of the
database after this migration by :func:`vertebro.registry._keys.bind_new_store` (it needs the
settings, which a migration should not read).
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_patient_site_hospital_number", ["site_id", "hospital_number_hash"]
        )


def downgrade() -> None:
    with op.batch_alter_table("patient", schema=None) as batch_op:
        batch_op.drop_constraint("uq_patient_site_hospital_number", type_="unique")
