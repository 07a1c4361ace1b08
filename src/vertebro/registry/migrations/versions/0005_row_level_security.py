"""row-level security by site on the clinical tables (PostgreSQL; nothing on SQLite)

Revision ID: 0005
Revises: 0004

A second line behind the service layer (issue 15.4): the service sets, per transaction, the
acting user's site (``vertebro.site``, a site id) or every site (``vertebro.all_sites = on``,
researchers and admins) with ``set_config(..., true)``; rows of another site are then invisible
to SELECT, UPDATE and DELETE and refused to INSERT, whatever the SQL. A transaction that sets
neither sees no clinical row (default deny). The policies bind the application role only: the
table owner (the migration role) and superusers bypass row-level security, so the owner runs
migrations, ``db verify`` may run as either, and ``pg_dump`` needs the owner.
``vertebro.registry.roles`` grants the application role its privileges.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ALL_SITES = "current_setting('vertebro.all_sites', true) = 'on'"
SITE = "nullif(current_setting('vertebro.site', true), '')::integer"
OWN_PATIENTS = f"SELECT pa.id FROM patient pa WHERE pa.site_id = {SITE}"
OWN_PROCEDURES = ("SELECT pr.id FROM procedure pr JOIN patient pa ON pa.id = pr.patient_id "
                  f"WHERE pa.site_id = {SITE}")

#: table -> the condition a row must meet to be seen or written (``IN (subquery)`` so that
#: PostgreSQL evaluates the site's rows once per statement, as a hashed subplan)
POLICIES = {
    "patient": f"{ALL_SITES} OR site_id = {SITE}",
    "assessment": f"{ALL_SITES} OR patient_id IN ({OWN_PATIENTS})",
    "procedure": f"{ALL_SITES} OR patient_id IN ({OWN_PATIENTS})",
    "procedure_level": f"{ALL_SITES} OR procedure_id IN ({OWN_PROCEDURES})",
    "complication": f"{ALL_SITES} OR procedure_id IN ({OWN_PROCEDURES})",
    "follow_up": f"{ALL_SITES} OR procedure_id IN ({OWN_PROCEDURES})",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, condition in POLICIES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {table}_by_site ON {table} FOR ALL "
                   f"USING ({condition}) WITH CHECK ({condition})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS {table}_by_site ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
