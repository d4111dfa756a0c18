"""notifications outbox, account links, email confirmation

Revision ID: 0008_notify
Revises: 0007_search
Create Date: 2026-11-24 00:54:36.546239
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008_notify'
down_revision: str | None = '0007_search'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('account_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('password_reset', 'confirm_email')", name=op.f('ck_account_links_purpose')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_links_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_account_links_token_hash'))
    )
    with op.batch_alter_table('account_links', schema=None) as batch_op:
        batch_op.create_index('ix_account_links_user_id', ['user_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('event_key', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=True),
    sa.Column('lang', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('safety', sa.Boolean(), nullable=False),
    sa.Column('secret', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("category IN ('reminder', 'alert', 'account')", name=op.f('ck_notifications_category')),
    sa.CheckConstraint("channel IN ('email', 'in_app', 'sms')", name=op.f('ck_notifications_channel')),
    sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name=op.f('ck_notifications_status')),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_notifications_recipient_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('recipient_id', 'kind', 'event_key', name='uq_notifications_recipient_kind_event')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_notifications_recipient_created', ['recipient_id', 'created_at'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_confirmed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reminders_enabled', sa.Boolean(), server_default=sa.true(), nullable=False))

    # Accounts that exist already were created by someone who knew the address: confirmed.
    users = sa.table('users', sa.column('email_confirmed_at', sa.DateTime(timezone=True)),
                     sa.column('created_at', sa.DateTime(timezone=True)))
    op.execute(users.update().values(email_confirmed_at=users.c.created_at))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('reminders_enabled')
        batch_op.drop_column('email_confirmed_at')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_recipient_created')
        batch_op.drop_index('ix_notifications_due')

    op.drop_table('notifications')
    with op.batch_alter_table('account_links', schema=None) as batch_op:
        batch_op.drop_index('ix_account_links_user_id')

    op.drop_table('account_links')
