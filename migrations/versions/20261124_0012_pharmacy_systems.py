"""pharmacy systems: a pharmacy's software, acting for its pharmacists at the NCPDP door

Revision ID: 0012_pharmacy_systems
Revises: 0011_ehr_systems
Create Date: 2026-11-24 04:10:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012_pharmacy_systems'
down_revision: str | None = '0011_ehr_systems'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pharmacy_systems',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('pharmacy_id', sa.Integer(), nullable=False),
    sa.Column('credential_hash', sa.String(length=64), nullable=False),
    sa.Column('credential_issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('deactivated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['pharmacy_id'], ['pharmacies.id'], name=op.f('fk_pharmacy_systems_pharmacy_id_pharmacies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pharmacy_systems')),
    sa.UniqueConstraint('credential_hash', name=op.f('uq_pharmacy_systems_credential_hash'))
    )
    with op.batch_alter_table('pharmacy_systems', schema=None) as batch_op:
        batch_op.create_index('ix_pharmacy_systems_pharmacy_id', ['pharmacy_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pharmacy_systems', schema=None) as batch_op:
        batch_op.drop_index('ix_pharmacy_systems_pharmacy_id')
    op.drop_table('pharmacy_systems')
