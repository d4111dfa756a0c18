"""EHR systems registered by program staff (CDS Hooks): keys, prescribers served, JWT ids used

Revision ID: 0011_ehr_systems
Revises: 0010_reminders
Create Date: 2026-11-24 04:20:00.000000
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_ehr_systems'
down_revision: str | None = '0010_reminders'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'ehr_systems',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.Column('client_id', sa.String(length=200), nullable=False),
        sa.Column('jwks', sa.JSON(), nullable=False),
        sa.Column('fhir_base_url', sa.String(length=500), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ehr_systems')),
        sa.UniqueConstraint('issuer', name=op.f('uq_ehr_systems_issuer')),
    )
    op.create_table(
        'ehr_system_prescribers',
        sa.Column('ehr_system_id', sa.Integer(), nullable=False),
        sa.Column('prescriber_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['ehr_system_id'], ['ehr_systems.id'], ondelete='CASCADE',
                                name=op.f('fk_ehr_system_prescribers_ehr_system_id_ehr_systems')),
        sa.ForeignKeyConstraint(['prescriber_id'], ['prescribers.id'],
                                name=op.f('fk_ehr_system_prescribers_prescriber_id_prescribers')),
        sa.PrimaryKeyConstraint('ehr_system_id', 'prescriber_id',
                                name=op.f('pk_ehr_system_prescribers')),
    )
    op.create_table(
        'ehr_token_uses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ehr_system_id', sa.Integer(), nullable=False),
        sa.Column('jti', sa.String(length=200), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ehr_system_id'], ['ehr_systems.id'], ondelete='CASCADE',
                                name=op.f('fk_ehr_token_uses_ehr_system_id_ehr_systems')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ehr_token_uses')),
        sa.UniqueConstraint('ehr_system_id', 'jti',
                            name=op.f('uq_ehr_token_uses_ehr_system_id_jti')),
    )
    with op.batch_alter_table('ehr_token_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ehr_token_uses_expires_at'), ['expires_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ehr_token_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ehr_token_uses_expires_at'))
    op.drop_table('ehr_token_uses')
    op.drop_table('ehr_system_prescribers')
    op.drop_table('ehr_systems')
