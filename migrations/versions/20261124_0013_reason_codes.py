"""denial reasons by code, and indexes: the summary report counts from indexes alone

A row per reason of every denied authorization decision (``denial_reasons``), with the
decision's ``requested_at``: denials by reason over a period become an index-only range scan
on ``(requested_at, code)``. The database fills the table: a trigger on
``authorization_decisions`` inserts the rows of a denied decision in the statement that
stores it (same transaction, whatever code path writes the decision). Existing decisions are
backfilled here.

Two indexes let the report's other counts skip the tables' rows: the decisions' time
index gains ``eligible`` (approvals and denials of a period), and patients get
``(status, registered_on)`` (active and enrolled patients).

SQLite keeps a table's triggers only while the table is not rebuilt: a later migration that
rebuilds ``authorization_decisions`` (``batch_alter_table`` with a change SQLite cannot make
in place) must create ``authorization_decisions_denial_reasons`` again (tests/test_reports.py
counts denials by reason and would fail).

Revision ID: 0013_reason_codes
Revises: 0012_pharmacy_systems
Create Date: 2026-11-24 04:10:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_reason_codes'
down_revision: str | None = '0012_pharmacy_systems'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRES_FUNCTION = """
CREATE FUNCTION authorization_decisions_denial_reasons() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO denial_reasons (decision_id, requested_at, code)
    SELECT NEW.id, NEW.requested_at, reason ->> 'code'
    FROM json_array_elements(NEW.reasons) AS reason;
    RETURN NULL;
END
$$
"""
POSTGRES_TRIGGER = (
    "CREATE TRIGGER authorization_decisions_denial_reasons AFTER INSERT "
    "ON authorization_decisions FOR EACH ROW WHEN (NOT NEW.eligible) "
    "EXECUTE FUNCTION authorization_decisions_denial_reasons()"
)
SQLITE_TRIGGER = """CREATE TRIGGER authorization_decisions_denial_reasons
AFTER INSERT ON authorization_decisions WHEN NOT NEW.eligible
BEGIN
    INSERT INTO denial_reasons (decision_id, requested_at, code)
    SELECT NEW.id, NEW.requested_at, json_extract(reason.value, '$.code')
    FROM json_each(NEW.reasons) AS reason;
END"""

POSTGRES_BACKFILL = """
INSERT INTO denial_reasons (decision_id, requested_at, code)
SELECT d.id, d.requested_at, reason ->> 'code'
FROM authorization_decisions AS d, json_array_elements(d.reasons) AS reason
WHERE NOT d.eligible ORDER BY d.id
"""
SQLITE_BACKFILL = """
INSERT INTO denial_reasons (decision_id, requested_at, code)
SELECT d.id, d.requested_at, json_extract(reason.value, '$.code')
FROM authorization_decisions AS d, json_each(d.reasons) AS reason
WHERE NOT d.eligible ORDER BY d.id
"""


def upgrade() -> None:
    op.create_table(
        'denial_reasons',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('decision_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['decision_id'], ['authorization_decisions.id'],
                                name=op.f('fk_denial_reasons_decision_id_authorization_decisions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_denial_reasons')),
    )
    # The trigger first, then the backfill: on PostgreSQL creating the trigger locks out
    # writers of authorization_decisions until this migration commits, so no decision falls
    # between the two (SQLite: one write transaction anyway).
    if op.get_context().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
        op.execute(POSTGRES_BACKFILL)
    else:
        op.execute(SQLITE_TRIGGER)
        op.execute(SQLITE_BACKFILL)
    # The index after the backfill: one sort rather than an index kept up row by row.
    with op.batch_alter_table('denial_reasons', schema=None) as batch_op:
        batch_op.create_index('ix_denial_reasons_requested_at_code', ['requested_at', 'code'],
                              unique=False)
    with op.batch_alter_table('authorization_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_authorization_decisions_requested_at_eligible',
                              ['requested_at', 'eligible'], unique=False)
        batch_op.drop_index('ix_authorization_decisions_requested_at')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_status_registered_on', ['status', 'registered_on'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_status_registered_on')
    with op.batch_alter_table('authorization_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_authorization_decisions_requested_at', ['requested_at'],
                              unique=False)
        batch_op.drop_index('ix_authorization_decisions_requested_at_eligible')
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS authorization_decisions_denial_reasons "
                   "ON authorization_decisions")
        op.execute("DROP FUNCTION IF EXISTS authorization_decisions_denial_reasons()")
    else:
        op.execute("DROP TRIGGER IF EXISTS authorization_decisions_denial_reasons")
    with op.batch_alter_table('denial_reasons', schema=None) as batch_op:
        batch_op.drop_index('ix_denial_reasons_requested_at_code')
    op.drop_table('denial_reasons')
