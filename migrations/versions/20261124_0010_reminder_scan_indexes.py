"""indexes for the daily reminder scan: candidates are picked by date columns

Revision ID: 0010_reminders
Revises: 0009_language
Create Date: 2026-11-24 01:10:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0010_reminders'
down_revision: str | None = '0009_language'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ('cycles', 'ix_cycles_closes_on', ['closes_on']),
    ('cycles', 'ix_cycles_opened_on', ['opened_on']),
    ('authorizations', 'ix_authorizations_status_do_not_dispense_after',
     ['status', 'do_not_dispense_after']),
    ('dispenses', 'ix_dispenses_dispensed_on', ['dispensed_on']),
    ('pregnancy_tests', 'ix_pregnancy_tests_specimen_collected_on', ['specimen_collected_on']),
    ('patients', 'ix_patients_contraception_start_on', ['contraception_start_on']),
    ('patients', 'ix_patients_last_dose_on', ['last_dose_on']),
]


def upgrade() -> None:
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
