"""one vocabulary: CHECK constraints on the rule set, reporter role, pregnancy outcome and
risk category change columns (the other vocabulary columns had theirs already)

Revision ID: 0006_vocabulary
Revises: 0005_signin
Create Date: 2026-11-24 01:20:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0006_vocabulary'
down_revision: str | None = '0005_signin'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The values as they stand in registry/rules/vocabulary.py on the day of this migration:
# a migration does not follow later changes of the code.
RULE_SETS = ('2021', '2026')
ROLES = ('prescriber', 'designee', 'pharmacist', 'patient', 'staff')
OUTCOMES = ('ongoing', 'live_birth', 'miscarriage', 'termination', 'not_pregnant',
            'lost_to_follow_up')
RISK_CATEGORIES = ('can_get_pregnant', 'cannot_get_pregnant')

# table -> (constraint name, column, allowed values); the name becomes ck_<table>_<name>
CHECKS: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    'cycles': [('ruleset', 'ruleset', RULE_SETS)],
    'authorizations': [('ruleset', 'ruleset', RULE_SETS)],
    'authorization_decisions': [('ruleset', 'ruleset', RULE_SETS)],
    'pregnancy_reports': [('reporter_role', 'reporter_role', ROLES),
                          ('outcome', 'outcome', OUTCOMES)],
    'risk_category_changes': [('from_category', 'from_category', RISK_CATEGORIES),
                              ('to_category', 'to_category', RISK_CATEGORIES)],
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, column, values in checks:
                batch_op.create_check_constraint(op.f(f'ck_{table}_{name}'), _in(column, values))


def downgrade() -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _column, _values in checks:
                batch_op.drop_constraint(op.f(f'ck_{table}_{name}'), type_='check')
