"""staff search: patients by email; trigram indexes (pg_trgm) for names and emails

Revision ID: 0007_search
Revises: 0006_vocabulary
Create Date: 2026-11-24 01:30:00.000000

Users are searched through the prescriber, designee and pharmacist rows they belong to
(a few thousand, each joined by key), so they need no trigram index of their own; patients
(a million) and pharmacies do. The trigram indexes are PostgreSQL's (GIN, pg_trgm, a
trusted extension: the database's owner may create it). SQLite gets only the plain index
on patients.email.
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0007_search'
down_revision: str | None = '0006_vocabulary'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FULL_NAME = "lower((first_name || ' ') || last_name)"
TRIGRAM_INDEXES = (
    ("ix_patients_name_trgm", "patients", FULL_NAME),
    ("ix_patients_email_trgm", "patients", "lower(email)"),
    ("ix_pharmacies_name_trgm", "pharmacies", "lower(name)"),
)


def upgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_email', ['email'], unique=False)
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, expression in TRIGRAM_INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} USING gin ({expression} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for name, _, _ in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_email')
