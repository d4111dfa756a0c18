"""the language each user reads the registry in; the question bank in more than one language

Revision ID: 0009_language
Revises: 0008_notify
Create Date: 2026-11-24 01:20:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009_language'
down_revision: str | None = '0008_notify'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch_op.create_check_constraint('language', "language IN ('en', 'es')")
    with op.batch_alter_table('comprehension_questions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('translations', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('comprehension_questions', schema=None) as batch_op:
        batch_op.drop_column('translations')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_language'), type_='check')
        batch_op.drop_column('language')
